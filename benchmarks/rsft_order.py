"""What a short R-SFT run of the real lane trains on, step by step: the kit's trainer against plain TRL's, no training.

Issue 23: on the same rows and settings, the kit's 60-step R-SFT of Gemma 3 270M parsed far less often than plain TRL.
This reads the batches each trainer's own dataloader would feed for the first `--steps` steps (the issue's settings:
batch 1, 768 tokens, the released 1B traces after the kit's 10 % held-out split) and prints, per sampler: mean tokens,
rows cut at the maximum length, rows whose trained tokens hold the `Answers:` block, rows that end at the end of turn,
the first and last lengths; then, for the kit as configured now against the baseline of `benchmarks/real_lane.py`: the
training arguments that still differ, whether the fresh LoRA weights are equal and how many batches are identical.
A few minutes on 2 cores (tokenising 867 rows twice, two model loads):

    python benchmarks/rsft_order.py [--formats raw chat] [--steps 60]
"""
from __future__ import annotations

import argparse
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "benchmarks"))

from real_lane import TRAIN, trl_trainer  # noqa: E402  (the same rows and baseline as benchmarks/real_lane.py)

IGNORED = {"output_dir", "logging_dir", "run_name", "disable_tqdm", "save_strategy", "save_steps", "save_total_limit"}


def config_for(fmt: str, steps: int, **overrides):
    from gr_colab.config import GRConfig

    return GRConfig.load("cpu-270m", run_dir=str(ROOT / "runs" / "bench-rsft-order"), prompt_format=fmt,
                         train_files=TRAIN, rsft_max_steps=steps, rsft_batch_size=1, max_seq_length=768,
                         rsft_learning_rate=2e-4, rsft_scheduler="cosine", rsft_warmup_steps=5, **overrides)


def first_batches(trainer, steps: int) -> list:
    out = []
    for i, batch in enumerate(trainer.get_train_dataloader()):
        if i >= steps:
            break
        out.append(batch)
    return out


def stream_figures(batches: list, tokenizer, max_length: int) -> dict:
    """What the first steps train on: a row cut at ``max_length`` has no end of turn and often no Answers block."""
    lengths, answers, closed = [], 0, 0
    for batch in batches:
        ids, labels = batch["input_ids"][0], batch["labels"][0]
        trained = tokenizer.decode(ids[labels != -100])
        lengths.append(int(batch["attention_mask"][0].sum()))
        answers += "Answers:" in trained
        closed += trained.rstrip().endswith((tokenizer.eos_token, "<end_of_turn>"))
    return {"steps": len(batches), "mean_tokens": sum(lengths) / len(lengths),
            "cut": sum(n >= max_length for n in lengths), "answers": answers, "closed": closed,
            "first": lengths[:8], "last": lengths[-10:]}


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--formats", nargs="+", default=["raw", "chat"], choices=["raw", "chat"])
    ap.add_argument("--steps", type=int, default=60)
    args = ap.parse_args(argv)

    import torch

    from gr_colab.models import load_model
    from gr_colab.rsft import build_trainer, training_rows

    for fmt in args.formats:
        config = config_for(fmt, args.steps)
        rows, _, _ = training_rows(config, root=ROOT)
        loaded = load_model(config)
        out = Path(config.path)
        kit_grouped = build_trainer(config.replace(group_by_length=True), loaded, rows, out / "grouped")
        kit = build_trainer(config, loaded, rows, out / "kit")
        trl = trl_trainer(config, rows, out / "trl")
        streams = {"kit, group_by_length (before issue 23)": first_batches(kit_grouped, args.steps),
                   f"kit now (group_by_length {config.group_by_length})": first_batches(kit, args.steps),
                   "plain TRL (benchmarks/real_lane.py)": first_batches(trl, args.steps)}
        print(f"\n## {fmt}: {len(rows)} training rows, first {args.steps} steps at batch 1, 768 tokens\n")
        print("| trainer | mean tokens | cut at 768 | with Answers block | end at end of turn | first 8 lengths | "
              "last 10 lengths |")
        print("|---|---|---|---|---|---|---|")
        for name, batches in streams.items():
            f = stream_figures(batches, loaded.tokenizer, config.max_seq_length)
            print(f"| {name} | {f['mean_tokens']:.0f} | {f['cut']} | {f['answers']} | {f['closed']} | {f['first']} | "
                  f"{f['last']} |")
        a, b = kit.args.to_dict(), trl.args.to_dict()
        differ = {k: (a.get(k), b.get(k)) for k in sorted(set(a) | set(b)) if a.get(k) != b.get(k) and k not in IGNORED}
        lora_kit = {k: v for k, v in kit.model.named_parameters() if "lora_" in k}
        lora_trl = {k: v for k, v in trl.model.named_parameters() if "lora_" in k}
        same_lora = lora_kit.keys() == lora_trl.keys() and all(torch.equal(lora_kit[k], lora_trl[k]) for k in lora_kit)
        same = sum(torch.equal(x["input_ids"], y["input_ids"]) and torch.equal(x["labels"], y["labels"])
                   for x, y in zip(*[streams[k] for k in list(streams)[1:]]))
        print(f"\nkit now vs plain TRL: training arguments that differ (kit, TRL): {differ}")
        print(f"fresh LoRA weights equal: {same_lora} ({len(lora_kit)} tensors); identical batches (input ids and "
              f"labels): {same} of {args.steps}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
