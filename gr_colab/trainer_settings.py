"""Each trainer's settings as one small object, grouped as TRL groups them (``SFTConfig``, ``DPOConfig``).

Why: the flat :class:`~gr_colab.config.GRConfig` keeps the names a student types (``rsft_learning_rate``,
``hsdpo_beta``, ...), but the shared trainer builders (:func:`gr_colab.rsft.build_trainer`,
:func:`gr_colab.training.dpo_args`) take one of these, so a chapter that reuses a trainer (the red-team proposer,
MODPO) builds its own settings (``DPOSettings(beta=config.modpo_beta, ...)``) instead of overwriting another stage's
fields. ``GRConfig.rsft_settings()`` / ``GRConfig.hsdpo_settings()`` build them from the flat fields.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Optional


@dataclass(frozen=True)
class RSFTSettings:
    """Supervised fine-tuning (R-SFT, the red-team warm-up, hardening): TRL's ``SFTConfig`` part the kit sets."""

    learning_rate: float  # peak learning rate
    epochs: float  # passes over the rows; ignored when max_steps > 0
    max_steps: int = -1  # > 0: exactly this many optimizer steps
    batch_size: int = 2  # sequences per device step
    grad_accum: int = 4  # steps accumulated per optimizer update
    effective_batch: Optional[int] = None  # a target effective batch: the accumulation follows the processes
    warmup_steps: int = 0  # linear warm-up steps before the schedule
    scheduler: str = "cosine"  # learning-rate schedule (transformers' names)
    weight_decay: float = 0.01  # AdamW weight decay
    max_length: int = 1024  # tokens of prompt + completion kept per row (longer rows are truncated)
    name: str = "R-SFT"  # how the effective-batch line names this trainer

    @classmethod
    def from_config(cls, config) -> "RSFTSettings":
        """From the flat ``rsft_*`` fields (and ``max_seq_length``)."""
        return cls(learning_rate=config.rsft_learning_rate, epochs=config.rsft_epochs,
                   max_steps=config.rsft_max_steps, batch_size=config.rsft_batch_size,
                   grad_accum=config.rsft_grad_accum, effective_batch=config.rsft_effective_batch,
                   warmup_steps=config.rsft_warmup_steps, scheduler=config.rsft_scheduler,
                   weight_decay=config.rsft_weight_decay, max_length=config.max_seq_length)


@dataclass(frozen=True)
class DPOSettings:
    """Preference training (HS-DPO, the red-team proposer, both MODPO steps): TRL's ``DPOConfig`` part the kit
    sets. The loss is sigmoid DPO, plus TRL's ``"sft"`` term when ``sft_weight`` is not 0."""

    beta: float  # how far the policy may move from its reference
    learning_rate: float  # peak learning rate
    epochs: float  # passes over the pairs; ignored when max_steps > 0
    max_steps: int = -1  # > 0: exactly this many optimizer steps
    batch_size: int = 1  # pairs per device step
    grad_accum: int = 8  # steps accumulated per optimizer update
    effective_batch: Optional[int] = None  # a target effective batch: the accumulation follows the processes
    sft_weight: float = 0.0  # weight of the NLL term on the chosen answer (LLaMA-Factory's pref_ftx); 0: none
    max_length: int = 1024  # tokens of prompt + completion kept per pair
    name: str = "HS-DPO"  # how the effective-batch line names this trainer

    @classmethod
    def from_config(cls, config) -> "DPOSettings":
        """HS-DPO's, from the flat ``hsdpo_*`` fields (and ``max_seq_length``)."""
        return cls(beta=config.hsdpo_beta, learning_rate=config.hsdpo_learning_rate, epochs=config.hsdpo_epochs,
                   max_steps=config.hsdpo_max_steps, batch_size=config.hsdpo_batch_size,
                   grad_accum=config.hsdpo_grad_accum, effective_batch=config.hsdpo_effective_batch,
                   sft_weight=config.hsdpo_sft_weight, max_length=config.max_seq_length)
