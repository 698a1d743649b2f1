"""Progress for work that takes minutes: a heartbeat line every ~30 s, a subprocess whose output is condensed into
such lines (with the [n/N] steps a build prints), and an ETA line from a stage's first measured items.

Lowest layer, standard library only: ``gr_colab/llamacpp_build.py`` imports it when it is run as a plain file by
``scripts/install_llamacpp.sh`` (without importing the ``gr_colab`` package, whose import loads Unsloth on Colab).
Why by hand: tqdm draws bars for loops the kit owns; these lines are for work it does not own (a compile, a
converter, an install script) and must read well in a plain log, where a bar redraws as noise.
"""
from __future__ import annotations

import re
import subprocess
import sys
import threading
import time
from contextlib import contextmanager
from pathlib import Path
from typing import Callable, Iterator, Optional

EVERY = 30.0  # seconds between heartbeat lines
STEP = re.compile(r"\[(\d+)/(\d+)\]")  # ninja's (and CMake's) "[12/163] Building CXX object ..."


def clock(seconds: float) -> str:
    """``95`` → ``1m35s``; ``3700`` → ``1h01m``."""
    seconds = max(0, int(round(seconds)))
    if seconds >= 3600:
        return f"{seconds // 3600}h{seconds % 3600 // 60:02d}m"
    return f"{seconds // 60}m{seconds % 60:02d}s" if seconds >= 60 else f"{seconds}s"


def _say(line: str, out=None) -> None:
    print(line, file=out or sys.stdout, flush=True)


@contextmanager
def heartbeat(label: str, every: float = EVERY, out=None, note: Optional[Callable[[], str]] = None
              ) -> Iterator[None]:
    """While the block runs, print ``label: 1m30s elapsed`` every ``every`` seconds (``note()`` adds to the line),
    then one line with the total; a step that prints nothing for minutes still shows it is alive."""
    start, stop = time.monotonic(), threading.Event()

    def beat():
        while not stop.wait(every):
            extra = note() if note else ""
            _say(f"   {label}: {clock(time.monotonic() - start)} elapsed{extra}", out)

    thread = threading.Thread(target=beat, daemon=True)
    thread.start()
    ok = False
    try:
        yield
        ok = True
    finally:
        stop.set()
        thread.join()
        _say(f"   {label}: {'done' if ok else 'stopped'} after {clock(time.monotonic() - start)}", out)


def run_with_progress(cmd: list, label: str, *, env: Optional[dict] = None, cwd: Optional[str] = None,
                      log: Optional[Path] = None, every: float = EVERY, out=None,
                      timeout: Optional[float] = None) -> tuple[int, str]:
    """Run ``cmd``, keep its whole output in ``log`` (and return it), and print a heartbeat every ``every`` seconds
    with the elapsed time, the last [n/N] step seen and an ETA from the steps' pace. Returns (exit code, output)."""
    lines: list[str] = []
    state = {"step": None, "start": time.monotonic()}

    def note() -> str:
        if state["step"] is None:
            return f"; last output: {lines[-1][:100]}" if lines else ""
        done, total = state["step"]
        spent = time.monotonic() - state["start"]
        eta = f", about {clock(spent / done * (total - done))} to go" if done else ""
        return f", step {done}/{total}{eta}"

    handle = open(log, "w", encoding="utf-8") if log else None
    try:
        with heartbeat(label, every, out, note):
            proc = subprocess.Popen(cmd, env=env, cwd=cwd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                                    text=True, errors="replace")
            fired = threading.Event()
            killer = threading.Timer(timeout, lambda: (fired.set(), proc.kill())) if timeout else None
            if killer:
                killer.start()
            for line in proc.stdout:
                line = line.rstrip()
                lines.append(line)
                if handle:
                    handle.write(line + "\n")
                match = STEP.search(line)
                if match:
                    state["step"] = (int(match.group(1)), int(match.group(2)))
            code = proc.wait()
            if killer:
                killer.cancel()
                if fired.is_set():
                    raise TimeoutError(f"{label}: did not finish in {timeout} s")
    finally:
        if handle:
            handle.close()
    return code, "\n".join(lines)


class Eta:
    """Items of a long stage: after the first ``after`` measured items, one line with the pace and the time left
    (then one more each ``every`` seconds, at most): the plan checked against the machine it runs on."""

    def __init__(self, label: str, total: int, after: int = 1, every: float = 300.0, out=None):
        self.label, self.total, self.after, self.every, self.out = label, total, max(1, after), every, out
        self.done, self.start, self.last = 0, time.monotonic(), None

    def update(self, n: int) -> Optional[str]:
        """Count ``n`` more items; returns the line printed, if one was."""
        self.done += n
        now = time.monotonic()
        due = self.last is None and self.done >= self.after or self.last is not None and now - self.last >= self.every
        if not due or self.done >= self.total:
            return None
        self.last = now
        spent = now - self.start
        line = (f"   {self.label}: {self.done}/{self.total} in {clock(spent)} "
                f"({spent / self.done:.2f} s an item): about {clock(spent / self.done * (self.total - self.done))} "
                "to go")
        _say(line, self.out)
        return line
