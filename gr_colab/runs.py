"""A run folder's layout, and the one way the kit marks a piece of work complete.

Lowest layer (paths only, no torch): the pipeline, the report, the chapters and the notebooks ask
:class:`RunLayout` where a stage's files are instead of joining path pieces by hand, so a folder is renamed in one
place. Whatever can be cut off by a kill or a disconnect (a stage, a checkpoint, an adapter, a cached model build)
is complete only when :func:`mark_complete` has written its marker, last, atomically; a folder without it is
redone, never trusted.

    run/
      config.yaml
      prepare/   train.jsonl holdout.jsonl                      complete.json
      rsft/      checkpoints/checkpoint-N/  adapter/  curves.*  complete.json
      eval/      <variant>/<benchmark>/generated_predictions.jsonl  <variant>/report.{json,md}  complete.json
      mine/      samples/generated_predictions.jsonl  pairs.jsonl  complete.json
      hsdpo/     checkpoints/  adapter/  curves.*               complete.json
      export/    merged/  gguf/{*.gguf,Modelfile}  README.md     complete.json
      redteam/ modpo/ synthesis/                               (the chapters, same rules)
      report.md report.html
"""
from __future__ import annotations

import hashlib
import json
import time
from pathlib import Path
from typing import Optional, Union

from .dist import is_main
from .runtime import atomic_write_json
from .stages import GUARD_STAGES

MARKER = "complete.json"
LEGACY_MARKERS = ("stage.json", "gr_colab_complete.json")  # earlier kit versions': their runs still resume


def mark_complete(folder: Union[str, Path], info: Optional[dict] = None) -> dict:
    """Write ``folder``'s marker (with ``info`` and the time), after everything else in it. Under a launcher only
    the main process writes it (:mod:`gr_colab.dist`); every process gets the same ``info`` back."""
    info = {**(info or {}), "finished": time.strftime("%Y-%m-%d %H:%M:%S")}
    if is_main():
        atomic_write_json(Path(folder) / MARKER, info)
    return info


def _marker_path(folder: Union[str, Path]) -> Optional[Path]:
    for name in (MARKER, *LEGACY_MARKERS):
        if (Path(folder) / name).is_file():
            return Path(folder) / name
    return None


def is_complete(folder: Union[str, Path]) -> bool:
    return _marker_path(folder) is not None


def read_marker(folder: Union[str, Path]) -> dict:
    """What :func:`mark_complete` recorded ({} when the folder is not complete)."""
    path = _marker_path(folder)
    return json.loads(path.read_text()) if path else {}


def fingerprint(folder: Union[str, Path]) -> Optional[str]:
    """A short hash of ``folder``'s marker (None when not complete): a stage records its inputs' fingerprints, so
    an input redone since (a new marker, a new time) shows as a different one."""
    path = _marker_path(folder)
    return hashlib.sha1(path.read_bytes()).hexdigest()[:12] if path else None


class RunLayout:
    """Where everything of one run lives (``config.layout``)."""

    def __init__(self, root: Union[str, Path]):
        self.root = Path(root)

    def __repr__(self) -> str:
        return f"RunLayout({str(self.root)!r})"

    def stage(self, name: str) -> Path:
        return self.root / name

    def adapter(self, stage: str) -> Path:
        return self.root / stage / "adapter"

    def has_adapter(self, stage: str) -> bool:
        return is_complete(self.adapter(stage))

    @property
    def config_yaml(self) -> Path:
        return self.root / "config.yaml"

    @property
    def train_rows(self) -> Path:
        return self.root / "prepare" / "train.jsonl"

    @property
    def holdout_rows(self) -> Path:
        return self.root / "prepare" / "holdout.jsonl"

    def eval_dir(self, variant: str) -> Path:
        return self.root / "eval" / variant

    def eval_report(self, variant: str, ext: str = "json") -> Path:
        return self.eval_dir(variant) / f"report.{ext}"

    @property
    def samples(self) -> Path:
        return self.root / "mine" / "samples" / "generated_predictions.jsonl"

    @property
    def pairs(self) -> Path:
        return self.root / "mine" / "pairs.jsonl"

    @property
    def export(self) -> Path:
        return self.root / "export"

    @property
    def gguf(self) -> Path:
        return self.export / "gguf"

    @property
    def modelfile(self) -> Path:
        return self.gguf / "Modelfile"

    def curves(self, stage: str) -> Path:
        return self.root / stage / "curves.png"

    def report(self, ext: str = "md") -> Path:
        return self.root / f"report.{ext}"

    def variants(self) -> dict:
        """The model variants there are to evaluate: ``base`` (no adapter) and every trained guard stage."""
        found = {"base": None}
        for stage in reversed(GUARD_STAGES):
            if self.has_adapter(stage):
                found[stage] = self.adapter(stage)
        return found

    def guard_adapter(self, override: Optional[str] = None, field: str = "") -> Path:
        """The guard a later step uses: ``override`` (a config field naming an adapter), else this run's HS-DPO
        adapter, else its R-SFT adapter."""
        if override:
            path = Path(override)
            if not path.exists():
                raise FileNotFoundError(f"{field or 'adapter'}: {path} does not exist")
            return path
        for stage in GUARD_STAGES:
            if self.has_adapter(stage):
                return self.adapter(stage)
        hint = f" or set {field}" if field else ""
        raise FileNotFoundError(f"no trained guard in {self.root}: run the R-SFT stage first (gr-colab rsft, or "
                                f"notebook 03){hint}")
