"""How much of each R-SFT batch is real tokens: length-grouped batches (`group_by_length: true`) against plain random
batches (the kit's default since issue 23: grouping fed short runs the longest, cut rows first; docs/real_lane.md).

Lengths are the bundled GuardReasonerTrain-format rows tokenized by the CPU twin's tokenizer (prompt + completion,
as the trainer sees them), bootstrapped to a realistic epoch size. Both samplers are the ones transformers' Trainer
uses (RandomSampler for plain batches; LengthGroupedSampler for train_sampling_strategy="group_by_length"), with
the same batch size and seed, measured side by side in one run.

    python benchmarks/padding.py [--batch-size 8] [--rows 4096]
"""
import argparse
import random
import statistics

import torch
from transformers.trainer_pt_utils import LengthGroupedSampler

from gr_colab.config import SAMPLE_TRAIN, GRConfig
from gr_colab.data import load_train_files, to_sft_rows
from gr_colab.models import load_model
from gr_colab.runtime import SAMPLE_DATA


def lengths_of_sample_data() -> list[int]:
    loaded = load_model(GRConfig.load("cpu-tiny"), trainable=False)
    tok = loaded.tokenizer
    rows = to_sft_rows(load_train_files(SAMPLE_TRAIN, root=SAMPLE_DATA.parent).rows, "chat")
    texts = [tok.apply_chat_template(r["prompt"] + r["completion"], tokenize=False) for r in rows]
    return [len(tok(t, add_special_tokens=False)["input_ids"]) for t in texts]


def real_fraction(lengths: list[int], order: list[int], batch_size: int) -> float:
    real = padded = 0
    for i in range(0, len(order) - batch_size + 1, batch_size):
        batch = [lengths[j] for j in order[i:i + batch_size]]
        real += sum(batch)
        padded += max(batch) * len(batch)
    return real / padded


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--batch-size", type=int, default=8)
    parser.add_argument("--rows", type=int, default=4096)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    base = lengths_of_sample_data()
    rng = random.Random(args.seed)
    lengths = [rng.choice(base) for _ in range(args.rows)]
    print(f"{len(base)} sample rows, tokens per row: median {statistics.median(base):.0f}, "
          f"min {min(base)}, max {max(base)}; bootstrapped to {len(lengths)} rows")
    g = torch.Generator().manual_seed(args.seed)
    plain = torch.randperm(len(lengths), generator=g).tolist()
    print(f"{'batch size':>10} | {'plain random':>12} | {'length-grouped':>20} | ratio")
    for bs in sorted({2, 4, args.batch_size, 16}):
        grouped_bs = list(LengthGroupedSampler(bs, lengths=lengths, generator=torch.Generator().manual_seed(args.seed)))
        a, b = real_fraction(lengths, plain, bs), real_fraction(lengths, grouped_bs, bs)
        print(f"{bs:>10} | {a:>11.1%} | {b:>19.1%} | {b / a:.2f}x")


if __name__ == "__main__":
    main()
