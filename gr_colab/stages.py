"""The one list of the course's stages: what each runs, which notebook makes it, what it needs and writes, and the
config fields its result depends on.

Base layer (standard library only): the pipeline, the command line, the Colab setup, the report, the run layout and
the planner all read this table, so adding or renaming a stage is one entry here. A stage's function is named as
``module:function`` inside ``gr_colab`` and imported only when the stage runs, so reading the table never imports
torch (and this layer stays below the stages it names).

Invalidation rules (applied by :mod:`gr_colab.pipeline`): a stage's marker records the values of its ``fields`` and
the fingerprints of the markers of the stages it read (``needs``, and ``uses`` when there). A complete stage is
skipped only while both still match; otherwise it runs again, after its ``resumable`` files are cleared, and every
stage that read it becomes stale in turn (its recorded fingerprint no longer matches).
"""
from __future__ import annotations

import importlib
from dataclasses import dataclass
from typing import Callable

_MODEL = ("model_name", "prompt_format", "max_seq_length")
_LORA = ("finetune", "lora_r", "lora_alpha", "lora_dropout", "target_modules", "modules_to_save",
         "trainable_tokens", "load_in_4bit", "dtype")


@dataclass(frozen=True)
class Stage:
    name: str
    run: str  # "module:function" in gr_colab, imported when the stage runs
    notebook: str  # the notebook that makes it (a notebook opened too early names it)
    help: str
    needs: tuple = ()  # stages whose files it reads: missing ones run first
    uses: tuple = ()  # stages it reads when they are there (evaluation: the trained guards)
    writes: tuple = ()  # its files, relative to the run folder
    fields: tuple = ()  # config fields its result depends on: a change runs it again
    resumable: tuple = ()  # what it resumes from inside (relative to the run folder): a change or --force clears it
    again_after: tuple = ()  # the whole run runs it again after these (evaluation after HS-DPO)
    every_process: bool = False  # under a launcher every process runs it (the Trainer shards the data)
    planned: str = ""  # the planner's name for its notebook (planner.plan_parts)

    def function(self) -> Callable:
        module, _, name = self.run.partition(":")
        return getattr(importlib.import_module(f"gr_colab.{module}"), name)


STAGES = (
    Stage("prepare", "course:prepare", "03_rsft", "validate and split the data",
          writes=("config.yaml", "prepare/train.jsonl", "prepare/holdout.jsonl"),
          fields=("seed", "train_files", "train_limit", "skip_bad_rows", "holdout_fraction", "reasoning_budget",
                  "leave_out", "task_format", "model_name")),
    Stage("rsft", "course:rsft", "03_rsft", "reasoning SFT", needs=("prepare",),
          writes=("rsft/adapter", "rsft/curves.png"), every_process=True, planned="03 R-SFT",
          fields=_MODEL + _LORA + ("seed", "rsft_epochs", "rsft_learning_rate", "rsft_batch_size", "rsft_grad_accum",
                                   "rsft_effective_batch", "rsft_max_steps", "rsft_warmup_steps", "rsft_scheduler",
                                   "rsft_weight_decay", "optim", "gradient_checkpointing", "group_by_length"),
          resumable=("rsft/checkpoints", "rsft/adapter")),
    Stage("eval", "course:evaluate_variants", "04_evaluation", "evaluate every model variant (base, R-SFT, HS-DPO)",
          needs=("prepare",), uses=("rsft", "hsdpo"), writes=("eval/<variant>/report.json", "eval/compare_*.png"),
          fields=("prompt_format", "eval_benchmarks", "eval_limit", "holdout_check_limit", "max_new_tokens"),
          resumable=("eval",), again_after=("hsdpo",), planned="04 evaluation"),
    Stage("mine", "course:mine", "05_mining", "sample and mine hard samples", needs=("prepare", "rsft"),
          writes=("mine/samples", "mine/pairs.jsonl"), planned="05 mining",
          fields=("seed", "prompt_format", "mine_k", "mine_limit", "mine_temperature", "mine_top_p", "max_new_tokens",
                  "mine_weight_range"),
          resumable=("mine/samples",)),
    Stage("hsdpo", "course:hsdpo", "06_hsdpo", "hard-sample DPO", needs=("rsft", "mine"),
          writes=("hsdpo/adapter", "hsdpo/curves.png"), every_process=True, planned="06 HS-DPO",
          fields=("seed", "hsdpo_beta", "hsdpo_sft_weight", "hsdpo_learning_rate", "hsdpo_epochs", "hsdpo_batch_size",
                  "hsdpo_grad_accum", "hsdpo_effective_batch", "hsdpo_max_steps"),
          resumable=("hsdpo/checkpoints", "hsdpo/adapter")),
    Stage("export", "course:export", "07_export", "merge, GGUF, Modelfile, model card", needs=("rsft",),
          uses=("hsdpo", "eval"), writes=("export/merged", "export/gguf", "export/README.md"), planned="07 export",
          fields=("gguf_types", "max_new_tokens"), resumable=("export/gguf",)),
    Stage("push", "course:push", "07_export", "upload the export to the Hub (a dry run unless hub_push)",
          needs=("export",), fields=("hub_repo", "hub_push", "hub_private")),
)
BY_NAME = {s.name: s for s in STAGES}
NAMES = tuple(BY_NAME)
GUARD_STAGES = ("hsdpo", "rsft")  # the guard a later step uses: the last trained one first


def get(name: str) -> Stage:
    if name not in BY_NAME:
        raise ValueError(f"unknown stage {name!r}; stages: {', '.join(NAMES)}")
    return BY_NAME[name]


def run_order() -> tuple:
    """The whole run: every stage in the table's order, and a stage again after the ones in its ``again_after``."""
    order = []
    for stage in STAGES:
        order.append(stage.name)
        order += [s.name for s in STAGES if stage.name in s.again_after and s.name in order]
    return tuple(order)


RUN_ORDER = run_order()


def inputs(stage: str) -> tuple:
    s = get(stage)
    return s.needs + s.uses


def dependants(stage: str) -> list:
    """Every stage that reads ``stage``'s files, directly or not, in the table's order."""
    found = {stage}
    for s in STAGES:
        if found & set(s.needs + s.uses):
            found.add(s.name)
    return [s.name for s in STAGES if s.name in found and s.name != stage]


def made_by(stage: str) -> str:
    return get(stage).notebook


def planned_notebooks() -> dict:
    """{"03": "03 R-SFT", ...}: each notebook that trains, generates or exports, with the planner's name for it."""
    return {s.notebook[:2]: s.planned for s in STAGES if s.planned}
