"""The red-team proposer's material: the bundled seed requests and ReverseGen's few-shot prompts built from them.

Seeds are ``{id, request, label, source}`` rows (``sample_data/redteam/seeds.jsonl``); a prompt is
``Ask questions:\\n1. …\\n2. …\\n3. …\\n4.`` from three seed requests, the proposer writing item 4
(ReverseGen, arXiv 2410.16736; facts from its released code). Pure Python: no torch, no model.
"""
from __future__ import annotations

import random
import re
from pathlib import Path
from typing import Sequence, Union

LABELS = ("harmful", "unharmful")
HEADER = "Ask questions:\n"
_NUMBERING = re.compile(r"^\s*(?:\d+\s*[.)]\s*)+")


def load_seeds(path: Union[str, Path]) -> list:
    """``{id, request, label, source}`` rows of a JSONL file; a bad row stops with its file, line and field."""
    from ..data import DataError, read_records

    rows = []
    for i, row in enumerate(read_records(path), 1):
        where = f"{path}:line {i}"
        if not isinstance(row, dict):
            raise DataError(where, "<row>", "expected an object {id, request, label, source}")
        if not isinstance(row.get("request"), str) or not row["request"].strip() or "\n" in row["request"]:
            raise DataError(where, "request", "missing, empty or more than one line")
        if row.get("label") not in LABELS:
            raise DataError(where, "label", f"{row.get('label')!r} is not one of {', '.join(LABELS)}")
        rows.append({"id": str(row.get("id", f"seed-{i}")), "request": row["request"].strip(),
                     "label": row["label"], "source": row.get("source", "")})
    if len(rows) < 4:
        raise DataError(str(path), "<rows>", f"{len(rows)} seeds; a 3-shot prompt needs at least 4")
    return rows


def split_seeds(seeds: list, heldout_fraction: float, seed: int) -> tuple[list, list]:
    """(seeds for the warm-up and the iterations, seeds only the held-out prompts are built from)."""
    order = list(range(len(seeds)))
    random.Random(seed).shuffle(order)
    n_held = max(1, round(len(seeds) * heldout_fraction)) if heldout_fraction > 0 else 0
    held = sorted(order[:n_held])
    held_set = set(held)
    return [s for i, s in enumerate(seeds) if i not in held_set], [seeds[i] for i in held]


def few_shot_prompt(requests: Sequence[str]) -> str:
    """ReverseGen's prompt: the shots as a numbered list, then the next number for the proposer to fill in."""
    lines = [f"{i}. {r}" for i, r in enumerate(requests, 1)]
    return HEADER + "\n".join(lines) + f"\n{len(requests) + 1}."


def make_prompts(seeds: list, n: int, shots: int, rng: random.Random) -> list:
    """``n`` prompts ``{prompt_id, prompt, shots}``, each from ``shots`` different seeds drawn by ``rng``."""
    if len(seeds) < shots:
        raise ValueError(f"{len(seeds)} seeds cannot fill a {shots}-shot prompt; add seeds or lower redteam_shots")
    out = []
    for k in range(n):
        picked = rng.sample(seeds, shots)
        out.append({"prompt_id": k, "prompt": few_shot_prompt([s["request"] for s in picked]),
                    "shots": [s["id"] for s in picked]})
    return out


def warmup_items(seeds: list, n: int, shots: int, rng: random.Random) -> list:
    """Supervised warm-up rows ``{prompt, completion}``: a few-shot prompt and one more seed as item 4."""
    if len(seeds) < shots + 1:
        raise ValueError(f"{len(seeds)} seeds: the warm-up needs at least {shots + 1}")
    rows = []
    for _ in range(n):
        picked = rng.sample(seeds, shots + 1)
        rows.append({"prompt": few_shot_prompt([s["request"] for s in picked[:shots]]),
                     "completion": " " + picked[-1]["request"]})
    return rows


def clean_proposal(text: str) -> str:
    """The request the proposer wrote: its first line, without a list number or surrounding quotes."""
    first = next((line for line in str(text).splitlines() if line.strip()), "")
    return _NUMBERING.sub("", first).strip().strip('"').strip()
