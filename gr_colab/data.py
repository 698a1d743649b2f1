"""Data rows: load, validate, convert.

Data layer: knows the formats, never a model. Three shapes come in:

- GuardReasonerTrain rows ``{instruction, input, output}`` (local JSON/JSONL, a ``datasets.Dataset``, or the Hub id
  ``yueliu1999/GuardReasonerTrain`` on Colab), tagged with the split they come from (``dataset``);
- benchmark files in the official shape, where ``output`` is the gold label of the benchmark's task (their own
  module, :mod:`gr_colab.benchmark_rows`);
- the Colab guide's six-policy ``training_data.json``.

A bad row raises :class:`DataError` naming the file, the row and the field; with ``skip_bad=True`` it is skipped and
counted in the result, whose ``report()`` the caller shows. Nothing is dropped silently.
"""
from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Iterable, Optional, Union

from .prompts import INSTRUCTION, SIX_POLICIES, TASK_LABELS, chat_messages, policy_prompt, raw_prompt, split_input
from .traces import parse_trace

HUB_TRAIN_ID = "yueliu1999/GuardReasonerTrain"
HUB_SPLITS = ("WildGuardTrainR", "AegisTrainR", "BeaverTailsTrainR", "ToxicChatTrainR")
TRAIN_FIELDS = ("instruction", "input", "output")


class DataError(ValueError):
    """A row the kit cannot use: ``where`` names the file and the row, ``field`` the field."""

    def __init__(self, where: str, field_name: str, message: str):
        self.where, self.field, self.message = where, field_name, message
        super().__init__(f"{where}: field {field_name!r}: {message}")


@dataclass
class LoadedRows:
    """Rows that passed, and every row that did not, with why."""

    rows: list
    skipped: list = field(default_factory=list)  # (where, field, message)
    source: str = ""

    def report(self) -> str:
        head = f"{self.source}: {len(self.rows)} rows loaded, {len(self.skipped)} skipped"
        lines = [f"  - {w}: field {f!r}: {m}" for w, f, m in self.skipped[:20]]
        if len(self.skipped) > 20:
            lines.append(f"  … and {len(self.skipped) - 20} more")
        return "\n".join([head, *lines])

    def extend(self, other: "LoadedRows") -> "LoadedRows":
        self.rows += other.rows
        self.skipped += other.skipped
        self.source = ", ".join(s for s in (self.source, other.source) if s)
        return self


# --- reading records -------------------------------------------------------------------------------------------
def read_records(path: Union[str, Path]) -> list:
    """A JSON list, a JSON object of lists (one per split), or JSON Lines; errors name the file and line."""
    path = Path(path)
    if not path.exists():
        raise FileNotFoundError(f"{path}: no such file")
    text = path.read_text(encoding="utf-8")
    if path.suffix == ".jsonl":
        records = []
        for i, line in enumerate(text.splitlines(), 1):
            if not line.strip():
                continue
            try:
                records.append(json.loads(line))
            except json.JSONDecodeError as exc:
                raise DataError(f"{path}:line {i}", "<json>", f"not valid JSON ({exc.msg})") from None
        return records
    try:
        data = json.loads(text)
    except json.JSONDecodeError as exc:
        raise DataError(f"{path}:line {exc.lineno}", "<json>", f"not valid JSON ({exc.msg})") from None
    if isinstance(data, dict) and all(isinstance(v, list) for v in data.values()):
        return [r for part in data.values() for r in part]
    if not isinstance(data, list):
        raise DataError(str(path), "<top level>", "expected a JSON list of rows (or an object of lists)")
    return data


def _where(source: str, index: int) -> str:
    return f"{source}:row {index}"


def _collect(records: Iterable, source: str, check, skip_bad: bool, limit: Optional[int],
             seed: Optional[int] = None) -> LoadedRows:
    """Check every record (or, with ``limit`` and ``seed``, a seeded sample of ``limit`` rows spread over the whole
    file, kept in file order: the first N rows of a file are one slice of it, often one source or one label)."""
    out = LoadedRows([], [], source)
    indexed = enumerate(records)
    if limit is not None and seed is not None and hasattr(records, "__len__") and len(records) > limit:
        import random

        total = len(records)
        order = random.Random(seed).sample(range(total), total)  # rows drawn in this order until limit pass
        indexed = ((i, records[i]) for i in order)
        out.source = f"{source} (a seeded sample of {limit} of {total} rows, seed {seed})"
    kept = []
    for i, record in indexed:
        if limit is not None and len(kept) >= limit:
            break
        try:
            kept.append((i, check(record, _where(source, i))))
        except DataError as err:
            if not skip_bad:
                raise
            out.skipped.append((err.where, err.field, err.message))
    out.rows = [row for _, row in sorted(kept, key=lambda pair: pair[0])]
    return out


# --- GuardReasonerTrain rows -----------------------------------------------------------------------------------
def require_text(record: dict, where: str, names) -> None:
    """Each field of ``names`` present, text and not blank, or a DataError naming the row and the field."""
    for name in names:
        if name not in record:
            raise DataError(where, name, "missing")
        if not isinstance(record[name], str):
            raise DataError(where, name, f"expected text, got {type(record[name]).__name__}")
        if not record[name].strip():
            raise DataError(where, name, "empty")


def validate_train_row(record: Any, where: str, dataset: str = "") -> dict:
    """One GuardReasonerTrain row, checked: the fields, the input's shape, an output whose answers parse."""
    if not isinstance(record, dict):
        raise DataError(where, "<row>", f"expected an object with {', '.join(TRAIN_FIELDS)}, "
                                        f"got {type(record).__name__}")
    require_text(record, where, TRAIN_FIELDS)
    try:
        prompt, response = split_input(record["input"])
    except ValueError as exc:
        raise DataError(where, "input", str(exc)) from None
    verdict = parse_trace(record["output"], mode="strict")
    if not verdict.complete:
        raise DataError(where, "output", f"answers do not parse ({verdict.reason})")
    if verdict.request not in TASK_LABELS["request"]:
        raise DataError(where, "output", f"Request answer must be harmful or unharmful, got {verdict.request!r}")
    # A prompt-only item usually answers None for tasks 2 and 3, but the released WildGuardTrainR also labels some
    # of them refusal/unharmful (the empty response read as a refusal): both are kept, as in the real data.
    row = {name: record[name] for name in TRAIN_FIELDS}
    row["dataset"] = record.get("dataset") or dataset
    row["labels"] = dict(verdict.labels)
    row["has_response"] = response is not None
    return row


def dataset_name(path: Union[str, Path]) -> str:
    return Path(str(path)).stem


def load_train(source: Union[str, Path, Any], *, limit: Optional[int] = None, skip_bad: bool = False,
               dataset: Optional[str] = None, seed: Optional[int] = None) -> LoadedRows:
    """GuardReasonerTrain rows from a file, a ``datasets.Dataset``, or ``hf://<id>[:split]`` (Colab); with ``limit``
    and ``seed`` a seeded sample of ``limit`` rows (without ``seed``: the first ``limit``)."""
    if isinstance(source, (str, Path)) and str(source).startswith("hf://"):
        return load_train_hub(str(source)[5:], limit=limit, skip_bad=skip_bad, seed=seed)
    if isinstance(source, (str, Path)):
        name = dataset or dataset_name(source)
        return _collect(read_records(source), str(source), lambda r, w: validate_train_row(r, w, name),
                        skip_bad, limit, seed)
    name = dataset or getattr(getattr(source, "info", None), "dataset_name", None) or "dataset"
    return _collect(source, f"<{name}>", lambda r, w: validate_train_row(r, w, name), skip_bad, limit, seed)


def load_train_hub(spec: str, *, limit: Optional[int] = None, skip_bad: bool = False,
                   seed: Optional[int] = None) -> LoadedRows:
    """``yueliu1999/GuardReasonerTrain`` (all four splits) or ``…:AegisTrainR`` (one), a Hub id or a local folder
    holding the dataset card, through ``datasets``.

    Splits are asked for by *split name*: the card's front matter maps ``WildGuardTrainR`` to the file
    ``WildGuardTrain-R.json`` and so on, and ``datasets`` follows that mapping; a split name is not a file name.
    """
    import datasets

    repo, _, split = spec.partition(":")
    splits = [split] if split else list(HUB_SPLITS)
    out = LoadedRows([], [], "")
    for name in splits:
        try:
            ds = datasets.load_dataset(repo, split=name)
        except ValueError as exc:  # datasets: 'Unknown split "…". Should be one of [...]'
            raise DataError(f"hf://{repo}", "split", f"{name!r}: {exc}") from None
        part = _collect(ds, f"hf://{repo}:{name}", lambda r, w, n=name: validate_train_row(r, w, n),
                        skip_bad, limit, seed)
        out.extend(part)
    return out


def load_train_files(files: Iterable[str], *, limit: Optional[int] = None, skip_bad: bool = False,
                     leave_out: Optional[str] = None, root: Union[str, Path, None] = None,
                     seed: Optional[int] = None) -> LoadedRows:
    """Every training file of a config; ``leave_out`` drops one dataset, for the diversity runs, and says so;
    ``limit`` with ``seed``: a seeded sample of each file (each Hub split), said in the report."""
    out = LoadedRows([], [], "")
    for f in files:
        path = f  # as given (cwd-relative), else relative to ``root`` (the repo, for a notebook run elsewhere)
        if not str(f).startswith("hf://") and not Path(f).exists() and root is not None:
            path = Path(root) / f
        out.extend(load_train(path, limit=limit, skip_bad=skip_bad, seed=seed))
    if leave_out:
        kept = [r for r in out.rows if r["dataset"] != leave_out]
        if len(kept) == len(out.rows):
            raise DataError("train_files", "leave_out", f"no rows of dataset {leave_out!r} to leave out")
        out.source += f" (left out {leave_out}: {len(out.rows) - len(kept)} rows)"
        out.rows = kept
    return out


def answers_at(output: str) -> int:
    """Where a trace's final answer block starts: its last ``Answers:``, else (real outputs drift) the line of its last
    ``Request:``; -1 when there is neither."""
    at = output.rfind("Answers:")
    if at < 0:
        at = output.rfind("Request:")
        at = output.rfind("\n", 0, at) + 1 if at >= 0 else -1
    return at


def short_trace(output: str) -> str:
    """A trace cut to its conclusions (``reasoning: conclusions``): per task its header and its conclusion (the
    ``## Conclusion`` block, else its last reasoning step), then the ``Answers:`` block. Raises ValueError when the
    text has no Answers block. Written here because the cut follows GuardReasoner's own trace layout."""
    import re

    at = answers_at(output)
    if at < 0:
        raise ValueError("no 'Answers:' block")
    body = re.sub(r"(?m)^#+ Answers\s*$", "", re.split(r"\n-{3,}\s*\n", output[:at])[0])
    sections = re.split(r"(?m)^(?=# Task \d)", body.strip())
    kept = []
    for i, section in enumerate(part for part in sections if part.strip()):
        head = section.splitlines()[0] if section.startswith("# Task") else f"# Task {i + 1}"
        blocks = [b.strip() for b in re.split(r"(?m)^(?=## )", section) if b.strip().startswith("## ")]
        if not blocks:
            continue
        last = next((b for b in blocks if b.startswith("## Conclusion")), blocks[-1])
        kept.append(f"{head}\n{last}")
    return "\n\n".join(kept) + "\n\n---\n\n" + output[at:]


def conclusions_only(rows: list, where: str = "train_files") -> list:
    """Rows whose output is :func:`short_trace` of the trace; a row without an Answers block names itself."""
    out = []
    for i, row in enumerate(rows):
        try:
            out.append({**row, "output": short_trace(row["output"])})
        except ValueError as exc:
            raise DataError(f"{row.get('dataset', where)}:row {i}", "output", str(exc)) from None
    return out


def answers_only(rows: list, where: str = "train_files") -> list:
    """Rows whose output is the trace's final ``Answers:`` block alone (``reasoning: answers``): a guard that
    answers in a few tokens instead of a few hundred. A row without the block is an error that names it."""
    out = []
    for i, row in enumerate(rows):
        output = row["output"]
        at = answers_at(output)
        if at < 0:
            raise DataError(f"{row.get('dataset', where)}:row {i}", "output", "no 'Answers:' block to keep")
        out.append({**row, "output": output[at:]})
    return out


def traces_from_predictions(path: Union[str, Path], task: str) -> tuple[list, int]:
    """(rows, total): training rows ``{instruction, input, output}`` from a released predictions file
    (``{prompt, label, predict}``, the official shape), keeping the outputs whose strictly parsed verdict on
    ``task`` equals the gold ``label`` and that answer all three tasks. A row not in that shape names its line."""
    from .prompts import ANSWER_KEYS

    if task not in ANSWER_KEYS:
        raise ValueError(f"task must be one of {', '.join(ANSWER_KEYS)}, got {task!r}")
    records = read_records(path)
    rows = []
    for i, rec in enumerate(records, 1):
        where = f"{path}:line {i}"
        for key in ("prompt", "label", "predict"):
            if not isinstance(rec.get(key), str):
                raise DataError(where, key, "missing or not a string")
        if not rec["prompt"].startswith(INSTRUCTION + "\n"):
            raise DataError(where, "prompt", "does not start with the official instruction")
        verdict = parse_trace(rec["predict"])
        if verdict.complete and verdict.labels[task] == rec["label"].strip().lower():
            rows.append({"instruction": INSTRUCTION, "input": rec["prompt"][len(INSTRUCTION) + 1:],
                         "output": rec["predict"]})
    return rows, len(records)


# --- SFT rows --------------------------------------------------------------------------------------------------
def to_sft_rows(rows: Iterable[dict], prompt_format: str = "chat") -> list:
    """Prompt/completion rows for TRL's SFTTrainer (loss on the completion only).

    ``chat``: conversational rows, rendered by the model's own chat template at training time.
    ``raw``: the official inference string as prompt (the released models' format), the output as completion.
    """
    out = []
    for row in rows:
        if "content" in row:  # six-policy row
            prompt_text, output = policy_prompt(row["content"], row["policy"]), row["output"]
            messages = [{"role": "user", "content": prompt_text}]
        else:
            prompt_text, output = raw_prompt(row["input"], row.get("instruction", INSTRUCTION)), row["output"]
            messages = chat_messages(row["input"], instruction=row.get("instruction", INSTRUCTION))
        if prompt_format == "chat":  # the output without its trailing newline, as a trimming template sees it
            out.append({"prompt": messages, "completion": [{"role": "assistant", "content": output.rstrip()}]})
        elif prompt_format == "raw":
            out.append({"prompt": prompt_text, "completion": output})
        else:
            raise ValueError(f"prompt_format must be 'chat' or 'raw', got {prompt_format!r}")
    return out


def split_holdout(rows: list, fraction: float, seed: int = 0) -> tuple[list, list]:
    """A reproducible train/held-out split, stratified by dataset so every source is measured."""
    import random

    rng = random.Random(seed)
    train, held = [], []
    by_dataset: dict = {}
    for row in rows:
        by_dataset.setdefault(row.get("dataset", ""), []).append(row)
    for name in sorted(by_dataset):
        part = list(by_dataset[name])
        rng.shuffle(part)
        k = int(round(len(part) * fraction))
        held += part[:k]
        train += part[k:]
    return train, held


# --- the six-policy format (the Colab guide's training_data.json) -----------------------------------------------
def load_policy_data(path: Union[str, Path], *, skip_bad: bool = False, limit: Optional[int] = None) -> LoadedRows:
    """One row per (sample, policy) that has a reasoning trace; a sample without all six traces is reported."""
    path = Path(path)
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except json.JSONDecodeError as exc:
        raise DataError(f"{path}:line {exc.lineno}", "<json>", f"not valid JSON ({exc.msg})") from None
    if not isinstance(data, dict) or not isinstance(data.get("samples"), list):
        raise DataError(str(path), "samples", "expected an object with a 'samples' list")
    traces = data.get("reasoning_traces")
    if not isinstance(traces, dict):
        raise DataError(str(path), "reasoning_traces", "expected an object keyed sample_{idx}_{policy}")

    def rows_of(indexed, where):
        idx, sample = indexed
        if not isinstance(sample, dict) or not isinstance(sample.get("content"), str):
            raise DataError(where, "content", "missing or not text")
        labels = sample.get("labels", [])
        if not isinstance(labels, list) or any(p not in SIX_POLICIES for p in labels):
            raise DataError(where, "labels", f"expected a list of policies from {', '.join(SIX_POLICIES)}")
        out = []
        for policy in SIX_POLICIES:
            key = f"sample_{idx}_{policy}"
            trace = traces.get(key)
            if trace is None:
                raise DataError(where, f"reasoning_traces.{key}", "missing")
            reasoning, cls = trace.get("reasoning"), trace.get("classification")
            if not isinstance(reasoning, str) or cls not in ("SAFE", "UNSAFE"):
                raise DataError(where, f"reasoning_traces.{key}", "needs 'reasoning' text and a "
                                                                  "'classification' of SAFE or UNSAFE")
            expected = "UNSAFE" if policy in labels else "SAFE"
            if cls != expected:
                raise DataError(where, f"reasoning_traces.{key}.classification",
                                f"{cls} disagrees with the sample's labels (expected {expected})")
            parsed = parse_trace(reasoning, task_format="six_policy").classification
            if parsed != cls:
                raise DataError(where, f"reasoning_traces.{key}.reasoning",
                                f"its 'Classification:' line reads {parsed!r}, not {cls}")
            out.append({"content": sample["content"], "policy": policy, "output": reasoning,
                        "classification": cls, "source": sample.get("source", ""), "dataset": "six_policy"})
        return out

    loaded = _collect(enumerate(data["samples"]), str(path), rows_of, skip_bad, limit)
    loaded.rows = [r for group in loaded.rows for r in group]
    return loaded
