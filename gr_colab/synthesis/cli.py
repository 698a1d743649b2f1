"""The command line, ``python -m gr_colab.synthesis``: the same run as the notebook, from a shell or a job.

Its own module so that the stage's functions stay free of argument parsing.
"""
from __future__ import annotations

from typing import Optional

from ..prompts import TASK_LABELS
from .items import load_items
from .recipe import estimate
from .run import synthesize
from .teachers import OpenAICompatibleTeacher, RetryPolicy


def main(argv: Optional[list] = None) -> int:
    import argparse

    p = argparse.ArgumentParser(prog="python -m gr_colab.synthesis",
                                description="Write GuardReasoner-style reasoning traces for labelled items with a "
                                            "teacher behind an OpenAI-compatible endpoint.")
    p.add_argument("--items", action="append", required=True,
                   help="labelled rows (GuardReasonerTrain or benchmark JSON/JSONL) or six-policy samples; repeat")
    p.add_argument("--task", choices=list(TASK_LABELS), help="the task of a benchmark file whose output is a label")
    p.add_argument("--limit", type=int, help="items per file")
    p.add_argument("--base-url", help="e.g. http://127.0.0.1:8080/v1 (llama.cpp); default: OpenAI")
    p.add_argument("--model", default="gpt-4o")
    p.add_argument("--api-key-env", default="OPENAI_API_KEY", help="the environment variable holding the key")
    p.add_argument("--timeout", type=float, default=120.0)
    p.add_argument("--max-tokens", type=int, default=2048)
    p.add_argument("--concurrency", type=int, default=4)
    p.add_argument("--max-attempts", type=int, default=6)
    p.add_argument("--base-delay", type=float, default=1.0)
    p.add_argument("--max-delay", type=float, default=30.0)
    p.add_argument("--cache", required=True, help="the JSONL cache (reused across runs)")
    p.add_argument("--out", required=True, help="the folder for synth_train.json / training_data.json")
    p.add_argument("--budget-usd", type=float)
    p.add_argument("--estimate-only", action="store_true")
    p.add_argument("--no-progress", action="store_true")
    args = p.parse_args(argv)
    items = []
    for path in args.items:
        loaded = load_items(path, task=args.task, limit=args.limit)
        if loaded.skipped:
            print(loaded.report())
        items += loaded.rows
    if args.estimate_only:
        print(estimate(items, args.model, cache=args.cache).describe())
        return 0
    teacher = OpenAICompatibleTeacher(args.base_url, args.model, args.api_key_env, timeout=args.timeout,
                                      max_tokens=args.max_tokens)
    result = synthesize(items, teacher, args.cache, out_dir=args.out, concurrency=args.concurrency,
                        retry=RetryPolicy(args.max_attempts, args.base_delay, args.max_delay),
                        budget_usd=args.budget_usd, progress=not args.no_progress)
    return 0 if result.accepted else 1
