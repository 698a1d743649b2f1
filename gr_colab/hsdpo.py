"""Hard-sample DPO (HS-DPO): weighted DPO plus an SFT term, on stock TRL.

Stage. The paper (arXiv 2501.18492) trains on the mined hard pairs with LLaMA-Factory: the sigmoid DPO loss with
beta 0.01, an NLL term on the chosen output with weight 2.0 (``pref_ftx``), and a per-pair ``sample_weight`` in
[0.8, 1.2] that multiplies each pair's whole loss before the batch mean. TRL has no per-pair weights (trl#5613), so
:class:`WeightedDPOTrainer` adds them through TRL's own extension points:

* the dataset keeps its ``sample_weight`` column: TRL's tokenization (``_prepare_dataset``) maps without removing
  columns, and :class:`PerPairColumns` adds the column to the ones the Trainer keeps (otherwise
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

import contextlib
import dataclasses
from dataclasses import dataclass, field
from pathlib import Path
from typing import Optional, Sequence, Union

import torch
import torch.nn.functional as F
from accelerate.utils import is_peft_model
from trl import DPOConfig, DPOTrainer
from trl.models.utils import disable_gradient_checkpointing
from trl.trainer.dpo_trainer import DataCollatorForPreference
from trl.trainer.utils import selective_log_softmax, use_adapter

from .trainer_settings import DPOSettings
from .training import WEIGHT_COLUMN, Finished, callbacks, dpo_args, finish, preference_rows


# --- per-pair columns ------------------------------------------------------------------------------------------
@dataclass
class WeightedPreferenceCollator(DataCollatorForPreference):
    """TRL's preference collator, plus one float tensor per extra per-pair column. ``float_columns`` maps a column
    to the value a missing or None entry takes (None: the column is required in every example). By default it
    carries ``sample_weight`` (missing: 1.0) when the examples have it; MODPO carries its margins the same way.
    Padding, truncation and the chosen-then-rejected layout stay TRL's."""

    float_columns: dict = field(default_factory=lambda: {WEIGHT_COLUMN: 1.0})

    def torch_call(self, examples: list[dict]) -> dict:
        batch = super().torch_call(examples)
        for name, default in self.float_columns.items():
            if default is not None and not any(name in ex for ex in examples):
                continue
            values = [ex.get(name) for ex in examples]
            if default is None and any(v is None for v in values):
                raise ValueError(f"column {name!r} is missing from {sum(v is None for v in values)} of the "
                                 f"{len(values)} examples of this batch (it is required)")
            batch[name] = torch.tensor([default if v is None else float(v) for v in values], dtype=torch.float32)
        return batch


class PerPairColumns:
    """For a ``DPOTrainer`` subclass: per-pair float columns (``extra_columns``: name → default, as in
    :class:`WeightedPreferenceCollator`) survive the Trainer's column clean-up and reach ``compute_loss``.

    * TRL's tokenization (``_prepare_dataset``) maps without removing columns, and
      :meth:`_set_signature_columns_if_needed` adds these to the ones the Trainer keeps (otherwise
      ``remove_unused_columns`` drops them silently, and turning it off would keep the string columns too);
    * :meth:`_carry_extra_columns`, called after ``DPOTrainer.__init__``, swaps TRL's collator for a
      :class:`WeightedPreferenceCollator` with the same settings (a collator passed in by the caller is kept).
    """

    extra_columns: dict = {}

    def _carry_extra_columns(self) -> None:
        if type(self.data_collator) is DataCollatorForPreference:
            fields = dataclasses.fields(DataCollatorForPreference)
            self.data_collator = WeightedPreferenceCollator(
                **{f.name: getattr(self.data_collator, f.name) for f in fields},
                float_columns=dict(self.extra_columns))

    def _set_signature_columns_if_needed(self):
        super()._set_signature_columns_if_needed()
        missing = [c for c in self.extra_columns if c not in self._signature_columns]
        if missing:
            self._signature_columns = [*self._signature_columns, *missing]


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


# --- the per-pair log-probabilities, on every TRL version --------------------------------------------------------
_NOT_MODEL_INPUTS = ("completion_mask", "ref_chosen_logps", "ref_rejected_logps")  # TRL's `_non_model_keys`


def completion_token_logps(logits: torch.Tensor, inputs: dict) -> torch.Tensor:
    """Each completion token's log-probability (0 on prompt and padding), shape [2B, L-1], chosen rows first: TRL's
    ``selective_log_softmax`` of the shifted logits, as TRL 1.14.2 computes it (``dpo_trainer.py`` ~1366-1370)."""
    mask = inputs["completion_mask"][..., 1:]
    return selective_log_softmax(logits[..., :-1, :], inputs["input_ids"][..., 1:], row_mask=mask)


class KitDPOLoss:
    """For a ``DPOTrainer`` subclass whose ``compute_loss`` is the kit's (HS-DPO, MODPO): the policy's and the
    reference's log-probabilities of each completion, and TRL's reward metrics.

    Why the kit runs these forwards itself rather than reading them from TRL: TRL's ``_compute_loss`` returns only
    the batch mean of its own loss, and trl 1.15.0 changed its insides: the policy and the reference go through a
    fused LM head (``model(..., labels=..., fused_lm_head=True)``, ``trl/trainer/utils.py`` ~1545-1700 of 1.15.0)
    whose outputs have no ``logits`` (``FusedCausalLMOutput``, ~1507-1542) and whose kernel is Triton, GPU only (on
    a CPU ``_ChunkedLogProbFunction`` is None, ~504-509, so TRL's loss and ``compute_ref_log_probs`` fail there).
    What runs here is TRL 1.14.2's own computation (the plain forward, then ``selective_log_softmax``:
    ``dpo_trainer.py`` ~1308-1322 for the reference, ~1361-1370 for the policy) through helpers that keep their
    shape in 1.14.2 and 1.15.0 (``selective_log_softmax``, ``use_adapter``, ``disable_gradient_checkpointing``), on
    any device: one policy forward and one reference forward per step, as TRL runs. What it costs on 1.15.0: the
    full logits are built, as 1.14.2 always builds them (the fused head's memory saving is not used).

    The loss is a batch mean, so the Trainer must divide it by the gradient-accumulation steps. TRL 1.14.2 asks for
    that with ``model_accepts_loss_kwargs = False`` set in ``DPOTrainer.__init__`` (``dpo_trainer.py`` ~957-961),
    1.15.0 with the class attribute ``loss_is_scaled_for_ga = False`` (read by transformers >= 5.19;
    ``base_trainer.py`` ~66-80 turns it into the former below 5.19). Both are set here, whichever TRL runs.
    """

    loss_is_scaled_for_ga = False

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.model_accepts_loss_kwargs = False

    def policy_token_logps(self, model, inputs: dict):
        """The policy forward (with gradients): per-token completion log-probs [2B, L-1] and the model outputs.
        ``inputs``: the collator's batch without the kit's per-pair columns."""
        model_kwargs = {k: v for k, v in inputs.items() if k not in _NOT_MODEL_INPUTS}
        model_kwargs["use_cache"] = False
        if self.aux_loss_enabled:  # MoE: the model then returns `aux_loss`, as TRL asks for it
            model_kwargs["output_router_logits"] = True
        outputs = model(**model_kwargs)
        return completion_token_logps(outputs.logits, inputs), outputs

    def reference_logps(self, inputs: dict) -> tuple[torch.Tensor, torch.Tensor]:
        """Summed completion log-probs of the chosen and the rejected half under the reference, TRL's rule: the
        precomputed ones (``precompute_ref_log_probs``), else ``ref_model``, else the PEFT policy with its frozen
        ``"ref"`` adapter (a trained starting adapter) or with every adapter off (a fresh one)."""
        if "ref_chosen_logps" in inputs:
            return inputs["ref_chosen_logps"], inputs["ref_rejected_logps"]
        model_kwargs = {k: v for k, v in inputs.items() if k not in _NOT_MODEL_INPUTS}
        model_kwargs["use_cache"] = False
        adapter = contextlib.nullcontext()
        if self.ref_model is not None:
            ref = self.ref_model
        else:
            ref, unwrapped = self.model, self.accelerator.unwrap_model(self.model)
            if not is_peft_model(unwrapped):
                raise ValueError(f"{type(self).__name__}: no reference model (ref_model=None, no PEFT adapter, no "
                                 "precomputed reference log-probs)")
            adapter = use_adapter(unwrapped, adapter_name="ref" if "ref" in unwrapped.peft_config else None)
        with torch.no_grad(), disable_gradient_checkpointing(self.model, self.args.gradient_checkpointing_kwargs), \
                adapter:
            per_token = completion_token_logps(ref(**model_kwargs).logits, inputs)
        return per_token.sum(dim=1).chunk(2, dim=0)

    def log_pair_metrics(self, chosen_rewards, rejected_rewards, chosen_logps, rejected_logps, **extra) -> None:
        """TRL's reward metrics (``dpo_trainer.py`` 1.14.2 ~1691-1713: rewards/chosen, rejected, accuracies,
        margins, logps/chosen, rejected), each the batch mean gathered over processes, plus ``extra`` series."""
        mode = "train" if self.model.training else "eval"
        chosen_rewards, rejected_rewards = chosen_rewards.detach(), rejected_rewards.detach()
        series = {"rewards/chosen": chosen_rewards, "rewards/rejected": rejected_rewards,
                  "rewards/accuracies": (chosen_rewards > rejected_rewards).float(),
                  "rewards/margins": chosen_rewards - rejected_rewards, "logps/chosen": chosen_logps,
                  "logps/rejected": rejected_logps, **extra}
        for key, value in series.items():
            self._metrics[mode][key].append(self.accelerator.gather_for_metrics(value.detach().float()).mean().item())


# --- the trainer -----------------------------------------------------------------------------------------------
class WeightedDPOTrainer(KitDPOLoss, PerPairColumns, DPOTrainer):
    """``DPOTrainer`` with per-pair ``sample_weight`` and a per-pair SFT term (see the module docstring).

    Takes TRL's arguments unchanged. Supported loss settings: ``loss_type`` ``["sigmoid"]`` or
    ``["sigmoid", "sft"]`` (the SFT weight is the ``"sft"`` entry of ``loss_weights``), reverse-KL DPO, no
    ``ld_alpha``, no WPO ``use_weighting``, no Liger kernel (TRL's chunked path, which the kit's loss does not follow).
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

    def compute_loss(self, model, inputs, return_outputs=False, num_items_in_batch=None):
        # TRL's public hook, on every TRL version: the per-pair terms come from KitDPOLoss (see why there).
        inputs = dict(inputs)
        weights = inputs.pop(WEIGHT_COLUMN, None)  # a per-pair column, not a model input
        per_token, outputs = self.policy_token_logps(model, inputs)
        chosen_logps, rejected_logps = per_token.sum(dim=1).chunk(2, dim=0)
        ref_chosen, ref_rejected = (t.to(chosen_logps.dtype) for t in self.reference_logps(inputs))
        chosen_mask = inputs["completion_mask"][..., 1:].chunk(2, dim=0)[0]
        chosen_nll = -per_token.chunk(2, dim=0)[0].sum(dim=1) / chosen_mask.sum(dim=1).clamp(min=1)
        pair_weights = torch.ones_like(chosen_logps) if weights is None else weights.to(chosen_logps.dtype)
        loss = weighted_dpo_loss(chosen_logps, rejected_logps, ref_chosen, ref_rejected, pair_weights, self.beta,
                                 chosen_nll=chosen_nll, sft_weight=self.sft_weight)
        if self.aux_loss_enabled:  # MoE load balancing, as TRL adds it to its own loss
            loss = loss + self.router_aux_loss_coef * outputs.aux_loss

        extra = {"nll/chosen": chosen_nll} if weights is None else {"nll/chosen": chosen_nll,
                                                                     "sample_weight": weights}
        self.log_pair_metrics(self.beta * (chosen_logps - ref_chosen), self.beta * (rejected_logps - ref_rejected),
                              chosen_logps, rejected_logps, **extra)
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
def dpo_config(config, output_dir: Union[str, Path], device: str,
               settings: Optional[DPOSettings] = None) -> DPOConfig:
    """TRL's DPOConfig for HS-DPO (``settings``: another trainer's, e.g. MODPO's; None: ``config.hsdpo_settings()``):
    fp16 on a T4, bf16 on newer GPUs, full precision and no gradient checkpointing on the CPU."""
    return dpo_args(config, settings or config.hsdpo_settings(), output_dir, device)


class HSDPOResult(Finished):
    resumed_from: Optional[str] = None  # the checkpoint this run resumed from (set by train_hsdpo)

    @property
    def reward_accuracies(self) -> list:
        """TRL's rewards/accuracies at each logging step."""
        return self.series("rewards/accuracies")

    @property
    def reward_margins(self) -> list:
        return self.series("rewards/margins")


def load_trained_adapter(model, checkpoint: Optional[str]) -> None:
    """Before ``trainer.train(resume_from_checkpoint=checkpoint)`` of a DPO trainer that holds TRL's "ref" copy (every
    PEFT model passed without a ``ref_model``, dpo_trainer.py 654-682): the checkpoint has the trained adapter at its
    root and the copy in ref/, and transformers 5.17's ``Trainer._load_from_checkpoint``, once it sees an adapter
    subfolder, loads only the subfolders' adapters (trainer.py 3570-3575), never the root one; the run would go on
    from the starting weights with the checkpoint's optimizer. So the trained adapter is loaded here, and the Trainer
    restores the optimizer, scheduler and RNG around it."""
    if checkpoint and "ref" in getattr(model, "peft_config", {}):
        from peft import set_peft_model_state_dict
        from safetensors.torch import load_file

        set_peft_model_state_dict(model, load_file(str(Path(checkpoint) / "adapter_model.safetensors")),
                                  adapter_name=model.active_adapter)


def train_hsdpo(config, loaded, pairs: list[dict], out_dir: Union[str, Path], resume: bool = True,
                settings: Optional[DPOSettings] = None) -> HSDPOResult:
    """Weighted DPO of ``loaded.model`` (a PEFT model; its adapter at the start is the reference) on preference
    pairs (mined hard samples, or rows with a prompt: :func:`gr_colab.training.preference_rows`); resumes from the
    last complete checkpoint in ``out_dir/checkpoints`` (a disconnect costs only the steps since it); saves the
    adapter and the tokenizer to ``out_dir/adapter`` and the curves to ``out_dir``. ``settings``: the trainer's
    (a chapter's own, e.g. the red-team proposer's beta); None: HS-DPO's, ``config.hsdpo_settings()``."""
    from datasets import Dataset

    from .training import resume_point

    if not pairs:
        raise ValueError("HS-DPO needs at least one preference pair")
    out = Path(out_dir)
    rows = preference_rows(pairs, config.prompt_format)
    trainer = WeightedDPOTrainer(model=loaded.model, ref_model=None,
                                 args=dpo_config(config, out / "checkpoints", loaded.device, settings),
                                 train_dataset=Dataset.from_list(rows), processing_class=loaded.tokenizer,
                                 callbacks=callbacks())
    model = trainer.model
    resume_from = resume_point(out / "checkpoints") if resume else None
    load_trained_adapter(model, resume_from)
    try:
        trainer.train(resume_from_checkpoint=resume_from)
    finally:  # TRL's frozen reference copy: not part of the result, and a rerun on this model would re-add it
        if "ref" in getattr(model, "peft_config", {}):
            model.delete_adapter("ref")
    active = model.active_adapter if hasattr(model, "peft_config") else None  # None: a full fine-tune, no adapter
    done = finish(trainer, loaded.tokenizer, out, "HS-DPO", {"pairs": len(rows)},
                  adapters=None if active is None else [active] if isinstance(active, str) else list(active))
    result = HSDPOResult(**vars(done))
    result.resumed_from = resume_from
    return result
