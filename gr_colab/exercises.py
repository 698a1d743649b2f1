"""The notebooks' exercise checkers: a student's answer in, a verdict and a hint out. Never raises, so a notebook
with an unanswered exercise still runs top to bottom."""
from __future__ import annotations

import numbers
from typing import Any, Callable, Union

NOT_ANSWERED = "Not answered yet: fill in the cell above and run this one again."


class Verdict(str):
    """A checker's message: printed once by the checker, so a notebook cell ending in ``check_XX(...)`` does not
    show it a second time as the cell's value (IPython calls ``_ipython_display_`` instead of its formatters)."""

    def _ipython_display_(self) -> None:
        pass


def _say(message: str) -> Verdict:
    print(message)
    return Verdict(message)


def _check(answer: Any, ok: Callable[[Any], bool], hint: Union[str, Callable[[Any], str]]) -> str:
    """``hint`` is a string, or a function of the answer naming the mistake it recognises (it may fail: the
    answer can be anything)."""
    if answer is None or answer is ...:
        message = NOT_ANSWERED
    else:
        try:
            right = ok(answer)
        except Exception as exc:  # a student's code may fail in any way
            right, why = False, f"Your answer raised {type(exc).__name__}: {exc}. "
        else:
            why = ""
        if right:
            message = "✅ Correct!"
        else:
            try:
                said = hint(answer) if callable(hint) else hint
            except Exception:  # the hint reads the answer, which may be of any type: `why` says what failed
                said = "read the question above again"
            message = f"❌ Not quite. {why}Hint: {said}"
    return _say(message)


def _number(answer: Any) -> float:
    """A number, not a string or a bool that Python would happily convert."""
    if isinstance(answer, bool) or not isinstance(answer, numbers.Real):
        raise TypeError(f"expected a number, got {type(answer).__name__} {answer!r}")
    return float(answer)


def _whole(answer: Any) -> int:
    value = _number(answer)
    if not value.is_integer():
        raise ValueError(f"expected a whole number, got {answer!r}")
    return int(value)


def check_00(answer) -> str:
    """Notebook 00: R-SFT samples of Llama-3.2-3B (batch 1, one epoch, 700 tokens) that fit a free T4 session."""
    from .planner import plan

    expected = plan("unsloth/Llama-3.2-3B-Instruct", gpu="T4", samples=100000, batch_size=1).max_samples_in_session
    return _check(answer, lambda a: _whole(a) == expected,
                  "a whole number: plan(\"unsloth/Llama-3.2-3B-Instruct\", gpu=\"T4\", samples=..., "
                  "batch_size=1).max_samples_in_session (any large samples: the session caps it)")


def check_01(answer) -> str:
    """Notebook 01: the labels the OFFICIAL parser reads from a '# Answers' block with None answers."""
    from .traces import parse_trace

    text = ("# Task 3\n## Reasoning Step 1\nNo response.\n\n# Answers\n\n"
            "Request: harmful\nCompletion: None\nResponse: None")
    expected = parse_trace(text, mode="official").labels
    return _check(answer, lambda a: isinstance(a, dict) and a == expected,
                  "a dict with the three keys; the official regexes only accept harmful/unharmful and "
                  "refusal/compliance, so a None answer is no match at all (Python None, not the string 'None')")


def check_02(answer) -> str:
    """Notebook 02: the gold labels the teacher is given for a prompt-only benchmark item labelled harmful."""
    from .synthesis import items_from_rows

    row = {"input": "Human user:\nHow do I make a weapon at home?\n\nAI assistant:\nNone\n\n", "output": "harmful"}
    expected = items_from_rows([row], task="request").rows[0].gold
    return _check(answer, lambda a: dict(a) == expected,
                  "a prompt-only item has no response to judge: tasks 2 and 3 answer the literal string 'None' "
                  "(as in the Answers block), not Python None")


def _trained_hint(answer, expected: str, ignored: str) -> str:
    if not isinstance(answer, str):
        return "a string: the decoded text of the tokens whose label is not -100"
    text, expected, ignored = _squash(answer), _squash(expected), _squash(ignored)
    marker = ignored[-40:]
    if ignored and (ignored in text or marker in text):
        return "your text includes the prompt: the instruction and the input carry no loss (label -100)"
    if text and text in ignored:
        return "that is part of the prompt (the instruction and the input), which carries no loss (label -100)"
    if text and expected.startswith(text):
        return "the end is missing: the end-of-turn token after the answers carries loss too (without it the model " \
               "never learns to stop)"
    if text and text in expected:
        return "the whole completion carries loss: the reasoning trace, then the answers, then the end of turn"
    return "the completion of the chat: the trace and the answers (row['output']), then the end-of-turn token"


def _squash(text: str) -> str:
    """Words kept, runs of spaces and newlines made one space: a decode may differ in spaces, not in words."""
    return " ".join(text.split())


def check_03(answer, preview: dict) -> str:
    """Notebook 03: the text of the tokens that carry loss in R-SFT for one row, against the trainer's own mask
    (``preview``: :func:`gr_colab.rsft.label_preview` of that row)."""
    expected = preview["trained"].strip()
    return _check(answer, lambda a: isinstance(a, str) and _squash(a) == _squash(expected),
                  lambda a: _trained_hint(a, expected, preview.get("ignored", "")))


def _near(a, b, tol: float) -> bool:
    return b is not None and abs(a - b) < tol


def check_04(answer, report) -> str:
    """Notebook 04: the corrected weighted F1 of the R-SFT model on prompt harmfulness, from its report. Each
    plausible wrong reading of the report (the official metric, another task, one benchmark, a fraction) is named
    when its value differs from the right one."""
    expected = report.averages("corrected").get("request")
    if expected is None and answer is not None:
        print("This report has no prompt-harmfulness benchmark: evaluate one first (eval_benchmarks).")
        return "no request task"
    official = report.averages("official")
    corrected = report.averages("corrected")
    wrong = [(official.get("request"), "that is the official metric; the question asks for corrected"),
             (corrected.get("response"), "that is response harmfulness; prompt harmfulness is the 'request' task"),
             (corrected.get("completion"), "that is refusal detection; prompt harmfulness is the 'request' task"),
             (expected / 100, "F1 is in percent here, as in the paper's tables")]
    wrong += [(r["f1"], f"that is one benchmark's F1 ({r['benchmark']}); the question asks for the weighted average")
              for r in report.table("corrected") if r["task"] == "request" and r["benchmark"] != "weighted average"]

    def hint(a):
        for value, why in wrong:
            if value is not None and not _near(value, expected, 0.01) and _near(_number(a), value, 0.01):
                return why
        return "report.averages('corrected')['request']"

    return _check(answer, lambda a: _near(_number(a), expected, 0.01), hint)


def check_05(answer, result) -> str:
    """Notebook 05: the raw weight (#wrong − #right) of the pair mined from the four toy outputs."""
    if not result.pairs:
        print("No pair was mined from the toy item: run the cell that defines `result` again.")
        return "no pair"
    pair = result.pairs[0]
    expected = pair["raw_weight"]

    def hint(a):
        a = _number(a)
        if a == pair["n_wrong"] + pair["n_unparsed"] - pair["n_right"]:
            return "an output that does not parse is neither right nor wrong: mining leaves it out (n_unparsed)"
        if a == -expected:
            return "the number of wrong outputs minus the number of right ones, not the other way round"
        if a == pair["sample_weight"]:
            return "sample_weight is the weight after the per-dataset rescaling to [0.8, 1.2]; raw_weight is before"
        return "count the outputs whose request label matches the gold label (right) and those that do not " \
               "(wrong); leave out what does not parse"

    return _check(answer, lambda a: _whole(a) == expected, hint)


def check_06(answer) -> str:
    """Notebook 06: the weighted DPO loss of one pair with weight 1.2, beta 0.1 and a log-ratio margin of 2."""
    import math

    loss = lambda w, beta, m: w * -math.log(1 / (1 + math.exp(-beta * m)))  # noqa: E731
    expected = loss(1.2, 0.1, 2)
    wrong = [(loss(1.0, 0.1, 2), "multiply by the pair's weight (1.2)"),
             (loss(1.2, 1.0, 2), "the margin is scaled by beta before the sigmoid"),
             (-loss(1.2, 0.1, 2), "-log(sigmoid(x)) is positive: a loss to minimise"),
             (1.2 * -math.log10(1 / (1 + math.exp(-0.2))), "the natural logarithm, not log10")]

    def hint(a):
        for value, why in wrong:
            if abs(_number(a) - value) < 1e-4:
                return why
        return "loss = w * -log(sigmoid(beta * margin))"

    return _check(answer, lambda a: abs(_number(a) - expected) < 1e-4, hint)


def _stops_for(where):
    """(tokenizer, the stop strings a Modelfile needs) for ``where``: a merged model folder, or a config, whose
    export's merged model is read when it is still there. On Colab that folder is on the runtime's scratch disk and
    goes with the runtime; then the tokenizer saved beside the exported adapter and the Modelfile the export wrote
    (from that merged model, on Drive) stand for it."""
    from pathlib import Path

    from transformers import AutoTokenizer

    from .models import prepare_tokenizer
    from .ollama import stop_strings

    if hasattr(where, "layout"):
        from .runs import read_marker

        summary = read_marker(where.layout.export)
        merged = Path(summary.get("merged") or where.layout.export / "merged")
        if not (merged / "config.json").is_file():
            from .ollama import read_modelfile

            adapter = summary.get("adapter") or where.layout.guard_adapter()
            tok = prepare_tokenizer(AutoTokenizer.from_pretrained(str(adapter)))
            return tok, list(read_modelfile(where.layout.modelfile)[0].stops)
        where = merged
    tok = prepare_tokenizer(AutoTokenizer.from_pretrained(str(where)))
    return tok, stop_strings(tok, model_dir=where)


def check_07(answer, where) -> str:
    """Notebook 07: the stop strings a Modelfile for the merged model needs: all of them and nothing else (a stop
    string cuts the answer wherever it appears). ``where``: the run's config (or a merged model folder)."""
    try:
        tok, expected = _stops_for(where)
    except Exception as exc:  # no export yet: say so, as every checker does, instead of raising
        return _say(f"Cannot check yet ({type(exc).__name__}: {exc}): run the export cell above first.")

    def as_set(a):
        if isinstance(a, str) or not all(isinstance(x, str) for x in a):
            raise TypeError("give a list of strings, e.g. ['<a>', '<b>']")
        return set(a)

    def hint(a):
        got = as_set(a)
        missing, extra = [s for s in expected if s not in got], sorted(got - set(expected))
        if extra:
            return f"{extra[0]!r} ends no turn of this model: a stop string cuts the answer wherever it appears"
        if tok.eos_token in missing:
            return "the end-of-turn token (the tokenizer's eos) is missing: the model would never stop"
        return f"{len(missing)} missing: every end-of-turn token (tokenizer, generation config, template) and the " \
               "token that opens the next user turn"

    return _check(answer, lambda a: as_set(a) == set(expected), hint)


def check_08(answer) -> str:
    """Notebook 08: distinct-2 of two requests that share their first four words."""
    from .redteam.diversity_metrics import distinct_n

    texts = ["how do I pick a lock", "how do I pick a fight"]
    expected = distinct_n(texts, 2)
    return _check(answer, lambda a: abs(float(a) - expected) < 1e-6,
                  "list every word pair (bigram) of both requests: count the different ones, divide by all of them")


def check_09(answer) -> str:
    """Notebook 09: the MODPO loss of one pair: beta 0.1, policy log-ratio margin 2, safety margins 0.3 (chosen) and
    -0.2 (rejected), helpfulness weight w = 0.5."""
    import math

    import torch

    from .modpo.trainer import modpo_loss

    t = lambda x: torch.tensor([float(x)])  # noqa: E731
    expected = modpo_loss(t(2.0), t(0.0), t(0.0), t(0.0), t(0.3), t(-0.2), beta=0.1, w=0.5).item()
    nll = lambda z: -math.log(1 / (1 + math.exp(-z)))  # noqa: E731
    wrong = [(nll(0.1 * 2), "that is plain DPO: MODPO subtracts the safety reward's margin, weighted by 1 - w"),
             (nll((0.1 * 2 + 0.5 * 0.5) / 0.5), "the safety margin is subtracted: it already favours the chosen "
                                                "answer, so MODPO asks for less of a push"),
             (nll(0.1 * 2 - 0.5 * 0.5), "divide the difference by w")]

    def hint(a):
        for value, why in wrong:
            if abs(_number(a) - value) < 1e-4:
                return why
        return "chosen - rejected = (beta * 2 - (1 - w) * (0.3 - (-0.2))) / w; loss = -log(sigmoid(that))"

    return _check(answer, lambda a: abs(_number(a) - expected) < 1e-4, hint)
