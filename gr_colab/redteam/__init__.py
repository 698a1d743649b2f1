"""Chapter 08: red-teaming the guard by failure-inducing exploration (ReverseGen, arXiv 2410.16736), then hardening it.

Chapter layer (pyproject.toml's import-linter layers): it uses the stages' trainers (R-SFT, the DPO trainer of
HS-DPO, synthesis) and nothing of the paper's pipeline uses it; the report and the notebooks read it. One module a job:

- ``run``: the loop, :func:`run_redteam`: the proposer's warm-up, per iteration sample → dedup → label → pair → DPO,
  then the held-out measure and the hardening R-SFT of the guard;
- ``judge``: the judges: the guard's verdicts, the reference it is checked against, target (b)'s chat model;
- ``seeds``: the bundled seed requests and ReverseGen's few-shot prompts;
- ``near_duplicates``: MinHash near-duplicate removal, and the optional semantic pass (``redteam_semantic_*``);
- ``diversity_metrics``: Self-BLEU (as Texygen) and distinct-n;
- ``pairs``: DPO pairs drawn within one few-shot prompt;
- ``reference``: the CPU's reference labeller (:class:`LexiconReference`);
- ``report``: the chapter's figure and its section of the run's report.

Everything but ``run``'s model steps is pure Python (no torch), checkable by hand. Importing the package imports no
torch: the models load inside the functions that use them.
"""
from .diversity_metrics import SELF_BLEU_NS, distinct_n, diversity, self_bleu, tokens
from .judge import ModelReference, chat_responses, free_memory, guard_labels, label, reference_labeller
from .near_duplicates import (
    NUM_PERM,
    THRESHOLD,
    Dedup,
    NearIndex,
    dedup,
    minhashes,
    semantic_dedup,
    semantic_pass,
    shingles,
)
from .pairs import pairs_within_prompts
from .reference import LexiconReference, content_words
from .report import PLOTTED, plot_metrics, report_blocks
from .run import (
    JSON_KEYS,
    STAGE,
    guard_adapter,
    harden,
    hardening_rows,
    heldout_and_harden,
    iteration,
    propose,
    proposer_config,
    run_redteam,
    sample_and_label,
    seeds_path,
    summary_json,
    train_proposer,
    trainer_settings,
    warm_up,
)
from .seeds import HEADER, LABELS, clean_proposal, few_shot_prompt, load_seeds, make_prompts, split_seeds, warmup_items

__all__ = [
    "Dedup", "HEADER", "JSON_KEYS", "LABELS", "LexiconReference", "ModelReference", "NUM_PERM", "NearIndex",
    "PLOTTED", "SELF_BLEU_NS", "STAGE", "THRESHOLD", "chat_responses", "clean_proposal", "content_words", "dedup",
    "distinct_n", "diversity", "few_shot_prompt", "guard_adapter", "guard_labels", "harden", "hardening_rows",
    "heldout_and_harden", "iteration", "label", "load_seeds", "make_prompts", "minhashes", "pairs_within_prompts",
    "plot_metrics", "propose", "proposer_config", "reference_labeller", "report_blocks", "run_redteam", "seeds_path",
    "self_bleu", "semantic_dedup", "semantic_pass", "shingles", "split_seeds", "summary_json", "tokens",
    "train_proposer", "trainer_settings", "warm_up", "warmup_items", "free_memory", "sample_and_label",
]
