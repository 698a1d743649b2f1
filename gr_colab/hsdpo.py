"""Hard-sample DPO (HS-DPO): weighted DPO plus an SFT term, on stock TRL.

Stage. The paper (arXiv 2501.18492) trains on the mined hard pairs with LLaMA-Factory: the sigmoid DPO loss with
beta 0.01, an NLL term on the chosen output with weight 2.0 (``pref_ftx``), and a per-pair ``sample_weight`` in
[0.8, 1.2] that multiplies each pair's whole loss before the batch mean. TRL has no per-pair weights (trl#5613), so
:class:`WeightedDPOTrainer` adds them through TRL's own extension points:

* the dataset keeps its ``sample_weight`` column: TRL's tokenization (``_prepare_dataset``) maps without removing
  columns, and :class:`gr_colab.training.PerPairColumns` adds the column to the ones the Trainer keeps (otherwise
  ``remove_unused_columns`` drops it silently) and swaps in :class:`WeightedPreferenceCollator` (a
  ``DataCollatorForPreference``), which carries it into the batch as a tensor (MODPO's margins travel the same way);
* :meth:`WeightedDPOTrainer.compute_loss` (TRL's public hook) computes the per-pair log-probabilities itself
  (:class:`KitDPOLoss`: one policy forward, one reference forward, as TRL runs) and returns
  :func:`weighted_dpo_loss` of them, logging TRL's reward metrics. It reads nothing that TRL 1.15 changed, so it
  runs the same on every TRL version Unsloth accepts (1.14.2 and 1.15.0; see :class:`KitDPOLoss` for why).

The loss, per batch of B pairs (the SFT weight is carried the TRL way, ``loss_type=["sigmoid", "sft"]`` with
``loss_weights=[1.0, sft_weight]``)::

    loss = 1/B * sum_i w_i * ( -log sigmoid(beta * ((c_i - rc_i) - (r_i - rr_i))) + sft_weight * nll_i )

where c/r are the summed log-probs of the chosen/rejected completion under the policy, rc/rr under the reference,
and ``nll_i`` is the mean token NLL of pair i's chosen completion (LLaMA-Factory's ``-chosen_logps_avg``). Both
terms are weighted, as LLaMA-Factory weighted the total per-pair loss. Note: TRL's own ``"sft"`` loss is the token
mean over the whole batch, which equals the mean of per-pair means only with batch size 1 (the T4 presets).
With all weights 1 and no SFT term the loss is TRL's sigmoid loss, number for number (tests/test_hsdpo_loss.py).

Reference model: with a PEFT model and ``ref_model=None`` TRL needs no second model. A model that already carries a
trained adapter (the R-SFT adapter, the normal case here) gets a frozen copy named ``"ref"``, which is the reference;
a fresh adapter passed as ``peft_config`` is compared with the base model (adapter disabled). The ``"ref"`` copy is
dropped again after training and is never saved with the HS-DPO adapter.
"""
from __future__ import annotations

from pathlib import Path
from typing import Optional, Sequence, Union

import torch
import torch.nn.functional as F
from trl import DPOConfig, DPOTrainer
from trl.models.utils import disable_gradient_checkpointing
from trl.trainer.utils import selective_log_softmax, use_adapter

from .training import (WEIGHT_COLUMN, Finished, PerPairColumns, callbacks, device_args, finish, grad_accum,
                       preference_rows)


# --- the loss --------------------------------------------------------------------------------------------------
def weighted_dpo_loss(chosen_logps: torch.Tensor, rejected_logps: torch.Tensor, ref_chosen_logps: torch.Tensor,
                      ref_rejected_logps: torch.Tensor, weights: Union[torch.Tensor, Sequence[float], None],
                      beta: float, chosen_nll: Optional[torch.Tensor] = None, sft_weight: float = 0.0) -> torch.Tensor:
    """``mean_i w_i * (dpo_i + sft_weight * nll_i)``, with ``dpo_i`` TRL's sigmoid loss of pair i.

    All inputs are per pair (shape [B]): summed completion log-probs under the policy and the reference,
    the pair weights (None: all 1), and ``chosen_nll`` the mean token NLL of each chosen completion (needed only
    when ``sft_weight`` is not 0). The mean is over pairs (divided by B, not by the sum of the weights), as
    LLaMA-Factory does, so weights in [0.8, 1.2] keep the loss on the scale of unweighted DPO.
    """
    # The same expression, in the same order, as TRL's "sigmoid" branch (beta * (chosen_ratio - rejected_ratio)),
    # so all-ones weights reproduce TRL's numbers bit for bit.
    delta = (chosen_logps - ref_chosen_logps) - (rejected_logps - ref_rejected_logps)
    per_pair = -F.logsigmoid(beta * delta)
    if sft_weight:
        if chosen_nll is None:
            raise ValueError("sft_weight is set but chosen_nll (the per-pair mean token NLL) was not given")
        per_pair = per_pair + sft_weight * chosen_nll
    if weights is None:
        return per_pair.mean()
    weights = torch.as_tensor(weights, dtype=per_pair.dtype, device=per_pair.device)
    if weights.shape != per_pair.shape:
        raise ValueError(f"weights have shape {tuple(weights.shape)}, expected one per pair {tuple(per_pair.shape)}")
    return (weights * per_pair).mean()


# --- the trainer -----------------------------------------------------------------------------------------------
class WeightedDPOTrainer(PerPairColumns, DPOTrainer):
    """``DPOTrainer`` with per-pair ``sample_weight`` and a per-pair SFT term (see the module docstring).

    Takes TRL's arguments unchanged. Supported loss settings: ``loss_type`` ``["sigmoid"]`` or
    ``["sigmoid", "sft"]`` (the SFT weight is the ``"sft"`` entry of ``loss_weights``), reverse-KL DPO, no
    ``ld_alpha``, no WPO ``use_weighting``, no Liger kernel (it does not return the logits the weighting reuses).
    """

    extra_columns = {WEIGHT_COLUMN: 1.0}  # carried to the loss by PerPairColumns; a pair without one weighs 1.0

    def __init__(self, *args, **kwargs):
        config = kwargs.get("args") if "args" in kwargs else (args[2] if len(args) > 2 else None)
        if config is None:
            raise ValueError("WeightedDPOTrainer needs an explicit DPOConfig (args=...); see hsdpo.dpo_config")
        self.sft_weight = _check_supported(config)
        super().__init__(*args, **kwargs)
        if self._is_vision_dataset:
            raise ValueError("WeightedDPOTrainer supports text preference data only")
        # Let TRL choose and validate the pad token and build its collator, then carry the weights on top of it.
        # A collator passed in by the caller is kept as it is (it must add `sample_weight` itself).
        self._carry_extra_columns()

    def _compute_loss(self, model, inputs, return_outputs):
        inputs = dict(inputs)
        weights = inputs.pop(WEIGHT_COLUMN, None)  # not a model input: TRL would pass it to forward()
        mode = "train" if self.model.training else "eval"
        if weights is not None:
            self._metrics[mode]["sample_weight"].append(
                self.accelerator.gather_for_metrics(weights.detach().float()).mean().item())
        if self.sft_weight == 0 and (weights is None or bool(torch.all(weights == 1))):
            return super()._compute_loss(model, inputs, return_outputs)  # TRL's own loss, untouched

        # Why a wrapper and not a copy of TRL's loss: TRL's `_compute_loss` is one long method that computes the
        # per-pair log-ratios but only returns their batch mean. We still let it do everything it does (model
        # kwargs, policy forward, entropy, reward accuracies/margins and other metrics), then recompute the per-pair
        # quantities from the logits it returns with TRL's own `selective_log_softmax`, so the numbers are the ones
        # TRL used. The reference log-probs come from TRL's public `compute_ref_log_probs` (which handles the
        # PEFT "ref" adapter / disabled adapter) and are handed back to TRL through its precomputed-reference path,
        # switched on for this call only, so the reference forward runs once, not twice.
        if "ref_chosen_logps" not in inputs:
            ref_model = self.ref_model if self.ref_model is not None else self.model
            inputs["ref_chosen_logps"], inputs["ref_rejected_logps"] = self.compute_ref_log_probs(ref_model, inputs)
        precompute = self.precompute_ref_logps
        self.precompute_ref_logps = True
        try:
            trl_loss, outputs = super()._compute_loss(model, inputs, return_outputs=True)
        finally:
            self.precompute_ref_logps = precompute
        del trl_loss  # frees TRL's loss graph (its log-softmax buffers) before ours is built

        mask = inputs["completion_mask"][..., 1:]
        per_token = selective_log_softmax(outputs.logits[..., :-1, :], inputs["input_ids"][..., 1:], row_mask=mask)
        chosen_logps, rejected_logps = per_token.sum(dim=1).chunk(2, dim=0)
        chosen_mask = mask.chunk(2, dim=0)[0]
        chosen_nll = -per_token.chunk(2, dim=0)[0].sum(dim=1) / chosen_mask.sum(dim=1).clamp(min=1)
        if weights is None:
            weights = torch.ones_like(chosen_logps)
        loss = weighted_dpo_loss(chosen_logps, rejected_logps, inputs["ref_chosen_logps"],
                                 inputs["ref_rejected_logps"], weights.to(chosen_logps.dtype), self.beta,
                                 chosen_nll=chosen_nll, sft_weight=self.sft_weight)
        if self.aux_loss_enabled:  # MoE load balancing, as TRL adds it to its own loss
            loss = loss + self.router_aux_loss_coef * outputs.aux_loss

        self._metrics[mode]["nll/chosen"].append(
            self.accelerator.gather_for_metrics(chosen_nll.detach().float()).mean().item())
        return (loss, outputs) if return_outputs else loss


def _check_supported(args: DPOConfig) -> float:
    """The SFT weight from ``loss_type``/``loss_weights``; refuses the settings the weighted loss does not follow."""
    types = list(args.loss_type)
    weights = list(args.loss_weights or [1.0] * len(types))
    if "sigmoid" not in types or set(types) - {"sigmoid", "sft"} or len(set(types)) != len(types):
        raise ValueError(f"WeightedDPOTrainer implements loss_type ['sigmoid'] or ['sigmoid', 'sft'], got {types}")
    if weights[types.index("sigmoid")] != 1.0:
        raise ValueError("WeightedDPOTrainer: the 'sigmoid' loss weight must be 1.0 (scale the SFT term instead)")
    unsupported = {"ld_alpha": getattr(args, "ld_alpha", None) is not None,
                   "use_weighting": getattr(args, "use_weighting", False),
                   "use_liger_kernel": getattr(args, "use_liger_kernel", False),
                   "f_divergence_type": getattr(args, "f_divergence_type", "reverse_kl") != "reverse_kl"}
    bad = [name for name, on in unsupported.items() if on]
    if bad:
        raise ValueError(f"WeightedDPOTrainer does not support {', '.join(bad)}; leave them at TRL's defaults")
    return float(weights[types.index("sft")]) if "sft" in types else 0.0


# --- the stage -------------------------------------------------------------------------------------------------
def dpo_config(config, output_dir: Union[str, Path], device: str) -> DPOConfig:
    """TRL's DPOConfig from the kit's config: sigmoid DPO (+ the SFT term as TRL's ``"sft"`` loss), fp16 on a GPU
    without bf16 (a T4), bf16 on newer GPUs, full precision and no gradient checkpointing on the CPU."""
    sft = float(config.hsdpo_sft_weight)
    return DPOConfig(
        output_dir=str(output_dir),
        beta=config.hsdpo_beta,
        loss_type=["sigmoid", "sft"] if sft else ["sigmoid"],
        loss_weights=[1.0, sft] if sft else None,
        learning_rate=config.hsdpo_learning_rate,
        num_train_epochs=config.hsdpo_epochs,
        max_steps=config.hsdpo_max_steps,
        per_device_train_batch_size=config.hsdpo_batch_size,
        gradient_accumulation_steps=grad_accum(config.hsdpo_batch_size, config.hsdpo_grad_accum,
                                               config.hsdpo_effective_batch, "HS-DPO"),
        max_length=config.max_seq_length,
        **device_args(config, device),
    )


class HSDPOResult(Finished):
    @property
    def reward_accuracies(self) -> list:
        """TRL's rewards/accuracies at each logging step."""
        return self.series("rewards/accuracies")

    @property
    def reward_margins(self) -> list:
        return self.series("rewards/margins")


def train_hsdpo(config, loaded, pairs: list[dict], out_dir: Union[str, Path]) -> HSDPOResult:
    """Weighted DPO of ``loaded.model`` (a PEFT model; its adapter at the start is the reference) on preference
    pairs (mined hard samples, or rows with a prompt: :func:`gr_colab.training.preference_rows`); saves the
    adapter and the tokenizer to ``out_dir/adapter`` and the curves to ``out_dir``."""
    from datasets import Dataset

    if not pairs:
        raise ValueError("HS-DPO needs at least one preference pair")
    out = Path(out_dir)
    rows = preference_rows(pairs, config.prompt_format)
    trainer = WeightedDPOTrainer(model=loaded.model, ref_model=None,
                                 args=dpo_config(config, out / "checkpoints", loaded.device),
                                 train_dataset=Dataset.from_list(rows), processing_class=loaded.tokenizer,
                                 callbacks=callbacks())
    model = trainer.model
    try:
        trainer.train()
    finally:  # TRL's frozen reference copy: not part of the result, and a rerun on this model would re-add it
        if "ref" in getattr(model, "peft_config", {}):
            model.delete_adapter("ref")
    active = model.active_adapter if hasattr(model, "peft_config") else None  # None: a full fine-tune, no adapter
    done = finish(trainer, loaded.tokenizer, out, "HS-DPO", {"pairs": len(rows)},
                  adapters=None if active is None else [active] if isinstance(active, str) else list(active))
    return HSDPOResult(**vars(done))
