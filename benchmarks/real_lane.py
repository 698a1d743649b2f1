"""R-SFT of Gemma 3 270M (the real-model lane) by the kit, beside plain TRL + PEFT on the same rows and settings.

Trains on the released GuardReasoner-1B traces that agree with gold (AegisSafetyTest, HarmBenchPrompt, XSTest
response-harmful: `sample_data/real_traces/`, 963 rows) as a new user would, through `run_stage(config, "prepare")`
and `run_stage(config, "rsft")` of the `cpu-270m` preset (its default 10 % held-out split included), and, on the
kit's own prepared training rows, a plain TRL baseline: `SFTTrainer` with completion-only loss and a PEFT LoRA
(r 16, alpha 32, all projections), TRL's defaults otherwise. Both arms get the same steps, batch, learning rate,
schedule, warm-up, maximum length and seed; both are evaluated by the kit's `evaluate()` (greedy, 512 new tokens) on
the first items of SimpleSafetyTests, XSTest refusal and HarmBench response (never trained on). Printed per prompt
format (`raw`, `chat`): parse rate, F1 (corrected) beside the always-positive floor, generated tokens per item,
loss and seconds per step, kit / TRL ratios. Slow on 2 cores (about half an hour an arm with the defaults):

    python benchmarks/real_lane.py [--formats raw chat] [--steps 60] [--items 16] [--run-dir runs/bench-real-lane]
    python benchmarks/real_lane.py --set group_by_length=true   # a kit arm with one field changed (controlled runs)
    python benchmarks/real_lane.py --arms kit trl base           # also the base model (it never parses)
    python benchmarks/real_lane.py --report                      # the finished arms of --run-dir, side by side

An arm whose folder is complete is not trained again (its evaluation resumes item by item), so a kit variant made
with `--set` is compared with the baseline already in the run folder.
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


def evaluate_variant(config, loaded, name: str, benchmarks=EVAL) -> dict:
    from gr_colab.evaluate import evaluate

    start = time.time()
    report = evaluate(config, loaded, name, benchmarks=benchmarks, progress=False)
    seconds = time.time() - start
    preds = [json.loads(line) for f in sorted(config.layout.eval_dir(name).glob("*/generated_predictions.jsonl"))
             for line in f.read_text().splitlines()]
    tokens = sum(len(loaded.tokenizer(p["predict"], add_special_tokens=False)["input_ids"]) for p in preds)
    out = {"tokens_per_s": tokens / seconds, "mean_tokens": tokens / max(1, len(preds)), "seconds": seconds,
           "parsed": 0, "items": 0}
    for s in report.scores:
        key = "f1_corrected" if s.mode == "corrected" else "f1_official"
        out.setdefault(s.name, {})[key] = s.f1
        if s.mode == "corrected":  # the floor a guard must beat, and whether it answered everything alike
            out[s.name].update(parse_rate=s.parse_rate, parsed=s.parsed, rows=s.rows,
                               always_positive_f1=s.always_positive_f1, one_label=s.one_label)
            out["parsed"] += s.parsed
            out["items"] += s.rows
    out["parse_rate"] = out["parsed"] / max(1, out["items"])
    return out


def kit_config(args, fmt: str, run_dir: Path, **overrides):
    """The `cpu-270m` preset with the issue's settings; ``overrides`` change the kit arm only."""
    from gr_colab.config import GRConfig

    return GRConfig.load("cpu-270m", run_dir=str(run_dir), prompt_format=fmt, train_files=TRAIN,
                         rsft_max_steps=args.steps, rsft_batch_size=args.batch, max_seq_length=args.max_seq_length,
                         rsft_learning_rate=args.lr, rsft_scheduler=args.scheduler, rsft_warmup_steps=args.warmup,
                         save_steps=max(10, args.steps // 2), max_new_tokens=args.max_new_tokens, eval_limit=args.items,
                         gen_batch_size=args.gen_batch, **overrides)


def train_kit(config) -> dict:
    """The kit as a user runs it: the prepare and rsft stages (each skipped when already complete)."""
    from gr_colab.pipeline import run_stage

    run_stage(config, "prepare")
    summary = run_stage(config, "rsft")
    losses, runtime = _read_curves(config.layout.stage("rsft") / "curves.csv")
    return {"adapter": summary["adapter"], "seconds_per_step": runtime / summary["steps"], "losses": losses}


def trl_trainer(config, rows: list, output_dir: Path):
    """Plain TRL + PEFT: `SFTTrainer` with completion-only loss and a LoRA r 16 / alpha 32 on all projections, TRL's
    and PEFT's defaults for everything else except the settings under comparison (steps, batch, learning rate,
    schedule, warm-up, maximum length, seed), taken from ``config``.

    The rows are the kit's training rows as `to_sft_rows` gives them (the prompts the evaluation sends, so both arms
    answer the same prompt); nothing else of the kit takes part. `bf16=False` and `gradient_checkpointing=False`
    (TRL defaults both to True) keep float32 on the CPU like the kit: they change precision and speed, not the recipe.
    """
    import torch
    from datasets import Dataset
    from peft import LoraConfig
    from transformers import AutoModelForCausalLM, AutoTokenizer
    from trl import SFTConfig, SFTTrainer

    from gr_colab.data import to_sft_rows
    from gr_colab.models import resolve_model_path

    path = resolve_model_path(config)
    torch.manual_seed(config.seed)  # the same LoRA initialisation as the kit's load_model
    model = AutoModelForCausalLM.from_pretrained(path, dtype=torch.float32)
    args = SFTConfig(output_dir=str(output_dir), per_device_train_batch_size=config.rsft_batch_size,
                     max_steps=config.rsft_max_steps, learning_rate=config.rsft_learning_rate,
                     lr_scheduler_type=config.rsft_scheduler, warmup_steps=config.rsft_warmup_steps,
                     max_length=config.max_seq_length, completion_only_loss=True, seed=config.seed,
                     use_cpu=True, bf16=False, gradient_checkpointing=False, report_to="none",
                     save_steps=config.save_steps, logging_steps=config.logging_steps)
    peft = LoraConfig(r=16, lora_alpha=32, target_modules=["q_proj", "k_proj", "v_proj", "o_proj", "gate_proj",
                                                           "up_proj", "down_proj"], task_type="CAUSAL_LM")
    return SFTTrainer(model=model, args=args, train_dataset=Dataset.from_list(to_sft_rows(rows, config.prompt_format)),
                      processing_class=AutoTokenizer.from_pretrained(path), peft_config=peft)


def train_trl(config) -> dict:
    """The baseline on the rows the kit's prepare stage kept; resumes from its latest checkpoint."""
    from transformers.trainer_utils import get_last_checkpoint

    from gr_colab.pipeline import run_stage
    from gr_colab.runs import is_complete, mark_complete, read_marker
    from gr_colab.runtime import read_jsonl

    out = config.path / "trl"
    adapter = out / "adapter"
    if not is_complete(adapter):
        run_stage(config, "prepare")
        ckpts = out / "checkpoints"
        trainer = trl_trainer(config, read_jsonl(config.layout.train_rows), ckpts)
        resume = get_last_checkpoint(str(ckpts)) if ckpts.is_dir() else None
        trainer.train(resume_from_checkpoint=resume)
        trainer.model.save_pretrained(str(adapter))
        trainer.processing_class.save_pretrained(str(adapter))
        history = trainer.state.log_history
        runtime = next(h["train_runtime"] for h in history if "train_runtime" in h)  # this process's steps
        done_here = trainer.state.global_step - (int(resume.rsplit("-", 1)[1]) if resume else 0)
        mark_complete(adapter, {"global_step": trainer.state.global_step,
                                "losses": [h["loss"] for h in history if "loss" in h],
                                "seconds_per_step": runtime / max(1, done_here)})
    info = read_marker(adapter)
    return {"adapter": str(adapter), "seconds_per_step": info["seconds_per_step"], "losses": info["losses"]}


def _read_curves(path: Path) -> tuple[list, float]:
    """(logged losses, the Trainer's train_runtime in seconds) from the kit's curves.csv."""
    import csv

    with path.open() as f:
        rows = list(csv.DictReader(f))
    runtime = next(float(r["train_runtime"]) for r in rows if r.get("train_runtime"))
    return [float(r["loss"]) for r in rows if r.get("loss")], runtime


def run_arm(args, fmt: str, arm: str, overrides: dict) -> dict:
    from gr_colab.models import load_model

    base_dir = Path(args.run_dir) / fmt
    if arm == "trl":
        config = kit_config(args, fmt, base_dir / "trl")
        trained = train_trl(config)
    elif arm == "base":
        config = kit_config(args, fmt, base_dir / "base")
        trained = {"adapter": None, "seconds_per_step": 0.0, "losses": [float("nan")]}
    else:
        config = kit_config(args, fmt, base_dir / arm, **overrides)
        trained = train_kit(config)
    loaded = load_model(config, adapter=trained["adapter"], trainable=False)
    figures = evaluate_variant(config, loaded, "rsft" if trained["adapter"] else "base", args.benchmarks)
    result = {"arm": arm, "format": fmt, **trained, **figures}
    (config.path / "benchmark.json").write_text(json.dumps(result, indent=2))
    return result


def print_side_by_side(fmt: str, arms: list, args) -> None:
    kit = next((a for a in arms if a["arm"].startswith("kit")), None)
    trl = next((a for a in arms if a["arm"] == "trl"), None)
    names = [a["arm"] for a in arms]
    print(f"\n## prompt format {fmt}: {args.steps} steps x batch {args.batch}, lr {args.lr} {args.scheduler}, "
          f"{args.warmup} warm-up steps, {args.max_seq_length} tokens; first {args.items} items, greedy, "
          f"{args.max_new_tokens} new tokens\n")
    ratio_head = " | kit / TRL" if trl and kit else ""
    print("| benchmark | figure | " + " | ".join(names) + ratio_head + " |")
    print("|---|---|" + "---|" * (len(names) + bool(ratio_head)))

    def line(bench, label, values, ratio=True):
        cells = " | ".join(values(a) for a in arms)
        r = ""
        if ratio_head:
            k, t = _num(values(kit)), _num(values(trl))
            r = " | " + (f"{k / t:.2f}x" if ratio and k is not None and t else "")
        print(f"| {bench} | {label} | {cells}{r} |")

    for bench in args.benchmarks:
        line(bench, "parsed", lambda a: f"{a[bench]['parsed']} of {a[bench]['rows']}")
        line(bench, "F1 corrected", lambda a: f"{a[bench]['f1_corrected']:.1f}")
        line(bench, "always-positive F1 (floor)", lambda a: f"{a[bench]['always_positive_f1']:.1f}", ratio=False)
        line(bench, "one label for every parsed item", lambda a: str(a[bench]["one_label"]), ratio=False)
    line("all", "parse rate", lambda a: f"{a['parse_rate']:.3f}")
    line("all", "generated tokens / item", lambda a: f"{a['mean_tokens']:.0f}")
    line("all", "loss first -> last", lambda a: f"{a['losses'][0]:.3f} -> {a['losses'][-1]:.3f}" if a["losses"]
         else "n/a", ratio=False)
    line("all", "seconds / training step", lambda a: f"{a['seconds_per_step']:.1f}")


def _num(text: str):
    try:
        return float(text.split()[0])
    except (ValueError, IndexError):
        return None


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--formats", nargs="+", default=["raw", "chat"], choices=["raw", "chat"])
    ap.add_argument("--steps", type=int, default=60)
    ap.add_argument("--items", type=int, default=16, help="first items of each evaluation benchmark")
    ap.add_argument("--batch", type=int, default=1)
    ap.add_argument("--max-seq-length", type=int, default=768)
    ap.add_argument("--lr", type=float, default=2e-4)
    ap.add_argument("--scheduler", default="cosine")
    ap.add_argument("--warmup", type=int, default=5)
    ap.add_argument("--gen-batch", type=int, default=16, help="items generated together")
    ap.add_argument("--max-new-tokens", type=int, default=512)
    ap.add_argument("--benchmarks", nargs="+", default=EVAL)
    ap.add_argument("--run-dir", default="runs/bench-real-lane")
    ap.add_argument("--set", action="append", default=[], metavar="FIELD=VALUE",
                    help="a GRConfig field changed in the kit arm only (YAML value); the arm is named after it")
    ap.add_argument("--arms", nargs="+", default=["kit", "trl"], choices=["kit", "trl", "base"],
                    help="kit: the kit (with --set); trl: plain TRL + PEFT; base: the base model, untrained")
    ap.add_argument("--report", action="store_true",
                    help="train nothing: print every finished arm of --run-dir side by side (arms run separately)")
    args = ap.parse_args(argv)

    import yaml

    overrides = {}
    for item in args.set:
        key, _, value = item.partition("=")
        overrides[key] = yaml.safe_load(value)
    kit_arm = "kit" + "".join(f"-{k}={v}" for k, v in overrides.items())
    results = {}
    for fmt in args.formats:
        if args.report:
            found = [json.loads(p.read_text()) for p in sorted((Path(args.run_dir) / fmt).glob("*/benchmark.json"))]
            results[fmt] = sorted(found, key=lambda a: (a["arm"] != "kit", a["arm"] != "trl", a["arm"]))
            continue
        arms = [kit_arm if a == "kit" else a for a in args.arms]
        results[fmt] = [run_arm(args, fmt, arm, overrides) for arm in arms]
    for fmt, arms in results.items():
        if arms:
            print_side_by_side(fmt, arms, args)
    print("\n" + json.dumps({fmt: [{k: v for k, v in a.items() if k != "losses"} for a in arms]
                             for fmt, arms in results.items()}))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
