"""Preference rows in PKU-SafeRLHF's shape for chapter 09 (MODPO): load, validate, split, turn into pairs.

The chapter's data: no torch, no model. A row is ``{prompt, response_0, response_1, better_response_id,
safer_response_id}`` (PKU-SafeRLHF-10K also has ``is_response_0_safe`` / ``is_response_1_safe``, kept when present):
two answers to one prompt, one id saying which answer annotators found more helpful ("better") and one saying
which is less harmful ("safer"). Sources: a JSON/JSONL file (the bundled ``sample_data/modpo`` sample), a folder
holding a local copy of the Hub dataset, a ``datasets.Dataset``, or ``hf://PKU-Alignment/PKU-SafeRLHF-10K`` on
Colab. A bad row raises :class:`~gr_colab.data.DataError` naming the file, the row and the field, or with
``skip_bad`` is skipped and counted in the report, as everywhere in the kit.

The guard can relabel the "safer" preference (:func:`relabel_safer`): see its docstring for ties and unparsed
verdicts.
"""
from __future__ import annotations

from collections import Counter
from pathlib import Path
from typing import Any, Optional, Union

from ..data import DataError, LoadedRows, _collect, read_records, require_text

HUB_ID = "PKU-Alignment/PKU-SafeRLHF-10K"
SAMPLE = "sample_data/modpo/saferlhf_sample.jsonl"
FIELDS = ("prompt", "response_0", "response_1", "better_response_id", "safer_response_id")
OPTIONAL_FLAGS = ("is_response_0_safe", "is_response_1_safe")
DIMENSIONS = ("better", "safer")
# The MODPO code's prompt for a model without a chat template (prompt_format "raw"); chat models use their own.
RAW_TEMPLATE = "BEGINNING OF CONVERSATION: USER: {prompt} ASSISTANT:"
SAFETY_LABELS = ("dataset", "guard", "guard-strict")


# --- rows ------------------------------------------------------------------------------------------------------
def validate_saferlhf_row(record: Any, where: str) -> dict:
    """One PKU-SafeRLHF row, checked: text fields present and non-empty, two different answers, ids 0 or 1."""
    if not isinstance(record, dict):
        raise DataError(where, "<row>", f"expected an object with {', '.join(FIELDS)}, got {type(record).__name__}")
    require_text(record, where, FIELDS[:3])
    if record["response_0"].strip() == record["response_1"].strip():
        raise DataError(where, "response_1", "the same text as response_0: the pair expresses no preference")
    for name in FIELDS[3:]:
        if name not in record:
            raise DataError(where, name, "missing")
        value = record[name]
        if isinstance(value, bool) or value not in (0, 1):  # True == 1 in Python: a bool here is a mix-up
            raise DataError(where, name, f"must be 0 or 1 (which response), got {value!r}")
    row = {name: record[name] for name in FIELDS[:3]}
    row.update({name: int(record[name]) for name in FIELDS[3:]})
    for name in OPTIONAL_FLAGS:
        if record.get(name) is not None:
            if not isinstance(record[name], bool):
                raise DataError(where, name, f"must be true or false, got {record[name]!r}")
            row[name] = record[name]
    return row


def load_saferlhf(source: Union[str, Path, Any], *, limit: Optional[int] = None, skip_bad: bool = False,
                  root: Union[str, Path, None] = None) -> LoadedRows:
    """Rows from a file, a folder (a local copy of the Hub dataset), a ``datasets.Dataset`` or ``hf://<id>[:split]``.

    A relative path that does not exist from the working directory is tried relative to ``root`` (the repo), so a
    notebook running in another folder still finds the bundled sample.
    """
    if isinstance(source, (str, Path)) and str(source).startswith("hf://"):
        repo, _, split = str(source)[5:].partition(":")
        return _from_datasets(repo, split or "train", f"hf://{repo}:{split or 'train'}", limit, skip_bad)
    if isinstance(source, (str, Path)):
        path = Path(source)
        if not path.exists() and root is not None and not path.is_absolute():
            path = Path(root) / path
        if path.is_dir():
            return _from_datasets(str(path), "train", str(path), limit, skip_bad)
        return _collect(read_records(path), str(path), validate_saferlhf_row, skip_bad, limit)
    name = getattr(getattr(source, "info", None), "dataset_name", None) or "dataset"
    return _collect(iter(source), f"<{name}>", validate_saferlhf_row, skip_bad, limit)


def _from_datasets(repo_or_dir: str, split: str, where: str, limit, skip_bad) -> LoadedRows:
    """Through ``datasets``: the Hub id on Colab, or a folder (data files, or a ``save_to_disk`` copy) offline."""
    import datasets

    folder = Path(repo_or_dir)
    if (folder / "state.json").exists() or (folder / "dataset_dict.json").exists():
        ds = datasets.load_from_disk(str(folder))
        ds = ds[split] if isinstance(ds, datasets.DatasetDict) else ds
    else:
        ds = datasets.load_dataset(repo_or_dir, split=split)
    return _collect(iter(ds), where, validate_saferlhf_row, skip_bad, limit)


def split_rows(rows: list, test_fraction: float, seed: int = 0) -> tuple[list, list]:
    """(train, held-out) as the MODPO code splits PKU-SafeRLHF-10K: ``datasets``' ``train_test_split`` (0.1, seed 0)."""
    if not rows:
        raise ValueError("no preference rows to split")
    if test_fraction <= 0:
        return list(rows), []
    from datasets import Dataset

    parts = Dataset.from_list(rows).train_test_split(test_size=test_fraction, seed=seed)
    return list(parts["train"]), list(parts["test"])


def policy_prompt_text(prompt: str, prompt_format: str) -> Union[str, list]:
    """The prompt a chat policy sees: a user turn for ``chat`` (rendered by the model's own template), the MODPO
    code's string for ``raw``."""
    if prompt_format == "raw":
        return RAW_TEMPLATE.format(prompt=prompt)
    return [{"role": "user", "content": prompt}]


def preference_pairs(rows: list, dimension: str, prompt_format: str = "chat") -> list[dict]:
    """``{prompt, chosen, rejected}`` pairs for one preference: ``better`` (helpfulness) or ``safer`` (safety)."""
    if dimension not in DIMENSIONS:
        raise ValueError(f"dimension must be one of {', '.join(DIMENSIONS)}, got {dimension!r}")
    pairs = []
    for row in rows:
        chosen = row[f"{dimension}_response_id"]
        pairs.append({"prompt": policy_prompt_text(row["prompt"], prompt_format),
                      "chosen": row[f"response_{chosen}"], "rejected": row[f"response_{1 - chosen}"]})
    return pairs


# --- safety preferences from the student's guard ---------------------------------------------------------------
def relabel_safer(rows: list, verdicts: list, policy: str = "guard") -> tuple[list, dict]:
    """Replace ``safer_response_id`` with the guard's judgement; ``verdicts[i]`` is the guard's response-harmfulness
    answer for ``(response_0, response_1)`` of row i: ``"harmful"``, ``"unharmful"`` or None (no parsable answer).

    The guard decides a pair only when it calls exactly one answer harmful: the other one is the safer. A tie (both
    harmful or both unharmful) or an unparsed verdict decides nothing; with ``policy="guard"`` such a row keeps the
    dataset's own ``safer_response_id``, with ``"guard-strict"`` it is left out of the safety preferences. The counts
    (decided, agreeing with the dataset, ties, unparsed, kept, dropped) come back for the student to see.
    """
    if policy not in ("guard", "guard-strict"):
        raise ValueError(f"policy must be 'guard' or 'guard-strict', got {policy!r}")
    if len(verdicts) != len(rows):
        raise ValueError(f"{len(verdicts)} verdicts for {len(rows)} rows")
    counts = Counter()
    out = []
    for row, (v0, v1) in zip(rows, verdicts):
        if v0 is None or v1 is None:
            counts["unparsed"] += 1
        elif v0 == v1:
            counts["ties"] += 1
        else:
            safer = 0 if v0 == "unharmful" else 1
            counts["decided"] += 1
            counts["agree_with_dataset"] += int(safer == row["safer_response_id"])
            out.append({**row, "safer_response_id": safer, "safer_source": "guard"})
            continue
        if policy == "guard":
            out.append({**row, "safer_source": "dataset"})
        else:
            counts["dropped"] += 1
    summary = {k: counts[k] for k in ("decided", "agree_with_dataset", "ties", "unparsed", "dropped")}
    summary["kept"] = len(out)
    return out, summary
