"""Chapter 09: MODPO (arXiv 2310.03708), a chat model trained for helpfulness with a safety reward as a margin, judged
by the student's own guard.

Chapter layer (pyproject.toml's import-linter layers): it builds on the stages' DPO trainer (:mod:`gr_colab.hsdpo`)
and nothing of the paper's pipeline uses it. One module a job:

- ``data``: PKU-SafeRLHF-shaped rows: load, validate, split, turn into pairs, relabel "safer" with the guard
  (no torch);
- ``trainer``: MODPO's loss and :class:`~gr_colab.modpo.trainer.MODPOTrainer` on TRL's ``DPOTrainer``, the implicit
  rewards and the margins (imports torch and trl);
- ``run``: :func:`run_modpo`, the chapter end to end: rewards, margins, the sweep over ``w``, answers, the front.

Importing the package imports no torch: it re-exports ``data`` and ``run``; the trainer is
``gr_colab.modpo.trainer``, imported where a model is trained or scored.
"""
from .data import (
    DIMENSIONS,
    FIELDS,
    HUB_ID,
    RAW_TEMPLATE,
    SAFETY_LABELS,
    SAMPLE,
    load_saferlhf,
    policy_prompt_text,
    preference_pairs,
    relabel_safer,
    split_rows,
    validate_saferlhf_row,
)
from .run import (
    FRONT_KEYS,
    STAGE,
    answers,
    front,
    front_figure,
    guard_adapter,
    judge,
    judge_warnings,
    margins,
    plot_front,
    prepare_data,
    public_json,
    run_modpo,
    safety_rows,
    score,
    sweep,
    train_rewards,
    variant_name,
)

__all__ = [
    "DIMENSIONS", "FIELDS", "FRONT_KEYS", "HUB_ID", "RAW_TEMPLATE", "SAFETY_LABELS", "SAMPLE", "STAGE", "answers",
    "front", "front_figure", "guard_adapter", "judge", "judge_warnings", "load_saferlhf", "margins", "plot_front",
    "policy_prompt_text", "preference_pairs", "prepare_data", "public_json", "relabel_safer", "run_modpo",
    "safety_rows", "score", "split_rows", "sweep", "train_rewards", "validate_saferlhf_row", "variant_name",
]
