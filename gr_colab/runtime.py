"""Where the kit runs, and what a stage cost: Colab detection, Drive paths, measured time and peak memory.

Lowest layer beside the formats (standard library only at import): the stages ask it whether they run on Colab
(to install llama.cpp there, to keep big intermediates off Drive), and the pipeline measures every stage with it.
"""
from __future__ import annotations

import os
import sys
import threading
import time
from typing import Optional

DRIVE_ROOT = "/content/drive"  # where Colab mounts Google Drive
DRIVE_RUNS = DRIVE_ROOT + "/MyDrive/gr-colab"  # the default run folders on Colab: they survive a disconnect
LOCAL_RUNS = "/content/runs"  # Colab's local disk: a disconnect erases it
SCRATCH = "/content/gr-colab-scratch"  # Colab's local disk, for big intermediates that need not survive


def in_colab() -> bool:
    return "google.colab" in sys.modules


def on_drive(path) -> bool:
    return str(path).startswith(DRIVE_ROOT)


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


# --- the Hugging Face token --------------------------------------------------------------------------------------
def hub_token() -> Optional[str]:
    """The Hub token, from ``huggingface_hub.get_token``: ``HF_TOKEN``, the file ``hf auth login`` writes, then
    Colab's ``HF_TOKEN`` secret (huggingface_hub recognises Colab by its IPython shell). The library's lookup, so
    the kit has no second one to drift from it. Hand it to ``huggingface_hub`` only: never print, log or write it."""
    from huggingface_hub import get_token

    return get_token()
