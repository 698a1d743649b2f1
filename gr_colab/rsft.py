"""Reasoning SFT: teach the model to write the trace, then the answers.

Stage. TRL's SFTTrainer on prompt/completion rows with the loss on the completion only (TRL's
``completion_only_loss``); on Unsloth, which does not take prompt/completion rows, the same conversations are
rendered by the chat template and Unsloth's ``train_on_responses_only`` masks the prompt. Checkpoints are marked
complete only after the Trainer has written every file of them, so a kill during a save is never resumed from.

Official R-SFT (for comparison with the presets): full fine-tuning of Llama-3.2-1B/3B and Llama-3.1-8B base models,
lr 5e-5, 3 epochs, cosine, no warm-up, max grad norm 1.0, cutoff 2048 tokens, no packing, effective batch 384, bf16.
The T4 presets use LoRA (r=16) on a 4-bit base with lr 2e-4, batch 2 x 4, fp16, 8-bit Adam: what fits in 15 GB.
"""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Optional

from . import dist
from .config import GRConfig
from .data import load_train_files, split_holdout, to_sft_rows
from .trainer_settings import RSFTSettings
from .training import Finished, callbacks, device_args, finish, grad_accum, resume_point


@dataclass
class RSFTResult(Finished):
    resumed_from: Optional[str] = None  # the checkpoint this run resumed from


def training_rows(config: GRConfig, root: Optional[Path] = None) -> tuple[list, list, str]:
    """(train rows, held-out rows, the load report); the held-out rows measure what R-SFT changed."""
    if config.task_format == "six_policy":
        from .data import load_policy_data

        loaded = load_policy_data(_resolve(config.train_files[0], root), skip_bad=config.skip_bad_rows)
    else:
        loaded = load_train_files(config.train_files, limit=config.train_limit, skip_bad=config.skip_bad_rows,
                                  leave_out=config.leave_out, root=root, seed=config.seed)
    rows = loaded.rows
    if config.reasoning_budget != "full" and config.task_format == "guardreasoner":
        from .data import answers_only, conclusions_only

        rows = answers_only(rows) if config.reasoning_budget == "answers" else conclusions_only(rows)
    train, held = split_holdout(rows, config.holdout_fraction, config.seed)
    return train, held, loaded.report()


def _resolve(path: str, root: Optional[Path]) -> Path:
    p = Path(path)
    return p if p.is_absolute() or root is None else Path(root) / p


def trainer_args(config: GRConfig, output_dir: Path, device: str, dataset_text_field: Optional[str] = None,
                 settings: Optional[RSFTSettings] = None, plain_loss: bool = False):
    """TRL's SFTConfig from a trainer's settings (None: R-SFT's, ``config.rsft_settings()``) and the run's machine
    arguments. ``plain_loss``: TRL's ``nll`` loss instead of its default ``chunked_nll`` (:func:`head_is_wrapped`)."""
    from trl import SFTConfig

    s = settings or config.rsft_settings()
    kwargs = dict(
        output_dir=str(output_dir),
        per_device_train_batch_size=s.batch_size,
        gradient_accumulation_steps=grad_accum(s.batch_size, s.grad_accum, s.effective_batch, s.name),
        learning_rate=s.learning_rate,
        num_train_epochs=s.epochs,
        max_steps=s.max_steps,
        lr_scheduler_type=s.scheduler,
        warmup_steps=s.warmup_steps,
        weight_decay=s.weight_decay,
        max_length=s.max_length,
        packing=False,
        train_sampling_strategy="group_by_length" if config.group_by_length else "random",
        disable_tqdm=False,
        **device_args(config, device),
    )
    if plain_loss:
        kwargs.update(loss_type="nll")
    if dataset_text_field:
        kwargs.update(dataset_text_field=dataset_text_field, completion_only_loss=False)
    else:
        kwargs.update(completion_only_loss=True)
    return SFTConfig(**kwargs)


def head_is_wrapped(model) -> bool:
    """The output projection is a PEFT trainable-tokens wrapper: trainable_tokens on a model with tied embeddings
    (Gemma 3 270M). TRL 1.x's default ``chunked_nll`` loss reads ``lm_head.weight`` and ``.bias`` directly
    (sft_trainer.py ``_chunked_ce_forward``), bypassing the wrapper's trained rows (and it has no ``bias``: an
    AttributeError), so such a model trains with the plain ``nll`` loss, through the wrapper's forward."""
    from peft.utils.other import TrainableTokensWrapper  # peft 0.21.2, utils/other.py:829

    get = getattr(model, "get_output_embeddings", None)
    return isinstance(get() if get else None, TrainableTokensWrapper)


def mask_parts(tokenizer, sft_rows: list, prompt_format: str) -> tuple[str, str]:
    """What Unsloth's response-only masking looks for around each completion: the chat template's user and assistant
    markers; for raw text rows that all begin and end alike (the red-team proposer's few-shot lists: the header, the
    next list number), the first line they share and the last."""
    import os

    from .models import template_parts

    if prompt_format == "raw":
        prompts = [r["prompt"] for r in sft_rows]
        start = os.path.commonprefix(prompts).split("\n")[0]
        end = os.path.commonprefix([p[::-1] for p in prompts])[::-1].split("\n")[-1]
        if start.strip() and end.strip():
            return start, end
    return template_parts(tokenizer)


def build_trainer(config: GRConfig, loaded, rows: list, output_dir: Path, sft_rows: Optional[list] = None,
                  settings: Optional[RSFTSettings] = None):
    """The SFTTrainer for this backend; the same rows and masking rule either way. ``sft_rows``: prompt/completion
    rows built already (the red-team proposer's warm-up) instead of guard ``rows``; ``settings``: the trainer's
    (a chapter's own); None: R-SFT's, ``config.rsft_settings()``."""
    from datasets import Dataset
    from trl import SFTTrainer

    settings = settings or config.rsft_settings()
    sft_rows = to_sft_rows(rows, config.prompt_format) if sft_rows is None else sft_rows
    if loaded.backend == "unsloth":
        from . import unsloth_backend

        texts = [loaded.tokenizer.apply_chat_template(r["prompt"] + r["completion"], tokenize=False)
                 for r in sft_rows] if config.prompt_format == "chat" else \
            [r["prompt"] + r["completion"] + loaded.tokenizer.eos_token for r in sft_rows]
        # Tokenized here so there is one BOS whatever the backend: the chat template writes it, and tokenizing the
        # text again would add a second (Unsloth's GPU SFT drops it, unsloth_zoo/dataset_utils.py 2816-2826; its CPU
        # backend and stock TRL do not). Both skip their own tokenization for an input_ids column.
        tok, bos = loaded.tokenizer, loaded.tokenizer.bos_token
        ids = [tok(t, add_special_tokens=not (bos and t.startswith(bos)), truncation=True,
                   max_length=settings.max_length)["input_ids"] for t in texts]
        args = trainer_args(config, output_dir, loaded.device, dataset_text_field="text", settings=settings)
        trainer = SFTTrainer(model=loaded.model, args=args, train_dataset=Dataset.from_dict({"input_ids": ids}),
                             processing_class=loaded.tokenizer, callbacks=callbacks())
        return unsloth_backend.train_on_responses_only(trainer, *mask_parts(loaded.tokenizer, sft_rows,
                                                                              config.prompt_format))
    args = trainer_args(config, output_dir, loaded.device, settings=settings, plain_loss=head_is_wrapped(loaded.model))
    return SFTTrainer(model=loaded.model, args=args, train_dataset=Dataset.from_list(sft_rows),
                      processing_class=loaded.tokenizer, callbacks=callbacks())


def train_rsft(config: GRConfig, loaded=None, rows: Optional[list] = None, resume: bool = True,
               out_dir: Optional[Path] = None, settings: Optional[RSFTSettings] = None) -> RSFTResult:
    """Train, checkpoint every ``save_steps``, resume from the latest complete checkpoint, save the adapter.
    ``settings``: the trainer's (the red-team hardening's own); None: R-SFT's, ``config.rsft_settings()``."""
    from .models import load_model

    out = Path(out_dir) if out_dir else config.layout.stage("rsft")
    ckpt_dir = out / "checkpoints"
    ckpt_dir.mkdir(parents=True, exist_ok=True)
    if rows is None:
        rows, _, report = training_rows(config)
        if dist.is_main():  # one report under a launcher, not one per process
            print(report)
    loaded = loaded or load_model(config)
    if dist.is_main():
        print(f"R-SFT with {loaded.describe()}; {len(rows)} training rows")
    trainer = build_trainer(config, loaded, rows, ckpt_dir, settings=settings)
    resume_from = resume_point(ckpt_dir) if resume else None
    trainer.train(resume_from_checkpoint=resume_from)
    done = finish(trainer, loaded.tokenizer, out, "R-SFT", {"rows": len(rows)})
    return RSFTResult(**vars(done), resumed_from=resume_from)


def label_preview(config: GRConfig, loaded, row: dict) -> dict:
    """What R-SFT trains on for one row: the text of the tokens that carry loss and of those that do not, taken
    from the trainer's own collated batch (so it shows what TRL or Unsloth really masks)."""
    import tempfile

    with tempfile.TemporaryDirectory() as tmp:
        trainer = build_trainer(config, loaded, [row], Path(tmp))
        batch = trainer.data_collator([trainer.train_dataset[0]])
    ids, labels = batch["input_ids"][0], batch["labels"][0]
    keep = batch["attention_mask"][0].bool() if "attention_mask" in batch else ids == ids
    tok = loaded.tokenizer
    return {"ignored": tok.decode(ids[(labels == -100) & keep]), "trained": tok.decode(ids[labels != -100]),
            "ignored_tokens": int(((labels == -100) & keep).sum()), "trained_tokens": int((labels != -100).sum())}
