"""The recipe: what the teacher is told (the gold labels included), what that costs, and which traces are kept.

Its own module because these are the paper's choices, the part a student reads and might change; the machinery
that sends the messages and stores the answers lives beside it (teachers, cache, run).
"""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Optional, Sequence, Union

from ..data import DataError, validate_train_row
from ..prompts import ANSWER_KEYS, format_answers, policy_prompt
from ..traces import COMPLETE, TASKS, parse_trace
from .cache import ResponseCache, cache_key
from .items import GUARDREASONER, SIX_POLICY, Item

# The paper's synthesis prompt, in the kit's own words (same content): the three tasks, "only these labels", the
# step rules (1 to 10 steps, each the smallest unit, conclusion consistent with the answer), the ground truth as
# the official Answers block, and the format of the reasoning (# per task, ## per step) ending with that block.
TEACHER_SYSTEM_TEMPLATE = (
    "Your job is to classify an exchange between a human user and an AI assistant.\n\n"
    "Read the user's request and the assistant's response, then carry out three tasks.\n\n"
    "Task 1: is the human user's request harmful or unharmful?\n"
    "Task 2: is the AI assistant's response a refusal or compliance?\n"
    "Task 3: is the AI assistant's response harmful or unharmful?\n\n"
    "Answer with these labels only: harmful or unharmful, refusal or compliance.\n\n"
    "Reason step by step. Number the steps from 1 up to 10 at most, make every step the smallest possible unit of "
    "reasoning, and make sure that what your reasoning concludes agrees with the final answer.\n\n"
    "The correct answers (the ground truth) for this exchange are:\n\n"
    "{answers}\n"
    "Write out the reasoning steps of each task: open every task with a '#' heading (for example '# Task 1') and "
    "every step with a '##' heading (for example '## Reasoning Step 1'). Finish with the ground truth above, "
    "copied exactly, without changing its format."
)
ANSWERS_DIVIDER = "---\n\n"  # the official trace puts this line before its Answers block

# The six-policy traces of the Colab guide: the user turn is the prompt the student model will be trained on.
POLICY_TEACHER_SYSTEM_TEMPLATE = (
    "You write the reasoning of a content safety classifier that checks one piece of content against one policy.\n\n"
    "The correct classification of this content under this policy (the ground truth) is: {label}.\n\n"
    "Reason towards it in exactly three numbered steps, each the smallest possible unit of reasoning, and make "
    "sure the steps agree with the classification. Answer in exactly this format, and nothing else:\n\n"
    "Reasoning:\nStep 1: ...\nStep 2: ...\nStep 3: ...\n\nClassification: {label}"
)

# USD per million tokens (input, output): list prices when this was written. Prices change: check the provider's
# pricing page, or pass price_in_per_m / price_out_per_m yourself.
PRICES_PER_M = {
    "gpt-4o": (2.50, 10.00),
    "gpt-4o-2024-08-06": (2.50, 10.00),
    "gpt-4o-2024-05-13": (5.00, 15.00),
    "gpt-4o-mini": (0.15, 0.60),
}
# Output tokens a teacher writes per item when nothing better is known: the released GuardReasonerTrain traces
# average about 230 tokens (characters / 4 on the bundled rows), the six-policy traces are three short steps.
EXPECTED_OUTPUT_TOKENS = {GUARDREASONER: 300, SIX_POLICY: 100}
GUARDREASONERTRAIN_SIZE = 127_000  # items in the paper's GuardReasonerTrain (about 127K, 460K reasoning steps)


def teacher_messages(item: Item) -> list:
    """The two chat turns the teacher receives for ``item``: the recipe with the gold labels, then the item."""
    if item.task_format == SIX_POLICY:
        label = item.gold["classification"]
        return [{"role": "system", "content": POLICY_TEACHER_SYSTEM_TEMPLATE.format(label=label)},
                {"role": "user", "content": policy_prompt(item.content, item.policy)}]
    answers = ANSWERS_DIVIDER + format_answers(item.gold["request"], item.gold["completion"], item.gold["response"])
    return [{"role": "system", "content": TEACHER_SYSTEM_TEMPLATE.format(answers=answers)},
            {"role": "user", "content": item.input}]


# --- the token and cost estimate -----------------------------------------------------------------------------
@dataclass
class Estimate:
    model: str
    n_items: int
    n_cached: int
    input_tokens: int
    output_tokens: int
    price_in_per_m: Optional[float]
    price_out_per_m: Optional[float]
    method: str  # "characters / 4" or "the tokenizer"

    @property
    def n_todo(self) -> int:
        return self.n_items - self.n_cached

    @property
    def cost_usd(self) -> Optional[float]:
        if self.price_in_per_m is None or self.price_out_per_m is None:
            return None
        return (self.input_tokens * self.price_in_per_m + self.output_tokens * self.price_out_per_m) / 1e6

    def scaled(self, n_items: int) -> "Estimate":
        """The same per-item averages for ``n_items`` items (e.g. the paper's 127K), none of them cached."""
        k = n_items / max(self.n_todo, 1)
        return Estimate(self.model, n_items, 0, round(self.input_tokens * k), round(self.output_tokens * k),
                        self.price_in_per_m, self.price_out_per_m, self.method)

    def describe(self) -> str:
        cost = (f"≈ ${self.cost_usd:,.2f} at ${self.price_in_per_m:.2f}/M in, ${self.price_out_per_m:.2f}/M out"
                if self.cost_usd is not None else "cost unknown (no price for this model: pass price_in_per_m "
                                                  "and price_out_per_m)")
        return (f"estimate for {self.model}: {self.n_todo} of {self.n_items} items to request "
                f"({self.n_cached} cached); ≈ {self.input_tokens:,} input + {self.output_tokens:,} output tokens "
                f"({self.method}); {cost}")


def _token_counter(tokenizer) -> tuple[Callable[[str], int], str]:
    if tokenizer is None:
        return (lambda s: (len(s) + 3) // 4), "characters / 4"
    if hasattr(tokenizer, "__call__") and hasattr(tokenizer, "apply_chat_template"):  # a Hugging Face tokenizer
        return (lambda s: len(tokenizer(s, add_special_tokens=False)["input_ids"])), "the tokenizer"
    return (lambda s: len(tokenizer.encode(s))), "the tokenizer"  # tiktoken or any .encode


def estimate(items: Sequence[Item], teacher_model: str = "gpt-4o", price_in_per_m: Optional[float] = None,
             price_out_per_m: Optional[float] = None, expected_output_tokens: Optional[int] = None, *,
             cache: Union[ResponseCache, str, Path, None] = None, temperature: float = 0.0,
             tokenizer: Any = None) -> Estimate:
    """Tokens and dollars for the items not yet in ``cache`` (for this model), before anything is sent.

    Input: the messages' tokens plus a few per message (chat framing); output: ``expected_output_tokens`` per item
    (default by format, :data:`EXPECTED_OUTPUT_TOKENS`). Prices default to :data:`PRICES_PER_M` for known models.
    """
    if isinstance(cache, (str, Path)):
        cache = ResponseCache(cache) if Path(cache).exists() else None
    known = PRICES_PER_M.get(teacher_model, (None, None))
    price_in = known[0] if price_in_per_m is None else price_in_per_m
    price_out = known[1] if price_out_per_m is None else price_out_per_m
    count, method = _token_counter(tokenizer)
    seen: set = set()
    n_cached = tokens_in = tokens_out = 0
    for item in items:
        messages = teacher_messages(item)
        key = cache_key(teacher_model, messages, temperature)
        if (cache is not None and key in cache) or key in seen:
            n_cached += 1  # a duplicate of an item already counted is answered by the same request
            continue
        seen.add(key)
        tokens_in += sum(count(m["content"]) + 4 for m in messages) + 3
        tokens_out += expected_output_tokens or EXPECTED_OUTPUT_TOKENS[item.task_format]
    return Estimate(teacher_model, len(items), n_cached, tokens_in, tokens_out, price_in, price_out, method)


# --- the filter ----------------------------------------------------------------------------------------------
REJECT_KINDS = {"failed": "request failed", "unparsed": "answers not found", "disagrees": "disagrees with gold",
                "no_steps": "no reasoning steps", "inconsistent": "reasoning contradicts its answer",
                "invalid": "not a valid training row"}
_TASK_NUMBER = {t: i + 1 for i, t in enumerate(TASKS)}


def check_trace(item: Item, text: str) -> tuple[Optional[str], str]:
    """(None, "") when the trace is kept, else (reject kind, reason). The parser is the judge."""
    if item.task_format == SIX_POLICY:
        v = parse_trace(text, task_format=SIX_POLICY)
        if v.classification is None:
            return "unparsed", v.reason or "no 'Classification: SAFE|UNSAFE'"
        if v.classification != item.gold["classification"]:
            return "disagrees", (f"disagrees with gold on {item.policy}: says {v.classification}, "
                                 f"gold {item.gold['classification']}")
        if not v.steps.get("classification"):
            return "no_steps", "no 'Step N:' lines"
        return None, ""
    v = parse_trace(text, mode="strict")
    if v.status != COMPLETE:
        return "unparsed", f"answers not found ({v.reason})"
    wrong = [t for t in TASKS if v.labels[t] != item.gold[t]]
    if wrong:
        return "disagrees", "; ".join(f"disagrees with gold on task {_TASK_NUMBER[t]} ({ANSWER_KEYS[t]}): says "
                                      f"{v.labels[t]}, gold {item.gold[t]}" for t in wrong)
    if not any(v.steps.values()):
        return "no_steps", "no '## Reasoning Step' found"
    if v.contradictions:
        return "inconsistent", "; ".join(f"the reasoning of task {_TASK_NUMBER[t]} concludes the other label"
                                         for t in v.contradictions)
    try:
        validate_train_row({"instruction": item.instruction, "input": item.input, "output": text}, item.id)
    except DataError as err:
        return "invalid", str(err)
    return None, ""
