"""The notebooks' exercise checkers: a student's answer in, a verdict and a hint out. Never raises, so a notebook
with an unanswered exercise still runs top to bottom."""
from __future__ import annotations

from typing import Any, Callable

NOT_ANSWERED = "Not answered yet: fill in the cell above and run this one again."


def _check(answer: Any, ok: Callable[[Any], bool], hint: str) -> str:
    if answer is None or answer is ...:
        message = NOT_ANSWERED
    else:
        try:
            message = "✅ Correct!" if ok(answer) else f"❌ Not quite. Hint: {hint}"
        except Exception as exc:  # a student's code may fail in any way
            message = f"❌ Your answer raised {type(exc).__name__}: {exc}. Hint: {hint}"
    print(message)
    return message


def check_00(answer) -> str:
    """Notebook 00: R-SFT samples of Llama-3.2-3B (batch 1, one epoch, 700 tokens) that fit a free T4 session."""
    from .budget import plan

    expected = plan("unsloth/Llama-3.2-3B-Instruct", gpu="T4", samples=100000, batch_size=1).max_samples_in_session
    return _check(answer, lambda a: int(a) == expected, "plan(...).max_samples_in_session")


def check_01(answer) -> str:
    """Notebook 01: the labels the OFFICIAL parser reads from a '# Answers' block with None answers."""
    from .traces import parse_trace

    text = "# Task 3\n## Reasoning Step 1\nNo response.\n\n# Answers\n\nRequest: harmful\nCompletion: None\nResponse: None"
    expected = parse_trace(text, mode="official").labels
    return _check(answer, lambda a: dict(a) == expected,
                  "the official regexes only accept harmful/unharmful and refusal/compliance; a None answer is "
                  "no match at all (Python None)")


def check_03(answer) -> str:
    """Notebook 03: which tokens carry loss in R-SFT? Answer with the decoded text of the labelled tokens."""
    return _check(answer, lambda a: isinstance(a, str) and a.lstrip().startswith("#") and "Answers:" in a,
                  "decode the token ids whose label is not -100: the completion, the trace then the answers, "
                  "and the end-of-turn token")


def check_04(answer, report) -> str:
    """Notebook 04: the corrected F1 of the R-SFT model on prompt harmfulness, from the report."""
    expected = report.averages("corrected").get("request")
    return _check(answer, lambda a: abs(float(a) - expected) < 0.01,
                  "report.averages('corrected')['request']")


def check_05(answer, result) -> str:
    """Notebook 05: how many mined pairs come from the request task?"""
    expected = result.summary()["by_task"].get("request", 0)
    return _check(answer, lambda a: int(a) == expected, "result.summary()['by_task']")


def check_06(answer) -> str:
    """Notebook 06: the weighted DPO loss of one pair with weight 1.2, beta 0.1 and a log-ratio margin of 2."""
    import math

    expected = 1.2 * -math.log(1 / (1 + math.exp(-0.1 * 2)))
    return _check(answer, lambda a: abs(float(a) - expected) < 1e-4,
                  "loss = w * -log(sigmoid(beta * margin))")


def check_07(answer, tokenizer) -> str:
    """Notebook 07: the stop strings a Modelfile for this tokenizer needs."""
    from .ollama import stop_strings

    return _check(answer, lambda a: set(stop_strings(tokenizer)) <= set(a),
                  "every end-of-turn token of the tokenizer, and the token that opens the next user turn")


def check_09(answer) -> str:
    """Notebook 09: the MODPO loss of one pair: beta 0.1, policy log-ratio margin 2, safety margins 0.3 (chosen) and
    -0.2 (rejected), helpfulness weight w = 0.5."""
    import torch

    from .modpo import modpo_loss

    t = lambda x: torch.tensor([float(x)])  # noqa: E731
    expected = modpo_loss(t(2.0), t(0.0), t(0.0), t(0.0), t(0.3), t(-0.2), beta=0.1, w=0.5).item()
    return _check(answer, lambda a: abs(float(a) - expected) < 1e-4,
                  "chosen - rejected = (beta * 2 - (1 - w) * (0.3 - (-0.2))) / w; loss = -log(sigmoid(that))")
