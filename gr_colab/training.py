"""What every trainer of the kit shares: device arguments, TRL's DPO arguments from a trainer's settings, the LoRA
config, preference rows, the checkpoint rules and the end of training (the per-pair columns are in hsdpo.py).

Below the stages, beside the models (no model loading here): R-SFT, HS-DPO, the red-team proposer and MODPO each
build their own TRL trainer, then all of them resume, mark checkpoints and finish the same way, so a Colab
disconnect is survived the same way in every notebook. The rules:

* a checkpoint is complete only once the Trainer has written every file of it (:class:`MarkComplete`, a
  ``TrainerCallback``, marks it after ``on_save``); one without the marker was cut off and is set aside, never
  resumed from, never deleted;
* an adapter is complete only once weights, tokenizer and curves are written (:func:`finish`, the one end of
  training): a later stage trusts an adapter folder only when it carries the marker.
"""
from __future__ import annotations

import csv
import shutil
from dataclasses import dataclass
from pathlib import Path
from typing import Optional, Sequence

from . import dist
from .runs import is_complete, mark_complete

WEIGHT_COLUMN = "sample_weight"


# --- arguments -------------------------------------------------------------------------------------------------
def device_args(config, device: str) -> dict:
    """The Trainer arguments that depend on the machine: the mixed precision that :mod:`gr_colab.precision` decides
    from the GPU and the model (fp16 on a T4, none for Gemma 3 there, bf16 on Ampere+); on the CPU full precision,
    no gradient checkpointing and plain AdamW (8-bit Adam needs CUDA), all passed explicitly because TRL 1.x changed
    their defaults."""
    from .precision import decide, gpu_capability
    from .tracking import trainer_args

    cuda = device == "cuda"
    precision = decide(config.model_name, device, gpu_capability() if cuda else None, config.dtype)
    return dict(use_cpu=not cuda, bf16=precision.bf16, fp16=precision.fp16,
                gradient_checkpointing=bool(config.gradient_checkpointing) and cuda,
                optim=config.optim if cuda else "adamw_torch", **trainer_args(config), dataloader_num_workers=0,
                seed=config.seed, data_seed=config.seed, max_grad_norm=1.0, logging_steps=config.logging_steps,
                save_strategy="steps", save_steps=config.save_steps, save_total_limit=config.save_total_limit)


def grad_accum(per_device: int, accum: int, target: Optional[int], what: str) -> int:
    """Gradient accumulation for this launch: ``accum`` as set, or, with a ``target`` effective batch, the
    accumulation that reaches it (rounded up) with the processes of this launch, so a preset keeps its effective
    batch when the number of GPUs changes. Prints the effective batch (per-device x processes x accumulation)."""
    processes = dist.world_size()
    if target:
        accum = max(1, -(-int(target) // (per_device * processes)))
    effective = per_device * processes * accum
    if target and effective != target and dist.is_main():
        print(f"{what}: effective batch {effective}, not the target {target}: {target} is not a multiple of "
              f"{per_device} per device x {processes} process(es); accumulation rounded up to {accum}")
    return accum


def effective_batch_line(args) -> str:
    """The effective batch of a Trainer's arguments: per-device batch x processes x accumulation, and how the
    processes share the work (accelerate's distributed type; DeepSpeed's ZeRO stage)."""
    per, procs, accum = args.per_device_train_batch_size, args.world_size, args.gradient_accumulation_steps
    return (f"effective batch {per * procs * accum} = {per} per device x {procs} process(es) x {accum} "
            f"accumulation ({args.parallel_mode.value}, {launch_kind()})")


def launch_kind() -> str:
    """accelerate's distributed type of this run (NO, MULTI_CPU, MULTI_GPU, DEEPSPEED + its ZeRO stage, FSDP)."""
    from accelerate.state import AcceleratorState

    if not AcceleratorState._shared_state:
        return "NO"
    state = AcceleratorState()
    plugin = getattr(state, "deepspeed_plugin", None)
    return state.distributed_type.value + (f" ZeRO-{plugin.zero_stage}" if plugin is not None else "")


def dpo_args(config, settings, output_dir, device: str):
    """TRL's DPOConfig from a trainer's :class:`~gr_colab.trainer_settings.DPOSettings` (HS-DPO's, the red-team
    proposer's, MODPO's) and the run's machine arguments: sigmoid DPO, plus the SFT term as TRL's ``"sft"`` loss."""
    from trl import DPOConfig  # here, not at the top: importing this module must not import TRL (the CLI's start)

    sft = float(settings.sft_weight)
    return DPOConfig(
        output_dir=str(output_dir),
        beta=settings.beta,
        loss_type=["sigmoid", "sft"] if sft else ["sigmoid"],
        loss_weights=[1.0, sft] if sft else None,
        learning_rate=settings.learning_rate,
        num_train_epochs=settings.epochs,
        max_steps=settings.max_steps,
        per_device_train_batch_size=settings.batch_size,
        gradient_accumulation_steps=grad_accum(settings.batch_size, settings.grad_accum, settings.effective_batch,
                                               settings.name),
        max_length=settings.max_length,
        **device_args(config, device),
    )


def lora_config(config, tokenizer=None):
    """PEFT's LoraConfig; ``trainable_tokens`` become ``trainable_token_indices`` (their ids in ``tokenizer``): those
    rows of the input embeddings train beside LoRA, and of the output embeddings too when they are tied (PEFT ties
    the two wrappers), the adapter saves them and ``merge_and_unload`` writes them into the merged weights."""
    from peft import LoraConfig

    return LoraConfig(r=config.lora_r, lora_alpha=config.lora_alpha, lora_dropout=config.lora_dropout,
                      target_modules=list(config.target_modules), bias="none", task_type="CAUSAL_LM",
                      modules_to_save=list(config.modules_to_save) or None,
                      trainable_token_indices=trainable_token_ids(config, tokenizer) or None)


def trainable_token_ids(config, tokenizer) -> list[int]:
    """The ids of the config's ``trainable_tokens``, each one whole token of ``tokenizer`` (as the chat template's
    special tokens are); a token the tokenizer lacks is refused, naming the field."""
    from .config import ConfigError

    tokens = list(config.trainable_tokens)
    if not tokens:
        return []
    if config.finetune != "lora":
        raise ConfigError("trainable_tokens: trains embedding rows beside a LoRA adapter; finetune: full already "
                          "trains every row, so set trainable_tokens: []")
    if tokenizer is None:
        raise ValueError("trainable_tokens: the tokenizer is needed to find the tokens' ids")
    vocab = tokenizer.get_vocab()
    missing = [t for t in tokens if not isinstance(t, str) or t not in vocab]
    if missing:
        raise ConfigError(f"trainable_tokens: {missing} not a token of {config.model_name}'s tokenizer (each entry "
                          "is one token's exact text, e.g. '<end_of_turn>' for Gemma, '<|eot_id|>' for Llama 3)")
    return sorted({int(vocab[t]) for t in tokens})


# --- preference rows -------------------------------------------------------------------------------------------
def preference_rows(pairs: list[dict], prompt_format: str = "chat") -> list[dict]:
    """TRL preference rows from pairs: mined hard samples (``input``, ``instruction``: the guard prompt is built
    here) or rows with a ``prompt`` already. Conversational (prompt = user messages, chosen/rejected = one
    assistant message) for ``chat``, plain strings for ``raw``; ``sample_weight`` kept (1.0 when a pair has none)."""
    from .prompts import INSTRUCTION, chat_messages, raw_prompt

    if prompt_format not in ("chat", "raw"):
        raise ValueError(f"prompt_format must be 'chat' or 'raw', got {prompt_format!r}")
    rows = []
    for i, p in enumerate(pairs):
        missing = [k for k in ("chosen", "rejected") if k not in p] + ([] if "prompt" in p or "input" in p
                                                                       else ["prompt (or input)"])
        if missing:
            raise ValueError(f"pair {i} has no {', '.join(missing)}")
        prompt = p.get("prompt")
        if prompt is None:  # a mined pair: the guard's prompt for its input
            instruction = p.get("instruction") or INSTRUCTION
            prompt = chat_messages(p["input"], instruction=instruction) if prompt_format == "chat" else \
                raw_prompt(p["input"], instruction)
        chosen, rejected = p["chosen"], p["rejected"]
        if prompt_format == "chat":
            prompt = [{"role": "user", "content": prompt}] if isinstance(prompt, str) else list(prompt)
            chosen, rejected = (c if isinstance(c, list) else [{"role": "assistant", "content": c}]
                                for c in (chosen, rejected))
        else:
            prompt = prompt if isinstance(prompt, str) else prompt[-1]["content"]
            chosen, rejected = (c if isinstance(c, str) else c[-1]["content"] for c in (chosen, rejected))
        weight = p.get(WEIGHT_COLUMN)
        rows.append({"prompt": prompt, "chosen": chosen, "rejected": rejected,
                     WEIGHT_COLUMN: 1.0 if weight is None else float(weight)})
    return rows


# --- checkpoints -----------------------------------------------------------------------------------------------
def complete_checkpoints(output_dir: Path) -> list[Path]:
    """Checkpoints whose every file was written, oldest first."""
    found = [p for p in Path(output_dir).glob("checkpoint-*") if is_complete(p)]
    return sorted(found, key=lambda p: int(p.name.split("-")[-1]))


def set_aside_incomplete(output_dir: Path) -> list[Path]:
    """A checkpoint without the marker was cut off mid-save: move it aside (never delete a user's files)."""
    moved = []
    for p in Path(output_dir).glob("checkpoint-*"):
        if p.is_dir() and not p.name.endswith(".incomplete") and not is_complete(p):
            target = p.with_name(p.name + ".incomplete")
            if target.exists():
                shutil.rmtree(target)
            p.rename(target)
            moved.append(target)
    return moved


def resume_point(output_dir: Path) -> Optional[str]:
    """The latest complete checkpoint to resume from (None: start), after setting aside the cut-off ones. Under a
    launcher the main process sets them aside (two ranks renaming one folder would race) while the others wait."""
    if dist.is_main():
        for m in set_aside_incomplete(output_dir):
            print(f"set aside an incomplete checkpoint (cut off mid-save): {m}")
    dist.wait_for_everyone()
    done = complete_checkpoints(output_dir)
    if done and dist.is_main():
        print(f"resuming from {done[-1]}")
    return str(done[-1]) if done else None


def callbacks() -> list:
    """The callbacks every trainer of the kit gets: :class:`MarkComplete`."""
    from transformers import TrainerCallback

    class MarkComplete(TrainerCallback):
        """on_save runs after the Trainer wrote weights, optimizer, scheduler, RNG and trainer state."""

        def on_train_begin(self, args, state, control, **kwargs):
            if state.is_world_process_zero:  # what the Trainer really uses, whoever built its arguments
                print(effective_batch_line(args))
            return control

        def on_save(self, args, state, control, **kwargs):
            if state.is_world_process_zero:
                ckpt = Path(args.output_dir) / f"checkpoint-{state.global_step}"
                if ckpt.exists():
                    mark_complete(ckpt, {"global_step": state.global_step})
            return control

    return [MarkComplete()]


# --- the end of training ---------------------------------------------------------------------------------------
@dataclass
class Finished:
    """What a finished training run left: the adapter folder, the Trainer's log history and the curves."""

    adapter_dir: Path
    log_history: list
    curves_csv: Path
    curves_png: Optional[Path]
    global_step: int

    @property
    def losses(self) -> list:
        return [h["loss"] for h in self.log_history if "loss" in h]

    def series(self, key: str) -> list:
        return [h[key] for h in self.log_history if key in h]


def finish(trainer, tokenizer, out_dir: Path, title: str, info: Optional[dict] = None,
           adapters: Optional[Sequence[str]] = None) -> Finished:
    """Save the adapter (safetensors; only ``adapters`` when given) and the tokenizer to ``out_dir/adapter``, the
    curves to ``out_dir``, then the adapter's marker, last."""
    out = Path(out_dir)
    adapter_dir = out / "adapter"
    kwargs = {"selected_adapters": list(adapters)} if adapters else {}
    history = list(trainer.state.log_history)
    csv_path, png_path = out / "curves.csv", None
    sharded = getattr(trainer, "is_deepspeed_enabled", False) or getattr(trainer, "is_fsdp_enabled", False)
    if sharded:  # ZeRO-3 / FSDP: every process takes part in gathering the weights; the Trainer writes on rank 0
        trainer.save_model(str(adapter_dir))
    if dist.is_main():  # under a launcher: one writer; every process has the same weights and log history
        if not sharded:
            trainer.model.save_pretrained(str(adapter_dir), safe_serialization=True, **kwargs)
        tokenizer.save_pretrained(str(adapter_dir))
        csv_path, png_path = save_curves(history, out, title)
        mark_complete(adapter_dir, {"global_step": trainer.state.global_step, "processes": dist.world_size(),
                                    **(info or {})})
    dist.wait_for_everyone()  # a later step (on any process) reads the adapter
    if png_path is None and (out / "curves.png").exists():
        png_path = out / "curves.png"
    return Finished(adapter_dir, history, csv_path, png_path, trainer.state.global_step)


def save_curves(history: list, out: Path, title: str) -> tuple[Path, Optional[Path]]:
    """The Trainer's log history as CSV and a PNG of every logged loss-like series over steps."""
    from matplotlib.figure import Figure  # no pyplot: a student's own plt.show() keeps the notebook's backend

    out.mkdir(parents=True, exist_ok=True)
    keys = sorted({k for h in history for k in h if isinstance(h.get(k), (int, float))})
    csv_path = out / "curves.csv"
    with csv_path.open("w", newline="") as f:
        writer = csv.DictWriter(f, fieldnames=keys)
        writer.writeheader()
        for h in history:
            writer.writerow({k: h.get(k, "") for k in keys})
    series = [k for k in keys if k not in ("step", "epoch") and ("loss" in k or "accurac" in k or "margin" in k)
              and not k.startswith("train_")]
    if not series:
        return csv_path, None
    fig = Figure(figsize=(4.5 * len(series), 3.2))
    axes = fig.subplots(1, len(series), squeeze=False)
    for ax, key in zip(axes[0], series):
        pts = [(h["step"], h[key]) for h in history if key in h and "step" in h]
        ax.plot([p[0] for p in pts], [p[1] for p in pts], marker=".")
        ax.set_title(key)
        ax.set_xlabel("step")
    fig.suptitle(title)
    fig.tight_layout()
    png_path = out / "curves.png"
    fig.savefig(png_path, dpi=100)
    return csv_path, png_path
