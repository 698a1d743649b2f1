"""The proposer's DPO pairs: a failure-inducing request against a non-failing one sampled from the same prompt."""
from __future__ import annotations

import random


def pairs_within_prompts(labelled: list, per_prompt: int, seed: int) -> list:
    """DPO pairs (chosen = a request that made the target fail, rejected = one that did not) drawn only from
    requests sampled from the *same* few-shot prompt; up to ``per_prompt`` pairs per prompt, weight 1.0.

    Why within a prompt (ReverseGen's released script shuffles failures and successes independently, so its pairs
    cross prompts): DPO compares log π(chosen | x) with log π(rejected | x) for one x. A rejected request sampled
    from another prompt was never a choice the proposer made in context x; its log-probability under x is low
    mostly because it does not continue x's examples, so a cross-prompt pair teaches "stay close to the shots of
    x" as much as "write requests the target fails on". Within a prompt, the context is held fixed and the only
    difference between chosen and rejected is the one the preference is about.
    """
    by_prompt: dict = {}
    for row in labelled:
        if row.get("failure") is None:
            continue  # not judged (the reference abstained): neither side of a pair
        side = "fail" if row["failure"] else "pass"
        by_prompt.setdefault(row["prompt_id"], {"prompt": row["prompt"], "fail": [], "pass": []})[side].append(row)
    rng = random.Random(seed)
    pairs = []
    for pid in sorted(by_prompt):
        group = by_prompt[pid]
        combos = [(f, p) for f in group["fail"] for p in group["pass"]]
        rng.shuffle(combos)
        for f, p in combos[:per_prompt]:
            pairs.append({"prompt_id": pid, "prompt": group["prompt"], "chosen": " " + f["request"],
                          "rejected": " " + p["request"], "sample_weight": 1.0})
    return pairs
