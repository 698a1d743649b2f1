"""The ready guards (Llama Guard 3, Qwen3Guard-Gen, WildGuard, ShieldGemma, Granite Guardian) beside the student's,
scored by the same metric on the same benchmark rows.

Chapter layer (pyproject.toml's import-linter layers): it uses the evaluation stage (the benchmarks, the metric) and
the generator; no stage uses it. Two modules:

- ``parsers``: how each guard is prompted and how its output maps to the paper's three tasks, written as the kit's
  Answers block (pure Python, no torch);
- ``ready``: the harness: load a guard from the Hub, generate, write the official prediction rows, score them
  (:func:`evaluate_guard`, :func:`score_guard_file`), and the notebook's side-by-side table.

Importing the package imports no torch: the models load inside the functions that use them.
"""
from .parsers import (
    CONTROVERSIAL,
    READY_GUARDS,
    SHIELDGEMMA_POLICIES,
    WILDGUARD_FORMAT,
    GuardCall,
    GuardSpec,
    GuardVerdict,
    answers_text,
    get_guard,
    guard_calls,
    parse_guard_output,
    shieldgemma_guideline,
    to_prediction,
)
from .ready import (
    NOTEBOOK_GUARDS,
    compare_with_ready_guards,
    evaluate_guard,
    hf_generate_fn,
    loaded_generate_fn,
    render_call,
    run_guard_predictions,
    score_guard_file,
    side_by_side,
)

__all__ = [
    "CONTROVERSIAL", "GuardCall", "GuardSpec", "GuardVerdict", "NOTEBOOK_GUARDS", "READY_GUARDS",
    "SHIELDGEMMA_POLICIES", "WILDGUARD_FORMAT", "answers_text", "compare_with_ready_guards", "evaluate_guard",
    "get_guard", "guard_calls", "hf_generate_fn", "loaded_generate_fn", "parse_guard_output", "render_call",
    "run_guard_predictions", "score_guard_file", "shieldgemma_guideline", "side_by_side", "to_prediction",
]
