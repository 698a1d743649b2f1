"""Where the kit runs and how it writes: the repository's paths, Colab detection, Drive paths, files written whole
or not at all (text, JSON, JSONL, folders built once), and what a stage cost (time, peak memory).

Lowest layer beside the formats (standard library only at import): every stage writes through it, so a kill or a
Colab disconnect never leaves half a file where a reader would take it for a whole one.
"""
from __future__ import annotations

import json
import os
import shutil
import sys
import tempfile
import threading
import time
from contextlib import contextmanager
from pathlib import Path
from typing import Any, Callable, Iterable, Iterator, Optional, Union

REPO_ROOT = Path(__file__).resolve().parent.parent  # the kit's checkout: requirements.txt, scripts/, sample_data/
SAMPLE_DATA = REPO_ROOT / "sample_data"

# Colab's local disk, gone with the runtime. ``GR_COLAB_CONTENT`` moves it (and so every path below) for the tests'
# stand-in Colab world (tests/colab_world.py); on Colab it is never set.
CONTENT = os.environ.get("GR_COLAB_CONTENT") or "/content"
DRIVE_ROOT = CONTENT + "/drive"  # where Colab mounts Google Drive
DRIVE_RUNS = DRIVE_ROOT + "/MyDrive/gr-colab"  # the default run folders on Colab: they survive a disconnect
LOCAL_RUNS = CONTENT + "/runs"  # Colab's local disk: a disconnect erases it
SCRATCH = CONTENT + "/gr-colab-scratch"  # Colab's local disk, for big intermediates that need not survive


def in_colab() -> bool:
    return "google.colab" in sys.modules


def on_drive(path) -> bool:
    return str(path).startswith(DRIVE_ROOT)


# --- files written whole or not at all ---------------------------------------------------------------------------
@contextmanager
def atomic_path(path: Union[str, Path]) -> Iterator[Path]:
    """A temporary name beside ``path`` to write to; it becomes ``path`` only if the block ends without an error."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.partial")
    try:
        yield tmp
        os.replace(tmp, path)
    finally:
        if tmp.exists():
            tmp.unlink()


def atomic_write_text(path: Union[str, Path], text: str) -> Path:
    with atomic_path(path) as tmp:
        tmp.write_text(text, encoding="utf-8")
    return Path(path)


def atomic_write_json(path: Union[str, Path], data: Any) -> Path:
    return atomic_write_text(path, json.dumps(data, indent=2, ensure_ascii=False, default=str))


def write_jsonl(path: Union[str, Path], rows: Iterable[dict]) -> Path:
    """All rows at once, so a reader never sees half a file."""
    return atomic_write_text(path, "".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows))


def read_jsonl(path: Union[str, Path]) -> list:
    """Rows of a JSONL file the kit wrote ([] when absent). A last line cut off by a kill mid-append is reported and
    left out, with everything before it kept, so the stage that wrote it redoes only that row."""
    path = Path(path)
    if not path.exists():
        return []
    rows = []
    for i, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
        if line.strip():
            try:
                rows.append(json.loads(line))
            except json.JSONDecodeError:
                print(f"{path}: line {i} is incomplete (cut off mid-write); the rows before it are kept")
                break
    return rows


def build_once(final: Union[str, Path], build: Callable[[Path], None], marker: str) -> Path:
    """``final``, built by ``build(tmp)`` into a temporary folder beside it and renamed into place; ``build`` writes
    ``marker`` last. A folder with its marker is reused; one without was cut off and is rebuilt. Safe when two
    processes build the same folder at once (the loser's copy is discarded)."""
    final = Path(final)
    if (final / marker).is_file():
        return final
    final.parent.mkdir(parents=True, exist_ok=True)
    for stale in final.parent.glob(f".{final.name}.*.tmp"):  # left by a killed build: removed after an hour
        if time.time() - stale.stat().st_mtime > 3600:
            shutil.rmtree(stale, ignore_errors=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{final.name}.", suffix=".tmp", dir=final.parent))
    try:
        build(tmp)
        replace_dir(tmp, final, marker)
    finally:
        if tmp.exists():
            shutil.rmtree(tmp, ignore_errors=True)
    return final


def replace_dir(tmp: Union[str, Path], final: Union[str, Path], marker: Optional[str] = None) -> Path:
    """Move a finished folder into place, replacing an older one; with ``marker``, a complete folder that appeared
    meanwhile (another process) is kept and ``tmp`` left for the caller to remove."""
    tmp, final = Path(tmp), Path(final)
    if final.exists() and not (marker and (final / marker).is_file()):
        shutil.rmtree(final)
    try:
        os.rename(tmp, final)
    except OSError:
        if not (marker and (final / marker).is_file()):
            raise
    return final


# --- what a stage cost ---------------------------------------------------------------------------------------------
def _rss_bytes() -> Optional[int]:
    try:
        with open("/proc/self/statm") as f:
            return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")
    except (OSError, ValueError, IndexError):
        return None


class Measure:
    """Wall time and peak memory of a block: the GPU's peak allocation on CUDA (torch's own counter, reset at the
    start), else the process's peak resident memory sampled every 0.2 s (``/proc``; no psutil needed)."""

    def __init__(self, interval: float = 0.2):
        self.interval, self.seconds, self.peak_gb, self.device = interval, 0.0, None, "cpu"
        self._stop = threading.Event()
        self._peak_rss = 0

    def __enter__(self) -> "Measure":
        self._start = time.time()
        torch = sys.modules.get("torch")
        if torch is not None and torch.cuda.is_available():
            self.device = "cuda"
            torch.cuda.reset_peak_memory_stats()
        else:
            self._peak_rss = _rss_bytes() or 0
            self._thread = threading.Thread(target=self._sample, daemon=True)
            self._thread.start()
        return self

    def _sample(self) -> None:
        while not self._stop.wait(self.interval):
            self._peak_rss = max(self._peak_rss, _rss_bytes() or 0)

    def __exit__(self, *exc) -> None:
        self.seconds = time.time() - self._start
        if self.device == "cuda":
            self.peak_gb = sys.modules["torch"].cuda.max_memory_allocated() / 1e9
        else:
            self._stop.set()
            self._thread.join()
            self._peak_rss = max(self._peak_rss, _rss_bytes() or 0)
            self.peak_gb = self._peak_rss / 1e9 if self._peak_rss else None

    def as_dict(self) -> dict:
        what = "GPU peak allocated" if self.device == "cuda" else "process peak RSS"
        return {"seconds": round(self.seconds, 1), "peak_gb": None if self.peak_gb is None else round(self.peak_gb, 2),
                "memory": what}

    def describe(self) -> str:
        d = self.as_dict()
        mem = f", {d['memory']} {d['peak_gb']:.2f} GB" if d["peak_gb"] is not None else ""
        return f"measured: {d['seconds'] / 60:.1f} min{mem}"


# --- secrets ------------------------------------------------------------------------------------------------------
def secret(name: str) -> Optional[str]:
    """A secret (an API key): the environment variable ``name``, else Colab's secret of that name; None when
    neither (or the notebook was not granted access). Never print, log or write what it returns."""
    value = os.environ.get(name)
    if value:
        return value
    if in_colab():
        try:
            from google.colab import userdata  # type: ignore

            return userdata.get(name) or None
        except Exception:  # secret missing, or notebook access not granted
            return None
    return None


# --- the Hugging Face token --------------------------------------------------------------------------------------
def hub_token() -> Optional[str]:
    """The Hub token, from ``huggingface_hub.get_token``: ``HF_TOKEN``, the file ``hf auth login`` writes, then
    Colab's ``HF_TOKEN`` secret (huggingface_hub recognises Colab by its IPython shell). The library's lookup, so
    the kit has no second one to drift from it. Hand it to ``huggingface_hub`` only: never print, log or write it."""
    from huggingface_hub import get_token

    return get_token()
