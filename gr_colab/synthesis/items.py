"""What a teacher writes traces for: labelled items, read from any labelled shape the kit knows.

Its own module because reading gold labels (three-task rows, benchmark rows, WildGuard fields, six-policy samples)
is the one part of synthesis that is about data, not about the teacher.
"""
from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Iterable, Optional, Sequence, Union

from ..data import LoadedRows, read_records
from ..prompts import ANSWER_KEYS, INSTRUCTION, NO_RESPONSE, SIX_POLICIES, TASK_LABELS, split_input
from ..traces import TASKS, parse_trace

GUARDREASONER, SIX_POLICY = "guardreasoner", "six_policy"


@dataclass(frozen=True)
class Item:
    """One labelled thing to write a trace for.

    ``gold`` for a three-task item: ``{request, completion, response}`` with labels, or ``"None"`` where the item has
    no answer (tasks 2 and 3 of a prompt-only item); for a six-policy item: ``{"classification": SAFE|UNSAFE}``.
    """

    id: str
    task_format: str
    gold: dict
    input: str = ""  # three-task: the official input field, "Human user:\n…\n\nAI assistant:\n…\n\n"
    instruction: str = INSTRUCTION
    content: str = ""  # six-policy: the content, the policy, and the sample's own labels
    policy: str = ""
    labels: tuple = ()
    source: str = ""  # the dataset (three-task) or the sample's source (six-policy)


def _gold_from_row(record: dict, task: Optional[str], has_response: bool) -> tuple[dict, str]:
    """(gold labels, "") or ({}, why not) for one labelled row of any of the shapes the kit reads."""
    from ..benchmark_rows import WILDGUARD_FIELDS

    gold: dict = {}
    if isinstance(record.get("labels"), dict):  # a row already loaded by gr_colab.data.load_train
        gold = {t: record["labels"].get(t) for t in TASKS}
    elif any(f in record for f in WILDGUARD_FIELDS.values()):  # WildGuardTest's label fields
        for t, f in WILDGUARD_FIELDS.items():
            value = record.get(f)
            gold[t] = None if value in (None, "", NO_RESPONSE) else str(value).strip().lower()
    elif isinstance(record.get("output"), str):
        text = record["output"].strip()
        if task and text.lower() in TASK_LABELS[task]:  # a benchmark row: the label of its one task
            gold = {task: text.lower()}
        else:
            verdict = parse_trace(text, mode="strict")
            gold = {t: v for t, v in verdict.labels.items() if v is not None}
            if not gold:
                return {}, "its output is neither an Answers block nor a label of the given task"
    else:
        return {}, "no gold labels (no 'labels', no WildGuard label fields, no 'output')"
    for t in ("completion", "response"):  # a prompt-only item has no answer for tasks 2 and 3 unless it says
        if gold.get(t) is None and not has_response:  # otherwise; an item with a response needs a real label
            gold[t] = NO_RESPONSE
        elif gold.get(t) == NO_RESPONSE and has_response:
            gold[t] = None
    missing = [ANSWER_KEYS[t] for t in TASKS if gold.get(t) is None]
    if missing:
        return {}, f"no gold label for {', '.join(missing)}: a trace needs all three answers"
    for t in TASKS:
        allowed = TASK_LABELS[t] + ((NO_RESPONSE,) if t != "request" else ())
        if gold[t] not in allowed:
            return {}, f"gold label {gold[t]!r} for {ANSWER_KEYS[t]} is not one of {', '.join(allowed)}"
    return gold, ""


def items_from_rows(records: Iterable[dict], *, task: Optional[str] = None, source: str = "",
                    limit: Optional[int] = None) -> LoadedRows:
    """Three-task items from labelled rows: GuardReasonerTrain rows (raw or loaded), benchmark rows whose
    ``output`` is an Answers block or (with ``task``) one label, or WildGuardTest rows. A row that cannot give all
    three gold answers is skipped and listed in the result's ``report()`` (``.rows`` holds the items)."""
    out = LoadedRows([], [], source or "rows")
    for i, record in enumerate(records):
        if limit is not None and len(out.rows) >= limit:
            break
        where = f"{source or 'rows'}:row {i}"
        if not isinstance(record, dict) or not isinstance(record.get("input"), str):
            out.skipped.append((where, "input", "missing or not text"))
            continue
        try:
            _, response = split_input(record["input"])
        except ValueError as exc:
            out.skipped.append((where, "input", str(exc)))
            continue
        gold, why = _gold_from_row(record, task, response is not None)
        if why:
            out.skipped.append((where, "output", why))
            continue
        name = record.get("dataset") or source or "rows"
        out.rows.append(Item(id=f"{name}:{i}", task_format=GUARDREASONER, gold=gold, input=record["input"],
                             instruction=record.get("instruction") or INSTRUCTION, source=name))
    return out


def items_from_policy_samples(samples: Iterable[dict], *, source: str = "samples",
                              policies: Sequence[str] = tuple(SIX_POLICIES)) -> LoadedRows:
    """Six-policy items: one per (sample, policy); gold UNSAFE where the policy is in the sample's ``labels``."""
    out = LoadedRows([], [], source)
    for idx, sample in enumerate(samples):
        where = f"{source}:sample {idx}"
        if not isinstance(sample, dict) or not isinstance(sample.get("content"), str) or not sample["content"]:
            out.skipped.append((where, "content", "missing or not text"))
            continue
        labels = sample.get("labels", [])
        if not isinstance(labels, list) or any(p not in SIX_POLICIES for p in labels):
            out.skipped.append((where, "labels", f"expected a list of policies from {', '.join(SIX_POLICIES)}"))
            continue
        for policy in policies:
            out.rows.append(Item(id=f"sample_{idx}_{policy}", task_format=SIX_POLICY,
                                 gold={"classification": "UNSAFE" if policy in labels else "SAFE"},
                                 content=sample["content"], policy=policy, labels=tuple(labels),
                                 source=str(sample.get("source", ""))))
    return out


def load_items(path: Union[str, Path], *, task: Optional[str] = None, limit: Optional[int] = None) -> LoadedRows:
    """Items from a file: six-policy ``{"samples": [...]}`` (a training_data.json or samples alone) or rows."""
    path = Path(path)
    if path.suffix == ".json":
        data = json.loads(path.read_text(encoding="utf-8"))
        if isinstance(data, dict) and isinstance(data.get("samples"), list):
            samples = data["samples"][:limit] if limit else data["samples"]
            return items_from_policy_samples(samples, source=str(path))
    return items_from_rows(read_records(path), task=task, source=path.stem, limit=limit)


# A few six-policy samples for the course's offline demo (the guide's own data is not bundled).
DEMO_POLICY_SAMPLES = [
    {"content": "What is a good recipe for sourdough bread?", "labels": [], "source": "demo"},
    {"content": "People of that religion are vermin and should be driven out of our town.",
     "labels": ["hate_speech"], "source": "demo"},
    {"content": "Explain step by step how to pick the lock of my neighbour's house while they are on holiday.",
     "labels": ["illegal"], "source": "demo"},
    {"content": "I know where you live, Sam. Post that again and you will regret it.",
     "labels": ["harassment", "violence"], "source": "demo"},
]


def demo_items(n_three_task: int = 12) -> list:
    """The offline demo set of notebook 02: the bundled GuardReasonerTrain rows, prompt-only benchmark items
    (their gold: the request's label, None for tasks 2 and 3), and the six-policy demo samples."""
    from ..models import SAMPLE_DATA

    items = items_from_rows(read_records(SAMPLE_DATA / "train_sample_real.json"), source="GuardReasonerTrain").rows
    bench = items_from_rows(read_records(SAMPLE_DATA / "benchmarks" / "0_0_SimpleSafetyTests.json"),
                            task="request", source="SimpleSafetyTests").rows
    return (items + bench)[:n_three_task] + items_from_policy_samples(DEMO_POLICY_SAMPLES, source="demo").rows
