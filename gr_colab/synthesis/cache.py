"""The response cache: every teacher answer on disk the moment it arrives, so a rerun asks only for what is missing.

Its own module because both the cost estimate (what is not cached yet) and the run (what to request) read it, and
its crash safety (fsync per line, a torn last line cut off) is worth reading on its own.
"""
from __future__ import annotations

import hashlib
import json
import os
import threading
from pathlib import Path
from typing import Optional, Union


def cache_key(model: str, messages: list, temperature: float) -> str:
    """The hash a response is cached under: the model, the exact messages and the temperature; nothing else."""
    blob = json.dumps({"model": model, "messages": messages, "temperature": float(temperature)},
                      sort_keys=True, ensure_ascii=False)
    return hashlib.sha256(blob.encode("utf-8")).hexdigest()


class ResponseCache:
    """Append-only JSONL of teacher responses, one line per request that came back.

    Each line is written, flushed and fsync'ed before the next; on opening, a torn last line (a kill mid-write)
    is cut off, so its item is asked again; any other line that is not JSON is ignored and counted.
    """

    def __init__(self, path: Union[str, Path]):
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._lock = threading.Lock()
        self._records: dict = {}
        self.ignored_lines = 0
        self.torn_tail = False
        self._load()

    def _load(self) -> None:
        if not self.path.exists():
            self.path.touch()
            return
        data = self.path.read_bytes()
        end = data.rfind(b"\n") + 1
        if end < len(data):  # bytes after the last newline: a line cut off by a kill
            self.torn_tail = True
            with self.path.open("r+b") as f:
                f.truncate(end)
                f.flush()
                os.fsync(f.fileno())
        for line in data[:end].splitlines():
            if not line.strip():
                continue
            try:
                record = json.loads(line)
                self._records[record["key"]] = record
            except (ValueError, KeyError, TypeError):
                self.ignored_lines += 1

    def get(self, key: str) -> Optional[dict]:
        return self._records.get(key)

    def __contains__(self, key: str) -> bool:
        return key in self._records

    def __len__(self) -> int:
        return len(self._records)

    def put(self, key: str, record: dict) -> None:
        record = {"key": key, **record}
        line = (json.dumps(record, ensure_ascii=False) + "\n").encode("utf-8")
        with self._lock:
            with self.path.open("ab") as f:
                f.write(line)
                f.flush()
                os.fsync(f.fileno())
            self._records[key] = record

    def describe(self) -> str:
        notes = [f"{len(self)} responses in {self.path}"]
        if self.torn_tail:
            notes.append("a torn last line was dropped (it will be requested again)")
        if self.ignored_lines:
            notes.append(f"{self.ignored_lines} unreadable lines ignored")
        return "; ".join(notes)
