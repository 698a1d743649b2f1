"""The kit's Unsloth backend on the REAL Unsloth (2026.10.9), through Unsloth's CPU backend, in a process of its own.

Run by tests/test_unsloth_real.py as ``python tests/unsloth_cpu_lane.py PRESET TEMPLATE OUT_DIR [--no-dpo]``; prints
one JSON line per step (``{"step": ..., ...}``) for the test to assert on. ``import unsloth`` comes first, as in the
Colab setup cell: on a machine without a GPU it loads ``unsloth/_cpu_init.py`` (``unsloth/__init__.py`` 1652-1663) and
patches TRL for this whole process, which is why this never runs inside pytest's own process (the transformers lane
keeps stock TRL there). What the CPU backend does not run (the GPU path's compiled trainers, the precision check,
Gemma 3 forced to float32) is mirrored by tests/test_unsloth_contract.py instead.
"""
from __future__ import annotations

import json
import sys
from pathlib import Path

import torch  # noqa: E402
import trl  # noqa: E402
import unsloth  # noqa: F401  (first, as on Colab)

from gr_colab import unsloth_backend  # noqa: E402
from gr_colab.config import GRConfig  # noqa: E402
from gr_colab.data import load_train  # noqa: E402
from gr_colab.models import LoadedModel, prepare_tokenizer, resolve_model_path, template_parts  # noqa: E402
from gr_colab.runtime import SAMPLE_DATA  # noqa: E402
from gr_colab.templates import chat_template  # noqa: E402


def say(step: str, **info) -> None:
    print(json.dumps({"step": step, **info}), flush=True)


def main(preset: str, template: str, out: Path, dpo: bool) -> None:
    # trainable_tokens off: Unsloth refuses the field (its merged save would drop the rows; unsloth_backend.load),
    # and cpu-270m sets it for the transformers lane's base Gemma; this lane checks Unsloth's own LoRA path
    cfg = GRConfig.load(preset, run_dir=str(out), max_seq_length=256, rsft_max_steps=2, rsft_batch_size=2,
                        rsft_grad_accum=1, save_steps=100, logging_steps=1, hsdpo_max_steps=2,
                        hsdpo_batch_size=2, hsdpo_grad_accum=1, trainable_tokens=[])
    path = resolve_model_path(cfg)
    model, tok = unsloth_backend.load(cfg, path, torch.float32)
    prepare_tokenizer(tok)
    if template != "own":
        tok.chat_template = chat_template(template)  # the real family template on this tokenizer
        prepare_tokenizer(tok)
    loaded = LoadedModel(model, tok, "unsloth", "cpu", torch.float32, "the real Unsloth's CPU backend", path)
    trainable = [n for n, p in model.named_parameters() if p.requires_grad]
    say("load", model_class=type(model).__name__, fast_model=type(unsloth.FastLanguageModel).__name__
        if not isinstance(unsloth.FastLanguageModel, type) else unsloth.FastLanguageModel.__name__,
        lora_modules=sorted({n.split(".lora_")[0].rsplit(".", 1)[-1] for n in trainable if ".lora_" in n}),
        lora_r=int(next(iter(model.peft_config.values())).r), trainable=len(trainable),
        sft_trainer=f"{trl.SFTTrainer.__module__}.{trl.SFTTrainer.__name__}")

    from gr_colab import rsft

    rows = load_train(SAMPLE_DATA / "train" / "AegisTrainR.json").rows[:4]
    instruction_part, response_part = template_parts(tok)
    trainer = rsft.build_trainer(cfg, loaded, rows, out / "probe")
    batch = trainer.data_collator([trainer.train_dataset[0]])
    ids, labels = batch["input_ids"][0], batch["labels"][0]
    text = tok.decode(ids)
    trained_ids = ids[labels != -100]
    first_trained = int((labels != -100).nonzero()[0])
    say("mask", instruction_part=instruction_part, response_part=response_part,
        masked_prefix=tok.decode(ids[:first_trained]), trained=tok.decode(trained_ids),
        row_input=rows[0]["input"], row_output=rows[0]["output"], text=text,
        bos_count=int((ids == tok.bos_token_id).sum()) if tok.bos_token_id is not None else None)

    result = rsft.train_rsft(cfg, loaded, rows, out_dir=out / "rsft")
    say("rsft", losses=result.losses, global_step=result.global_step, adapter=str(result.adapter_dir))

    if not dpo:
        say("hsdpo", skipped="one HS-DPO step of Gemma 3 270M (262k-word logits, policy + reference) takes minutes on "
            "2 cores: the twin's lane runs it")
    else:
        run_hsdpo(cfg, loaded, rows, out)
    from gr_colab.export import merge_adapter

    merged = merge_adapter(cfg, None, out / "merged", loaded=loaded)  # the kit's export: Unsloth's merged save
    say("merged", files=sorted(p.name for p in merged.iterdir()))

    from gr_colab.export import export_gguf

    checks = export_gguf(merged, out / "gguf", ["f16"], "guard", tokenizer=tok)
    say("gguf", checks=[{k: v for k, v in vars(c).items() if isinstance(v, (str, int, float, bool, type(None)))}
                        for c in checks])


def run_hsdpo(cfg, loaded, rows, out: Path) -> None:
    from gr_colab import hsdpo

    pairs = [{"input": r["input"], "chosen": r["output"], "rejected": rows[(i + 1) % len(rows)]["output"],
              "sample_weight": w} for i, (r, w) in enumerate(zip(rows, (0.8, 1.2, 1.0, 1.1)))]
    done = hsdpo.train_hsdpo(cfg, loaded, pairs, out / "hsdpo")
    say("hsdpo", losses=done.losses, global_step=done.global_step,
        mro=[f"{c.__module__}.{c.__name__}" for c in hsdpo.WeightedDPOTrainer.__mro__],
        dpo_trainer=f"{trl.DPOTrainer.__module__}.{trl.DPOTrainer.__name__}")


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2], Path(sys.argv[3]), dpo=sys.argv[4:] != ["--no-dpo"])
