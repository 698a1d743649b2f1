"""MODPO (arXiv 2310.03708): a chat model trained for helpfulness with a safety reward as a margin, on stock TRL.

The trainer. Multi-objective DPO in two steps, as the paper's safety recipe (code ZHZisZZ/modpo, BeaverTails script):

1. **the safety reward**: DPO on the "safer" preferences gives an adapter whose implicit reward
   ``r_safe(x, y) = beta * (log p_safe(y|x) - log p_ref(y|x))`` (summed log-probs, ``p_ref`` the same base with the
   adapter off) scores how safe an answer is. The kit's DPO trainer (:mod:`gr_colab.hsdpo`) trains it, with
   MODPO's own settings (:func:`dpo_settings`: the ``modpo_*`` fields) and no SFT term;
2. **MODPO**: DPO on the "better" (helpfulness) preferences with that reward as a margin. With ``w`` the weight of
   helpfulness and ``1 - w`` that of safety, per pair::

       chosen   = (beta * (log pi(y_c) - log pi_ref(y_c)) - (1 - w) * m_c) / w
       rejected = (beta * (log pi(y_r) - log pi_ref(y_r)) - (1 - w) * m_r) / w
       loss     = -log sigmoid(chosen - rejected)

   where ``m = r_safe(x, y)`` of each answer (:func:`modpo_loss`). ``w = 1`` is DPO on the "better" preferences.

TRL has no MODPO and no margin column. :class:`MODPOTrainer` extends ``DPOTrainer`` through its public
``compute_loss`` (the log-probabilities from :class:`gr_colab.hsdpo.KitDPOLoss`, the same on trl 1.14.2 and
1.15.0); the margins travel as per-pair columns with :class:`gr_colab.hsdpo.PerPairColumns` (the same
plumbing as HS-DPO's weights). The safety adapter is frozen, so the margins are computed once, before any training,
and reused for every ``w`` of the sweep (:func:`compute_margins`). The chapter's run (the sweep over ``w``) is
:mod:`gr_colab.modpo.run`.
"""
from __future__ import annotations

from pathlib import Path
from typing import Optional, Sequence, Union

import torch
import torch.nn.functional as F
from trl import DPOTrainer
from trl.trainer.utils import selective_log_softmax, use_adapter

from ..hsdpo import KitDPOLoss, PerPairColumns
from ..trainer_settings import DPOSettings
from ..training import callbacks, dpo_args, finish, preference_rows

MARGIN_CHOSEN, MARGIN_REJECTED = "margin_chosen", "margin_rejected"


# --- the loss --------------------------------------------------------------------------------------------------
def modpo_rewards(policy_chosen_logps, policy_rejected_logps, ref_chosen_logps, ref_rejected_logps,
                  margin_chosen, margin_rejected, beta: float, w: float) -> tuple[torch.Tensor, torch.Tensor]:
    """MODPO's per-pair rewards of the chosen and the rejected answer (the terms inside the sigmoid)."""
    if not 0.0 < float(w) <= 1.0:
        raise ValueError(f"w (the helpfulness weight) must be in (0, 1], got {w!r}: 1/w scales the loss")
    chosen = (beta * (policy_chosen_logps - ref_chosen_logps) - (1.0 - w) * margin_chosen) / w
    rejected = (beta * (policy_rejected_logps - ref_rejected_logps) - (1.0 - w) * margin_rejected) / w
    return chosen, rejected


def modpo_loss(policy_chosen_logps: torch.Tensor, policy_rejected_logps: torch.Tensor,
               ref_chosen_logps: torch.Tensor, ref_rejected_logps: torch.Tensor, margin_chosen: torch.Tensor,
               margin_rejected: torch.Tensor, beta: float, w: float) -> torch.Tensor:
    """Per-pair MODPO losses (shape [B]), as the paper's ``modpo_loss`` with ``w = (w, 1 - w)``.

    Inputs are per pair: summed completion log-probs under the policy and the reference, and the margins
    ``m = beta * (log p_reward - log p_ref)`` of the chosen and rejected answers under the frozen safety reward.
    """
    chosen, rejected = modpo_rewards(policy_chosen_logps, policy_rejected_logps, ref_chosen_logps,
                                     ref_rejected_logps, margin_chosen, margin_rejected, beta, w)
    return -F.logsigmoid(chosen - rejected)


# --- the trainer -----------------------------------------------------------------------------------------------
class MODPOTrainer(KitDPOLoss, PerPairColumns, DPOTrainer):
    """``DPOTrainer`` with MODPO's loss; ``w`` is the helpfulness weight, the dataset carries the margins.

    Takes TRL's arguments plus ``w``. The train dataset needs the ``margin_chosen`` and ``margin_rejected``
    columns (:func:`compute_margins`). The reference is TRL's: a frozen copy of the starting adapter (a fresh
    adapter: the base model, i.e. the SFT model of the paper). Sigmoid loss only, reverse KL, no Liger kernel.
    """

    extra_columns = {MARGIN_CHOSEN: None, MARGIN_REJECTED: None}  # required in every pair

    def __init__(self, *args, w: float, **kwargs):
        if not 0.0 < float(w) <= 1.0:
            raise ValueError(f"w (the helpfulness weight) must be in (0, 1], got {w!r}")
        self.w = float(w)
        config = kwargs.get("args") if "args" in kwargs else (args[2] if len(args) > 2 else None)
        if config is None:
            raise ValueError("MODPOTrainer needs an explicit DPOConfig (args=...); see training.dpo_args")
        if list(config.loss_type) != ["sigmoid"] or getattr(config, "use_liger_kernel", False) or \
                getattr(config, "f_divergence_type", "reverse_kl") != "reverse_kl" or config.ld_alpha is not None:
            raise ValueError("MODPOTrainer implements MODPO's sigmoid loss: loss_type ['sigmoid'], reverse KL, "
                             "no ld_alpha, no Liger kernel")
        dataset = kwargs.get("train_dataset")
        if dataset is not None:
            missing = [c for c in self.extra_columns if c not in dataset.column_names]
            if missing:
                raise ValueError(f"the train dataset has no {', '.join(missing)} column: compute the margins with "
                                 "the safety reward first (modpo.compute_margins)")
        super().__init__(*args, **kwargs)
        self._carry_extra_columns()

    def compute_loss(self, model, inputs, return_outputs=False, num_items_in_batch=None):
        # Why not TRL's `_compute_loss`: it only returns the batch mean of its own losses. The policy's and the
        # reference's log-probs come from KitDPOLoss (TRL 1.14.2's computation, the same on 1.15.0: see why there),
        # and the loss is MODPO's.
        inputs = dict(inputs)
        margin_c, margin_r = inputs.pop(MARGIN_CHOSEN), inputs.pop(MARGIN_REJECTED)  # per-pair, not model inputs
        per_token, outputs = self.policy_token_logps(model, inputs)
        chosen_logps, rejected_logps = per_token.sum(dim=1).chunk(2, dim=0)
        ref_c, ref_r = self.reference_logps(inputs)
        dtype = chosen_logps.dtype
        args = (chosen_logps, rejected_logps, ref_c.to(dtype), ref_r.to(dtype), margin_c.to(dtype),
                margin_r.to(dtype), self.beta, self.w)
        loss = modpo_loss(*args).mean()
        if self.aux_loss_enabled:  # MoE load balancing, as TRL adds it to its own loss
            loss = loss + self.router_aux_loss_coef * outputs.aux_loss

        with torch.no_grad():
            chosen_r, rejected_r = modpo_rewards(*(a.detach() if torch.is_tensor(a) else a for a in args))
        self.log_pair_metrics(chosen_r, rejected_r, chosen_logps, rejected_logps,
                              **{"safety_margin/chosen": margin_c, "safety_margin/rejected": margin_r})
        return (loss, outputs) if return_outputs else loss


# --- implicit rewards (the margins, helpfulness and cost) ------------------------------------------------------
def prompt_and_completion_ids(tokenizer, prompt: Union[str, list], completion: str) -> tuple[list, list]:
    """Token ids of a prompt and of its completion as a DPO trainer sees them: a chat prompt (a list of messages)
    through the tokenizer's own template, the completion being what the full conversation adds (its end-of-turn
    included); a plain-string prompt gets the completion and the end-of-text token appended."""
    from ..generate import encode_text  # the kit's one rule for a leading BOS in an already rendered text

    if isinstance(prompt, str):
        prompt_ids = encode_text(tokenizer, prompt)
        full = encode_text(tokenizer, prompt + completion + (tokenizer.eos_token or ""))
    else:
        render = lambda msgs, gen: tokenizer.apply_chat_template(msgs, tokenize=False,  # noqa: E731
                                                                 add_generation_prompt=gen)
        prompt_ids = encode_text(tokenizer, render(prompt, True))
        full = encode_text(tokenizer, render(list(prompt) + [{"role": "assistant", "content": completion}], False))
    n = 0
    while n < min(len(prompt_ids), len(full)) and prompt_ids[n] == full[n]:
        n += 1
    return full[:n], full[n:]


def completion_logps(model, tokenizer, prompts: Sequence, completions: Sequence[str], batch_size: int = 8,
                     max_length: Optional[int] = None) -> torch.Tensor:
    """Summed log-probability of each completion given its prompt under ``model`` as it is (adapters as set)."""
    if len(prompts) != len(completions):
        raise ValueError(f"{len(prompts)} prompts for {len(completions)} completions")
    device = next(model.parameters()).device
    pad = tokenizer.pad_token_id if tokenizer.pad_token_id is not None else tokenizer.eos_token_id
    out = []
    model.eval()
    for start in range(0, len(prompts), batch_size):
        seqs, masks = [], []
        for p, c in zip(prompts[start:start + batch_size], completions[start:start + batch_size]):
            p_ids, c_ids = prompt_and_completion_ids(tokenizer, p, c)
            ids, mask = (p_ids + c_ids), [0] * len(p_ids) + [1] * len(c_ids)
            if max_length:  # keep the start, as TRL's collator does
                ids, mask = ids[:max_length], mask[:max_length]
            seqs.append(ids)
            masks.append(mask)
        width = max(len(s) for s in seqs)
        ids = torch.full((len(seqs), width), pad, dtype=torch.long)
        attn = torch.zeros((len(seqs), width), dtype=torch.long)
        comp = torch.zeros((len(seqs), width), dtype=torch.long)
        for i, (s, m) in enumerate(zip(seqs, masks)):
            ids[i, :len(s)], attn[i, :len(s)], comp[i, :len(s)] = torch.tensor(s), 1, torch.tensor(m)
        ids, attn, comp = ids.to(device), attn.to(device), comp.to(device)
        with torch.inference_mode():
            logits = model(input_ids=ids, attention_mask=attn, use_cache=False).logits
            per_token = selective_log_softmax(logits[:, :-1], ids[:, 1:], row_mask=comp[:, 1:])
        out.append(per_token.float().sum(dim=1).cpu())
    return torch.cat(out) if out else torch.zeros(0)


def implicit_rewards(model, tokenizer, adapter: str, prompts: Sequence, completions: Sequence[str], beta: float,
                     batch_size: int = 8, max_length: Optional[int] = None) -> list[float]:
    """``beta * (log p_adapter(y|x) - log p_base(y|x))`` for each (prompt, completion): a DPO adapter's reward."""
    with use_adapter(model, adapter):
        lp = completion_logps(model, tokenizer, prompts, completions, batch_size, max_length)
    with use_adapter(model, None):  # every adapter off: the base model, the reference of every DPO step here
        ref = completion_logps(model, tokenizer, prompts, completions, batch_size, max_length)
    return (beta * (lp - ref)).tolist()


def scoring_batch(config) -> int:
    """Sequences per scoring forward: as many as one MODPO step holds (chosen + rejected of each pair), so scoring
    fits wherever training fits (a 262k-word vocabulary makes the logits the largest tensor)."""
    return 2 * config.modpo_batch_size


def compute_margins(config, loaded, pairs: list[dict], adapter: str = "default") -> list[dict]:
    """The pairs with ``margin_chosen`` / ``margin_rejected``: the safety reward (the ``adapter`` of
    ``loaded.model``, frozen) of each chosen and rejected answer. Computed once, before any MODPO training."""
    prompts = [p["prompt"] for p in pairs]
    kwargs = dict(beta=config.modpo_beta, batch_size=scoring_batch(config), max_length=config.max_seq_length)
    m_c = implicit_rewards(loaded.model, loaded.tokenizer, adapter, prompts, [p["chosen"] for p in pairs], **kwargs)
    m_r = implicit_rewards(loaded.model, loaded.tokenizer, adapter, prompts, [p["rejected"] for p in pairs],
                           **kwargs)
    return [{**p, MARGIN_CHOSEN: c, MARGIN_REJECTED: r} for p, c, r in zip(pairs, m_c, m_r)]


# --- training ---------------------------------------------------------------------------------------------------
def dpo_settings(config) -> DPOSettings:
    """What both DPO steps of this chapter train with: the ``modpo_*`` fields, and no SFT term (MODPO's steps are
    plain DPO). Its own object, so HS-DPO's ``hsdpo_*`` fields stay as they are."""
    return DPOSettings(beta=config.modpo_beta, learning_rate=config.modpo_learning_rate, epochs=config.modpo_epochs,
                       max_steps=config.modpo_max_steps, batch_size=config.modpo_batch_size,
                       grad_accum=config.modpo_grad_accum, effective_batch=None, sft_weight=0.0,
                       max_length=config.max_seq_length, name="MODPO")


def train_reward(config, pairs: list[dict], out_dir: Union[str, Path]):
    """Step 1 (and the helpfulness judge): DPO of a fresh adapter on ``pairs`` with the kit's DPO trainer."""
    from ..hsdpo import train_hsdpo
    from ..models import load_model

    loaded = load_model(config)
    return train_hsdpo(config, loaded, pairs, out_dir, settings=dpo_settings(config))


def train_modpo(config, pairs: list[dict], w: float, out_dir: Union[str, Path]) -> dict:
    """Step 2 for one ``w``: MODPO of a fresh adapter on the "better" pairs (with margins); resumes from the last
    complete checkpoint in ``out/checkpoints``; saves ``out/adapter``."""
    from datasets import Dataset

    from ..hsdpo import load_trained_adapter
    from ..models import load_model
    from ..training import resume_point

    if not pairs:
        raise ValueError("MODPO needs at least one preference pair")
    out = Path(out_dir)
    loaded = load_model(config)
    rows = [{**r, MARGIN_CHOSEN: float(p[MARGIN_CHOSEN]), MARGIN_REJECTED: float(p[MARGIN_REJECTED])}
            for r, p in zip(preference_rows(pairs, config.prompt_format), pairs)]
    trainer = MODPOTrainer(model=loaded.model, ref_model=None, w=w,
                           args=dpo_args(config, dpo_settings(config), out / "checkpoints", loaded.device),
                           train_dataset=Dataset.from_list(rows), processing_class=loaded.tokenizer,
                           callbacks=callbacks())
    model = trainer.model
    resume_from = resume_point(out / "checkpoints")
    load_trained_adapter(model, resume_from)  # TRL copied the fresh adapter to "ref" too: see there
    try:
        trainer.train(resume_from_checkpoint=resume_from)
    finally:
        if "ref" in getattr(model, "peft_config", {}):
            model.delete_adapter("ref")
    done = finish(trainer, loaded.tokenizer, out, f"MODPO w={w}", {"w": w, "pairs": len(rows)},
                  adapters=["default"])
    acc = done.series("rewards/accuracies")
    return {"w": w, "pairs": len(rows), "steps": done.global_step, "losses": done.losses, "resumed_from": resume_from,
            "reward_accuracy_first": acc[0] if acc else None, "reward_accuracy_last": acc[-1] if acc else None}
