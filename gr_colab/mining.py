"""Hard-sample mining: where the R-SFT model is sometimes right and sometimes wrong, it has something to learn.

Stage (pure logic over sampled outputs). The paper's rules, and what the official scripts get wrong, handled:

1. k outputs per training item; an output counts only if all three answers parse (the others are counted, not used).
2. An item is hard on a task when some counted outputs are right and some wrong. Request first; only if that is not
   mixed, Response; then Completion — these two only where the item has a real response (gold not None).
   At most one pair per item.
3. chosen = the longest correct output, rejected = the longest wrong one (the first of equal lengths).
4. raw weight = #wrong − #right; per dataset rescaled linearly to ``mine_weight_range`` (the paper's [0.8, 1.2]).
   When a dataset's weights are all equal the official formula divides by zero; here they all get the middle of the
   range.
5. The diversity merge: each dataset's pairs come from chosen models, de-duplicated by input.
"""
from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Iterable, Optional, Union

from .prompts import NO_RESPONSE, TASK_LABELS
from .traces import parse_trace

MINING_ORDER = ("request", "response", "completion")


@dataclass
class MiningResult:
    pairs: list
    stats: Counter = field(default_factory=Counter)
    weight_range: tuple = (0.8, 1.2)  # the [low, high] the weights were rescaled to: the histogram's bins span it

    def summary(self) -> dict:
        by_task = Counter(p["task"] for p in self.pairs)
        by_dataset = Counter(p.get("dataset", "") for p in self.pairs)
        weights = weight_histogram([p["sample_weight"] for p in self.pairs], 5, *self.weight_range)
        return {"pairs": len(self.pairs), "by_task": dict(by_task), "by_dataset": dict(by_dataset),
                "weights": weights, **dict(self.stats)}


def _gold_labels(item: dict) -> dict:
    if "labels" in item:
        return item["labels"]
    return parse_trace(item.get("output") or item.get("label") or "").labels


def mine_item(item: dict, outputs: list[str]) -> tuple[Optional[dict], str]:
    """One item's pair (or None) and why: ``hard:<task>``, ``not-mixed`` (all right or all wrong), ``no-parse``."""
    gold = _gold_labels(item)
    counted = []
    for text in outputs:
        v = parse_trace(text)
        if v.complete:
            counted.append((text, v.labels))
    if not counted:
        return None, "no-parse"
    for task in MINING_ORDER:
        if task != "request" and (gold.get(task) in (None, NO_RESPONSE) or item.get("has_response") is False):
            continue  # tasks 2 and 3 only where the item has a real response
        if gold.get(task) not in TASK_LABELS[task]:
            continue
        right = [t for t, labels in counted if labels[task] == gold[task]]
        wrong = [t for t, labels in counted if labels[task] != gold[task]]
        if right and wrong:
            chosen = max(right, key=len)  # max keeps the first of equal lengths
            rejected = max(wrong, key=len)
            pair = {"id": item.get("id"), "dataset": item.get("dataset", ""), "task": task,
                    "instruction": item.get("instruction"), "input": item.get("input"),
                    "chosen": chosen, "rejected": rejected, "n_right": len(right), "n_wrong": len(wrong),
                    "n_unparsed": len(outputs) - len(counted), "raw_weight": len(wrong) - len(right)}
            return pair, f"hard:{task}"
    return None, "not-mixed"


def rescale(weights: list[float], low: float = 0.8, high: float = 1.2) -> list[float]:
    """Linear map of raw weights onto [low, high]; equal weights (the official division by zero) get the middle."""
    if not weights:
        return []
    lo, hi = min(weights), max(weights)
    if hi == lo:
        return [(low + high) / 2] * len(weights)
    return [low + (w - lo) * (high - low) / (hi - lo) for w in weights]


def assign_weights(pairs: list[dict], low: float = 0.8, high: float = 1.2) -> list[dict]:
    """``sample_weight`` rescaled per dataset, as the official scripts did per dataset file."""
    by_dataset: dict = {}
    for p in pairs:
        by_dataset.setdefault(p.get("dataset", ""), []).append(p)
    for group in by_dataset.values():
        for p, w in zip(group, rescale([p["raw_weight"] for p in group], low, high)):
            p["sample_weight"] = round(w, 6)
    return pairs


def mine(items: list[dict], outputs_by_id: dict, weight_range=(0.8, 1.2)) -> MiningResult:
    """Pairs from every item with sampled outputs; items without outputs are counted as ``missing-samples``."""
    stats: Counter = Counter()
    pairs = []
    for item in items:
        outputs = outputs_by_id.get(item["id"])
        if outputs is None:
            stats["missing-samples"] += 1
            continue
        pair, why = mine_item(item, outputs)
        stats[why.split(":")[0]] += 1
        if pair:
            pairs.append(pair)
    stats["items"] = len(items)
    return MiningResult(assign_weights(pairs, *weight_range), stats, tuple(weight_range))


def paper_sources(main: str, diversity: dict) -> dict:
    """Which models' samples each dataset takes, as in the paper: WildGuard from the main model; every other
    dataset from the diversity models that trained on it (``diversity`` maps a left-out dataset to its model)."""
    sources = {"WildGuardTrainR": [main]}
    for left_out in diversity:
        sources[left_out] = [m for lo, m in diversity.items() if lo != left_out]
    return sources


def merge(per_model: dict, sources: dict, weight_range=(0.8, 1.2)) -> MiningResult:
    """The diversity merge: for each dataset the pairs of its source models, de-duplicated by input (the first
    model listed wins), weights rescaled per dataset again. A dataset with no source listed is reported."""
    stats: Counter = Counter()
    merged = []
    datasets = {p.get("dataset", "") for pairs in per_model.values() for p in pairs}
    for dataset in sorted(datasets):
        if dataset not in sources:
            stats[f"no-source:{dataset}"] += sum(p.get("dataset") == dataset for ps in per_model.values() for p in ps)
            continue
        seen = set()
        for model in sources[dataset]:
            for p in per_model.get(model, []):
                if p.get("dataset") != dataset:
                    continue
                if p["input"] in seen:
                    stats["duplicates"] += 1
                    continue
                seen.add(p["input"])
                merged.append({**p, "model": model})
    stats["pairs"] = len(merged)
    return MiningResult(assign_weights(merged, *weight_range), stats, tuple(weight_range))


def weight_histogram(weights: Iterable[float], bins: int = 5, low: float = 0.8, high: float = 1.2) -> dict:
    """Counts of the pair weights in ``bins`` equal bins over [low, high] (pass the configured range)."""
    counts = Counter()
    width = (high - low) / bins
    for w in weights:
        k = min(bins - 1, max(0, int((w - low) / width))) if width > 0 else 0
        counts[f"{low + k * width:.2f}-{low + (k + 1) * width:.2f}"] += 1
    return dict(sorted(counts.items()))


def save_pairs(result: MiningResult, out_dir: Union[str, Path]) -> tuple[Path, Path]:
    """``pairs.jsonl`` and ``summary.json`` (counts per task and dataset, the weight histogram, the reasons)."""
    from .runtime import atomic_write_json, write_jsonl

    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)

    pairs_path, summary_path = write_jsonl(out / "pairs.jsonl", result.pairs), out / "summary.json"
    atomic_write_json(summary_path, result.summary())
    return pairs_path, summary_path
