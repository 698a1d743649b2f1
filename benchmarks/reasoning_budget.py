"""The reasoning budget on the real-model lane: full traces, traces cut to their conclusions, and answers only.

Each variant is an R-SFT of Gemma 3 270M (`cpu-270m`) on the same real traces (the released GuardReasoner-1B outputs
that agree with gold, `sample_data/real_traces/`), the same steps and the same seed, differing only in
`reasoning_budget: full | conclusions | answers`; each is evaluated greedily on the same first items of the
benchmarks of `benchmarks/real_lane.py` (never trained on). Printed per variant: generated tokens per item, seconds per
item (latency), parse rate and F1 (corrected); the baseline is the full trace, and each figure's ratio to it is
printed beside it. A plot goes to `<run-root>/reasoning_budget.png`. Trained variants are reused when their run
folder is complete (`--full-run-dir` can point at a full-trace run with the same settings, such as
`benchmarks/real_lane.py`'s runs before issue 23; its arms now train at batch 1, 768 tokens, cosine, into
`<run-dir>/<format>/kit`):

    python benchmarks/reasoning_budget.py [--steps 30] [--items 30] [--full-run-dir runs/bench-real-lane-s3]
"""
from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from real_lane import EVAL, TRAIN  # noqa: E402  (the same data and benchmarks as benchmarks/real_lane.py)

VARIANTS = ("full", "conclusions", "answers")


def run_variant(reasoning: str, run_dir: str, args) -> dict:
    from gr_colab.config import GRConfig
    from gr_colab.evaluate import evaluate
    from gr_colab.models import load_model
    from gr_colab.rsft import train_rsft, training_rows

    config = GRConfig.load("cpu-270m", run_dir=run_dir, train_files=TRAIN, rsft_max_steps=args.steps,
                           rsft_batch_size=args.batch, max_seq_length=args.max_seq_length, max_new_tokens=512,
                           save_steps=max(10, args.steps // 2), rsft_learning_rate=2e-4, holdout_fraction=0.0,
                           eval_limit=args.items, reasoning_budget=reasoning, gen_batch_size=args.gen_batch)
    adapter = config.layout.adapter("rsft")
    if not config.layout.has_adapter("rsft"):
        rows, _, _ = training_rows(config, root=ROOT)
        train_rsft(config, rows=rows, out_dir=config.path / "rsft")
    loaded = load_model(config, adapter=adapter, trainable=False)
    # Each variant is generated and timed here, into eval/budget (generation resumes: predictions and timing.json
    # already there are reused, e.g. seeded from benchmarks/real_lane.py's run of the full trace).
    name = "budget"
    out = config.layout.eval_dir(name)
    timing = out / "timing.json"
    start = time.time()
    report = evaluate(config, loaded, name, benchmarks=EVAL, progress=False)
    preds = [json.loads(line) for f in sorted(out.glob("*/generated_predictions.jsonl"))
             for line in f.read_text().splitlines()[:args.items]]
    if not timing.exists():  # the first evaluation is the timed one; a rerun reads its predictions back
        timing.write_text(json.dumps({"seconds_per_item": (time.time() - start) / len(preds)}))
    tokens = [len(loaded.tokenizer(p["predict"], add_special_tokens=False)["input_ids"]) for p in preds]
    seconds_per_item = json.loads(timing.read_text())["seconds_per_item"]
    scores = [s for s in report.scores if s.mode == "corrected"]
    row = {"reasoning": reasoning, "items": len(preds), "tokens_per_item": sum(tokens) / len(preds),
           "seconds_per_item": seconds_per_item,
           "parse_rate": sum(s.parsed for s in scores) / max(1, sum(s.rows for s in scores))}
    for s in scores:  # F1, the floor a guard must beat, and whether it answered everything alike
        row.update({f"f1_{s.name}": s.f1, f"always_positive_f1_{s.name}": s.always_positive_f1,
                    f"one_label_{s.name}": s.one_label})
    return row


def plot(rows: list, path: Path, steps: int, items: int) -> None:
    """Three panels (tokens, latency, F1 per benchmark), each value on its bar, each benchmark's always-positive F1
    drawn as its floor; the title names the run and the benchmarks (gr_colab.plots: the Figure API, no pyplot)."""
    from gr_colab.plots import figure, grouped_bars, save, title

    fig, axes = figure(15, 4.6, ncols=3)
    names = [r["reasoning"] for r in rows]
    for ax, key, label, fmt in ((axes[0], "tokens_per_item", "generated tokens / item", "{:.0f}"),
                                (axes[1], "seconds_per_item", "latency (s / item)", "{:.2f}")):
        grouped_bars(ax, names, {label: [r[key] for r in rows]}, fmt=fmt, ylim=None)
        ax.set_title(label, fontsize=9)
        ax.get_legend().remove()  # one series: its title says what it is
    grouped_bars(axes[2], EVAL, {r["reasoning"]: [r[f"f1_{b}"] for b in EVAL] for r in rows},
                 floors=[rows[0][f"always_positive_f1_{b}"] for b in EVAL], ylabel="F1 (corrected)", wrap_width=14)
    axes[2].set_title("F1 (corrected) per benchmark", fontsize=9)
    fig.suptitle(title(f"{path.parent.name}: reasoning budget, Gemma 3 270M after {steps} R-SFT steps (CPU, 2 "
                       f"cores), first {items} items of", EVAL), fontsize=10)
    save(fig, path)


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--steps", type=int, default=30)
    ap.add_argument("--items", type=int, default=30)
    ap.add_argument("--batch", type=int, default=2)
    ap.add_argument("--max-seq-length", type=int, default=1024)
    ap.add_argument("--gen-batch", type=int, default=16, help="items generated together")
    ap.add_argument("--run-root", default="runs/bench-reasoning-budget")
    ap.add_argument("--full-run-dir", default=None, help="reuse a full-trace run (benchmarks/real_lane.py's)")
    ap.add_argument("--variants", nargs="+", default=list(VARIANTS), choices=VARIANTS)
    args = ap.parse_args(argv)
    rows = []
    for reasoning in args.variants:
        run_dir = args.full_run_dir if reasoning == "full" and args.full_run_dir else f"{args.run_root}/{reasoning}"
        rows.append(run_variant(reasoning, run_dir, args))
        print(json.dumps(rows[-1]), flush=True)
    base = rows[0]
    keys = ["tokens_per_item", "seconds_per_item", "parse_rate"] + [f"f1_{b}" for b in EVAL]
    print(f"\nReasoning budget: Gemma 3 270M, {args.steps} R-SFT steps x batch {args.batch}, first {args.items} items "
          f"of {', '.join(EVAL)}, greedy, 512 new tokens; ratios to '{base['reasoning']}'\n")
    print("| reasoning | " + " | ".join(keys) + " |")
    print("|---|" + "---|" * len(keys))
    for r in rows:
        cells = [f"{r[k]:.2f} ({r[k] / base[k]:.2f}x)" if base[k] else f"{r[k]:.2f}" for k in keys]
        print(f"| {r['reasoning']} | " + " | ".join(cells) + " |")
    Path(args.run_root).mkdir(parents=True, exist_ok=True)
    plot(rows, Path(args.run_root) / "reasoning_budget.png", args.steps, args.items)
    (Path(args.run_root) / "reasoning_budget.json").write_text(json.dumps(rows, indent=2))
    for b in EVAL:
        print(f"{b}: always-positive F1 {base[f'always_positive_f1_{b}']:.2f}; one label for every parsed item: "
              + ", ".join(f"{r['reasoning']} {r[f'one_label_{b}']}" for r in rows))
    print(f"plot: {Path(args.run_root) / 'reasoning_budget.png'}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
