"""R-SFT of Gemma 3 270M (the real-model lane) on real reasoning traces, and what it changes.

Trains on the released GuardReasoner-1B traces that agree with gold (AegisSafetyTest, HarmBenchPrompt, XSTest
response-harmful: `sample_data/real_traces/`) for a fixed number of steps, then evaluates greedily with 512 new
tokens on the first items of SimpleSafetyTests, XSTest refusal and HarmBench response (never trained on), before and
after: parse rate, F1 (corrected and official) beside the F1 of a guard that always answers the positive label,
whether every parsed answer was the same label (a collapsed guard), generated tokens per second, seconds per
training step. Prints the figures and the after/before ratios. Slow on 2 cores (tens of minutes with the defaults):

    python benchmarks/real_lane.py [--steps 40] [--items 30] [--run-dir runs/bench-real-lane]
"""
from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

TRAIN = [f"sample_data/real_traces/{n}-1B.json" for n in ("AegisSafetyTest", "HarmBenchPrompt",
                                                          "XSTestReponseHarmful")]
# SimpleSafetyTests is all harmful (a guard that never reads its input scores 100 there); XSTest refusal and
# HarmBench response hold both labels, and HarmBench response is Task 3, the verdict chapter 09's judge uses.
EVAL = ["SimpleSafetyTests", "XSTestResponseRefusal", "HarmBenchResponse"]


def evaluate_variant(config, loaded, name: str) -> dict:
    from gr_colab.evaluate import evaluate

    start = time.time()
    report = evaluate(config, loaded, name, benchmarks=EVAL, progress=False)
    seconds = time.time() - start
    preds = [json.loads(line) for f in sorted(config.layout.eval_dir(name).glob("*/generated_predictions.jsonl"))
             for line in f.read_text().splitlines()]
    tokens = sum(len(loaded.tokenizer(p["predict"], add_special_tokens=False)["input_ids"]) for p in preds)
    out = {"tokens_per_s": tokens / seconds, "mean_tokens": tokens / max(1, len(preds)), "seconds": seconds}
    for s in report.scores:
        key = "f1_corrected" if s.mode == "corrected" else "f1_official"
        out.setdefault(s.name, {})[key] = s.f1
        if s.mode == "corrected":  # the floor a guard must beat, and whether it answered everything alike
            out[s.name].update(parse_rate=s.parse_rate, always_positive_f1=s.always_positive_f1, one_label=s.one_label)
    return out


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--steps", type=int, default=40)
    ap.add_argument("--items", type=int, default=30, help="first items of each evaluation benchmark")
    ap.add_argument("--batch", type=int, default=2)
    ap.add_argument("--max-seq-length", type=int, default=1024)
    ap.add_argument("--gen-batch", type=int, default=16, help="items generated together")
    ap.add_argument("--run-dir", default="runs/bench-real-lane")
    args = ap.parse_args(argv)

    from gr_colab.config import GRConfig
    from gr_colab.models import load_model
    from gr_colab.rsft import train_rsft, training_rows

    config = GRConfig.load("cpu-270m", run_dir=args.run_dir, train_files=TRAIN, rsft_max_steps=args.steps,
                           rsft_batch_size=args.batch, max_seq_length=args.max_seq_length, max_new_tokens=512,
                           save_steps=max(10, args.steps // 2), rsft_learning_rate=2e-4, holdout_fraction=0.0,
                           eval_limit=args.items, gen_batch_size=args.gen_batch)
    rows, _, report = training_rows(config, root=ROOT)
    print(report)
    before = evaluate_variant(config, load_model(config, trainable=False), "base")
    start = time.time()
    result = train_rsft(config, rows=rows, out_dir=config.path / "rsft")
    seconds_per_step = (time.time() - start) / max(1, result.global_step)
    after = evaluate_variant(config, load_model(config, adapter=result.adapter_dir, trainable=False), "rsft")
    losses = result.losses
    print(f"\nR-SFT of Gemma 3 270M: {result.global_step} steps x batch {args.batch} on {len(rows)} real traces, "
          f"{seconds_per_step:.1f} s/step, loss {losses[0]:.3f} -> {losses[-1]:.3f}")
    print(f"evaluation: first {args.items} items of {', '.join(EVAL)}, greedy, 512 new tokens\n")
    print("| benchmark | figure | before (base) | after (R-SFT) | after/before |")
    print("|---|---|---|---|---|")
    for bench in EVAL:
        for key in ("parse_rate", "f1_corrected", "f1_official"):
            b, a = before[bench][key], after[bench][key]
            ratio = f"{a / b:.2f}x" if b else "n/a (before is 0)"
            print(f"| {bench} | {key} | {b:.3f} | {a:.3f} | {ratio} |")
        print(f"| {bench} | always-positive F1 (the floor) | {after[bench]['always_positive_f1']:.3f} | | |")
        print(f"| {bench} | one label for every parsed item | {before[bench]['one_label']} | "
              f"{after[bench]['one_label']} | |")
    for key in ("tokens_per_s", "mean_tokens"):
        b, a = before[key], after[key]
        print(f"| all | {key} | {b:.1f} | {a:.1f} | {a / b:.2f}x |")
    out = {"steps": result.global_step, "seconds_per_step": seconds_per_step, "loss_first": losses[0],
           "loss_last": losses[-1], "before": before, "after": after}
    (config.path / "benchmark.json").write_text(json.dumps(out, indent=2))
    print(json.dumps(out))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
