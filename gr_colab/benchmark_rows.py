"""Benchmark rows in the official shape: ``{instruction, input, output}`` where ``output`` is the gold label of the
benchmark's task (a label, or an Answers block as in SafeRLHF/BeaverTails), or WildGuardTest's label fields.

Data layer: knows the formats, never a model; a bad row raises :class:`~gr_colab.data.DataError` naming the file,
the row and the field, or with ``skip_bad`` is skipped and counted, as every loader of :mod:`gr_colab.data`.
"""
from __future__ import annotations

from pathlib import Path
from typing import Any, Optional, Union

from .data import DataError, LoadedRows, _collect, read_records
from .prompts import INSTRUCTION, NO_RESPONSE, TASK_LABELS, split_input
from .traces import parse_trace

WILDGUARD_FIELDS = {"request": "prompt_harm_label", "completion": "response_refusal_label",
                    "response": "response_harm_label"}


def validate_benchmark_row(record: Any, where: str, task: str) -> dict:
    """A benchmark row; its gold label is ``output`` (a label, or an Answers block as in SafeRLHF/BeaverTails) or
    WildGuardTest's label field. A gold label the row does not have is ``None`` (the metric skips and counts it)."""
    if not isinstance(record, dict):
        raise DataError(where, "<row>", f"expected an object, got {type(record).__name__}")
    if not isinstance(record.get("input"), str):
        raise DataError(where, "input", "missing" if "input" not in record else "expected text")
    try:
        split_input(record["input"])
    except ValueError as exc:
        raise DataError(where, "input", str(exc)) from None
    if WILDGUARD_FIELDS[task] in record:
        label = record[WILDGUARD_FIELDS[task]]
        label = None if label in (None, "", NO_RESPONSE) else str(label).strip().lower()
        source_field = WILDGUARD_FIELDS[task]
    elif isinstance(record.get("output"), str):
        source_field = "output"
        text = record["output"].strip()
        if text in TASK_LABELS[task]:
            label = text
        else:
            label = parse_trace(text, mode="strict").labels[task]
            if label is None and not text.lower().startswith("answers"):
                raise DataError(where, "output", f"gold label for task {task!r} must be one of "
                                                 f"{', '.join(TASK_LABELS[task])} or an Answers block, got {text!r}")
            label = None if label == NO_RESPONSE else label
    else:
        raise DataError(where, "output", "missing (no gold label)")
    if label is not None and label not in TASK_LABELS[task]:
        raise DataError(where, source_field, f"gold label for task {task!r} must be one of "
                                             f"{', '.join(TASK_LABELS[task])}, got {label!r}")
    return {"instruction": record.get("instruction") or INSTRUCTION, "input": record["input"], "label": label}


def load_benchmark(path: Union[str, Path], task: str, *, limit: Optional[int] = None,
                   skip_bad: bool = False) -> LoadedRows:
    """A benchmark file in the official shape; ``task`` is request, completion or response."""
    return _collect(read_records(path), str(path), lambda r, w: validate_benchmark_row(r, w, task),
                    skip_bad, limit)
