"""Time and size of each GGUF type, and how closely each agrees with the merged HF model, as a table.

Baseline: the merged safetensors model (float32 for the twin) that every GGUF is converted from; each row gives the
file's size as a ratio of it, the time to write it, and the greedy-token agreement and first-step logit difference
against it, measured side by side in one run.

    python benchmarks/export.py [--run-dir runs/cpu-tiny]   # a run whose R-SFT is done (make run makes one)
"""
import argparse
import time
from pathlib import Path

from gr_colab.config import GRConfig
from gr_colab.export import export_gguf, merge_adapter
from gr_colab.pipeline import run_stage


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--run-dir", default="runs/bench-export")
    args = parser.parse_args()
    config = GRConfig.load("cpu-tiny", run_dir=args.run_dir)
    for stage in ("prepare", "rsft"):
        run_stage(config, stage)
    out = Path(args.run_dir) / "bench-export"
    start = time.time()
    merged = merge_adapter(config, config.layout.adapter("rsft"), out / "merged")
    merge_s = time.time() - start
    base_mb = sum(f.stat().st_size for f in merged.glob("*.safetensors")) / 1e6
    checks = export_gguf(merged, out / "gguf", ["f16", "q8_0", "q4_k_m"], "bench")
    print(f"merged safetensors (baseline): {base_mb:.2f} MB, {merge_s:.1f} s to merge")
    print("| type | size (MB) | size / merged | time (s) | loads | same greedy tokens | agreement | "
          "max first-step logit diff | template | tokenizer |")
    print("|---|---|---|---|---|---|---|---|---|---|")
    for c in checks:
        print(f"| {c.kind} | {c.size_mb:.2f} | {c.size_mb / base_mb:.2f} | {c.seconds:.2f} | {c.loads} | "
              f"{c.same_tokens} | {c.agreement:.0%} | {c.max_logit_diff:.4f} | {c.template_matches} | "
              f"{c.tokenizer_matches} |")


if __name__ == "__main__":
    main()
