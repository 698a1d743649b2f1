"""The whole course in order (``stages.RUN_ORDER``), and the one rule for when a stage runs.

Face. A stage runs when its marker is missing, when ``force`` is given, or when it is stale: a config field it
depends on changed, or a stage it read was redone, since its marker was written (the marker records both). A stale
or forced stage first clears what it would otherwise resume from (mining's samples, evaluation's predictions,
training checkpoints) and says so; its dependants are then stale in turn. A stage whose inputs are missing runs them
first, as make would. Each stage writes its marker once, at its end; a Colab disconnect costs only the stage that was
running (and R-SFT, HS-DPO and generation resume inside a stage too). The notebooks, the command line and the tests
call these same functions.
"""
from __future__ import annotations

import json
import shutil
from pathlib import Path
from typing import Callable, Optional

from tqdm.auto import tqdm

from . import dist
from .config import GRConfig
from .report import write_report
from .runs import MARKER, fingerprint, is_complete, mark_complete, read_marker
from .runtime import Measure, atomic_write_json
from .stages import NAMES, RUN_ORDER, dependants, get, inputs

STAGES = NAMES  # the registry's names, in order (gr_colab.stages)
STARTED = "started.json"  # what a stage that has begun was run with: partial files from other settings are cleared


def stage_complete(config: GRConfig, stage: str) -> bool:
    """Whether ``stage``'s folder carries its marker (:func:`gr_colab.runs.is_complete` of the folder)."""
    return is_complete(config.layout.stage(stage))


def read_summary(config: GRConfig, stage: str) -> dict:
    return read_marker(config.layout.stage(stage))


def _plain(value):
    return json.loads(json.dumps(value, default=str))  # as the marker stores it (a tuple reads back as a list)


def record(config: GRConfig, stage: str) -> dict:
    """What ``stage``'s result depends on now: its fields' values and the fingerprints of its inputs' markers."""
    layout = config.layout
    found = {n: fingerprint(layout.stage(n)) for n in inputs(stage)}
    return {"fields": {f: _plain(getattr(config, f)) for f in get(stage).fields},
            "inputs": {n: fp for n, fp in found.items() if fp}}


def _changes(then: dict, now: dict) -> tuple[list, list]:
    """(field changes, input changes) between two records, each as a sentence."""
    fields = [f"{f} changed from {then['fields'][f]!r} to {v!r}" for f, v in now["fields"].items()
              if f in then.get("fields", {}) and then["fields"][f] != v]
    old = then.get("inputs", {})
    ins = [f"{n} was redone" if n in old else f"{n} is new" for n, fp in now["inputs"].items() if old.get(n) != fp]
    ins += [f"{n} is gone" for n in old if n not in now["inputs"]]
    return fields, ins


def why_stale(config: GRConfig, stage: str) -> list:
    """Why a complete stage must run again ([]: it is up to date). A marker from an earlier kit, which recorded no
    fields, is trusted as it was."""
    marker = read_summary(config, stage)
    if not marker or "fields" not in marker:
        return []
    fields, ins = _changes(marker, record(config, stage))
    return fields + ins


def clear(config: GRConfig, stage: str) -> list:
    """Delete what ``stage`` resumes from (and its marker); returns what was there."""
    root = config.layout.root
    gone = [root / p for p in get(stage).resumable if (root / p).exists()]
    gone += [p for p in (config.layout.stage(stage) / MARKER,) if p.exists()]
    if dist.is_main():
        for path in gone:
            shutil.rmtree(path) if path.is_dir() else path.unlink()
    dist.wait_for_everyone()
    return gone


def _bring_inputs(config: GRConfig, stage: str) -> None:
    """Run first what ``stage`` needs and is missing or stale, saying so."""
    for need in get(stage).needs:
        if not stage_complete(config, need):
            print(f"{stage} needs {need}: running {need} first")
            run_stage(config, need)
        elif why_stale(config, need):
            print(f"{stage} needs {need}, which is out of date: running {need} first")
            run_stage(config, need)


def _prepare_run(config: GRConfig, stage: str, force: bool) -> None:
    """Before a stage runs: clear the resumable files that another config, another input or ``--force`` made
    worthless, and say why; then record what it runs with."""
    folder = config.layout.stage(stage)
    now = record(config, stage)
    marker, started = read_summary(config, stage), folder / STARTED
    then = marker if "fields" in marker else (json.loads(started.read_text()) if started.exists() else None)
    fields, ins = _changes(then, now) if then else ([], [])
    if force:
        why = "--force"
    elif fields or (ins and stage != "eval"):  # evaluation rescores only the variants whose adapter changed
        why = "; ".join(fields + ins)
    else:
        why = ""
    if why:
        gone = clear(config, stage)
        cleared = ", ".join(str(p.relative_to(config.layout.root)) for p in gone) or "nothing to clear"
        print(f"== {stage}: {why}: running it again (cleared {cleared})")
    elif marker and ins:
        print(f"== {stage}: {'; '.join(ins)} since it ran: running it again")
    if dist.is_main():
        atomic_write_json(started, now)


def run_stage(config: GRConfig, stage: str, force: bool = False, **kwargs) -> dict:
    """Run ``stage`` unless it is complete and up to date; returns its summary (its marker)."""
    spec = get(stage)
    _bring_inputs(config, stage)
    folder = config.layout.stage(stage)
    if stage_complete(config, stage) and not force and not why_stale(config, stage):
        if dist.is_main():
            print(f"== {stage}: already complete, skipped ({folder / MARKER})")
        return read_summary(config, stage)
    if not spec.every_process and not dist.is_main():  # one process prepares, generates and exports
        dist.wait_for_everyone()  # (vLLM spreads one engine over the GPUs itself: tensor_parallel_size)
        return read_summary(config, stage)
    was_complete = stage_complete(config, stage)
    _prepare_run(config, stage, force)
    print(f"== {stage}" + (f" ({dist.describe()})" if dist.world_size() > 1 else ""))
    with Measure() as measured:
        summary = spec.function()(config, **kwargs)
    print(f"== {stage}: {measured.describe()}")
    done = mark_complete(folder, {"stage": stage, **summary, **record(config, stage),
                                  "measured": measured.as_dict()})
    if was_complete:
        stale = [d for d in dependants(stage) if stage_complete(config, d)]
        if stale and dist.is_main():
            print(f"== {stage} ran again: {', '.join(stale)} read it and will run again when asked")
    dist.wait_for_everyone()  # the next stage, on any process, reads this one's files
    return done


def run_all(config: GRConfig, stages: Optional[list] = None, on_stage: Optional[Callable] = None,
            push: Optional[bool] = None) -> Path:
    """Every stage in order (skipping complete, up-to-date ones), then the report; returns the report's path.
    ``push``: kept for old callers, sets ``hub_push``."""
    if push is not None:
        config = config.replace(hub_push=push)
    order = [s for s in RUN_ORDER if stages is None or s in stages]
    for stage in tqdm(order, desc="gr-colab run", unit="stage"):
        run_stage(config, stage)
        if on_stage:
            on_stage(stage)
    return write_report(config)
