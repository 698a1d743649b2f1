"""Reasoning data synthesis: a teacher model writes GuardReasoner-style traces for items whose labels are known.

Stage. The paper's recipe (GuardReasonerTrain): GPT-4o, at temperature 0, is shown each labelled item *together with
its gold labels* and asked to reason step by step towards them, in the trace shape the guard is trained on
(``# Task 1`` … ``## Reasoning Step 1`` … ``---`` and the Answers block). The user turn is the item's official
``input`` field; the system turn restates the three-task instruction, the step rules and the ground truth. The same
loop writes the six-policy traces of the Colab R-SFT guide (``Reasoning:\\nStep 1: …`` and ``Classification: …``).

Moving parts, each small:

- **teachers** share one method, ``complete(messages) -> (text, usage)``: :class:`OpenAICompatibleTeacher` talks to
  any OpenAI-compatible chat endpoint (OpenAI, a llama.cpp server, Ollama, vLLM) through the official ``openai``
  SDK; :class:`LocalTeacher` runs a model loaded by :func:`gr_colab.models.load_model`, greedily;
- **retries**: timeouts, 429, 5xx, dropped connections and malformed JSON are retried with exponential backoff and
  jitter, a bounded number of times (the SDK's own retries are off, so there is one loop to reason about); 401,
  403 and 404 stop the run at once, since every later request would fail the same way;
- **the cache**: an append-only JSONL file keyed by a hash of (model, messages, temperature); each answer is
  appended, flushed and fsync'ed as it arrives, so a kill loses at most the requests in flight and a restart asks
  for nothing it already has; a torn last line is dropped and redone. The API key is in neither the key nor the file;
- **the filter**: :func:`gr_colab.traces.parse_trace` reads every answer; only traces whose answers equal the gold
  labels (and that have steps, and whose conclusions agree with their answers) are kept. Every reject is listed
  with its reason and counted in the summary;
- **outputs**: GuardReasonerTrain rows ``{instruction, input, output}`` (``synth_train.json``) and the six-policy
  ``training_data.json``, both loadable by :mod:`gr_colab.data` and ready for R-SFT.

The API key comes from an environment variable or a Colab secret, and is never printed, logged, cached or repr'd.
Run from a shell with ``python -m gr_colab.synthesis --help``.
"""
from __future__ import annotations

import hashlib
import json
import os
import random
import re
import sys
import threading
import time
from concurrent.futures import FIRST_COMPLETED, ThreadPoolExecutor, wait
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Iterable, Optional, Sequence, Union

from .data import DataError, Loaded, read_records, validate_train_row
from .prompts import (ANSWER_KEYS, INSTRUCTION, NO_RESPONSE, SIX_POLICIES, TASK_LABELS, format_answers,
                      policy_prompt, split_input)
from .traces import COMPLETE, TASKS, parse_trace

GUARDREASONER, SIX_POLICY = "guardreasoner", "six_policy"
TRAIN_FILE, POLICY_FILE = "synth_train.json", "training_data.json"
REJECTS_FILE, SUMMARY_FILE = "rejects.jsonl", "summary.json"

# --- the recipe: what the teacher is told ---------------------------------------------------------------------
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

# OpenAI-compatible endpoints, for the notebooks and the docs (each serves /v1/chat/completions).
ENDPOINTS = {
    "openai": None,  # the SDK's default, https://api.openai.com/v1
    "llama.cpp": "http://127.0.0.1:8080/v1",  # llama-server -m model.gguf, or python -m llama_cpp.server
    "ollama": "http://127.0.0.1:11434/v1",
    "vllm": "http://127.0.0.1:8000/v1",
}


# --- items ---------------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class Item:
    """One labelled thing to write a trace for.

    ``gold`` for a three-task item: ``{request, completion, response}`` with labels, or ``"None"`` where the item has
    no answer (tasks 2 and 3 of a prompt-only item); for a six-policy item: ``{"classification": SAFE|UNSAFE}``.
    """

    id: str
    task_format: str
    gold: dict
    input: str = ""  # three-task: the official input field, "Human user:\n…\n\nAI assistant:\n…\n\n"
    instruction: str = INSTRUCTION
    content: str = ""  # six-policy: the content, the policy, and the sample's own labels
    policy: str = ""
    labels: tuple = ()
    source: str = ""  # the dataset (three-task) or the sample's source (six-policy)


def _gold_from_row(record: dict, task: Optional[str], has_response: bool) -> tuple[dict, str]:
    """(gold labels, "") or ({}, why not) for one labelled row of any of the shapes the kit reads."""
    from .data import WILDGUARD_FIELDS

    gold: dict = {}
    if isinstance(record.get("labels"), dict):  # a row already loaded by gr_colab.data.load_train
        gold = {t: record["labels"].get(t) for t in TASKS}
    elif any(f in record for f in WILDGUARD_FIELDS.values()):  # WildGuardTest's label fields
        for t, f in WILDGUARD_FIELDS.items():
            value = record.get(f)
            gold[t] = None if value in (None, "", NO_RESPONSE) else str(value).strip().lower()
    elif isinstance(record.get("output"), str):
        text = record["output"].strip()
        if task and text.lower() in TASK_LABELS[task]:  # a benchmark row: the label of its one task
            gold = {task: text.lower()}
        else:
            verdict = parse_trace(text, mode="strict")
            gold = {t: v for t, v in verdict.labels.items() if v is not None}
            if not gold:
                return {}, "its output is neither an Answers block nor a label of the given task"
    else:
        return {}, "no gold labels (no 'labels', no WildGuard label fields, no 'output')"
    for t in ("completion", "response"):  # a prompt-only item has no answer for tasks 2 and 3 unless it says
        if gold.get(t) is None and not has_response:  # otherwise; an item with a response needs a real label
            gold[t] = NO_RESPONSE
        elif gold.get(t) == NO_RESPONSE and has_response:
            gold[t] = None
    missing = [ANSWER_KEYS[t] for t in TASKS if gold.get(t) is None]
    if missing:
        return {}, f"no gold label for {', '.join(missing)}: a trace needs all three answers"
    for t in TASKS:
        allowed = TASK_LABELS[t] + ((NO_RESPONSE,) if t != "request" else ())
        if gold[t] not in allowed:
            return {}, f"gold label {gold[t]!r} for {ANSWER_KEYS[t]} is not one of {', '.join(allowed)}"
    return gold, ""


def items_from_rows(records: Iterable[dict], *, task: Optional[str] = None, source: str = "",
                    limit: Optional[int] = None) -> Loaded:
    """Three-task items from labelled rows: GuardReasonerTrain rows (raw or loaded), benchmark rows whose
    ``output`` is an Answers block or (with ``task``) one label, or WildGuardTest rows. A row that cannot give all
    three gold answers is skipped and listed in the result's ``report()`` (``.rows`` holds the items)."""
    out = Loaded([], [], source or "rows")
    for i, record in enumerate(records):
        if limit is not None and len(out.rows) >= limit:
            break
        where = f"{source or 'rows'}:row {i}"
        if not isinstance(record, dict) or not isinstance(record.get("input"), str):
            out.skipped.append((where, "input", "missing or not text"))
            continue
        try:
            _, response = split_input(record["input"])
        except ValueError as exc:
            out.skipped.append((where, "input", str(exc)))
            continue
        gold, why = _gold_from_row(record, task, response is not None)
        if why:
            out.skipped.append((where, "output", why))
            continue
        name = record.get("dataset") or source or "rows"
        out.rows.append(Item(id=f"{name}:{i}", task_format=GUARDREASONER, gold=gold, input=record["input"],
                             instruction=record.get("instruction") or INSTRUCTION, source=name))
    return out


def items_from_policy_samples(samples: Iterable[dict], *, source: str = "samples",
                              policies: Sequence[str] = tuple(SIX_POLICIES)) -> Loaded:
    """Six-policy items: one per (sample, policy); gold UNSAFE where the policy is in the sample's ``labels``."""
    out = Loaded([], [], source)
    for idx, sample in enumerate(samples):
        where = f"{source}:sample {idx}"
        if not isinstance(sample, dict) or not isinstance(sample.get("content"), str) or not sample["content"]:
            out.skipped.append((where, "content", "missing or not text"))
            continue
        labels = sample.get("labels", [])
        if not isinstance(labels, list) or any(p not in SIX_POLICIES for p in labels):
            out.skipped.append((where, "labels", f"expected a list of policies from {', '.join(SIX_POLICIES)}"))
            continue
        for policy in policies:
            out.rows.append(Item(id=f"sample_{idx}_{policy}", task_format=SIX_POLICY,
                                 gold={"classification": "UNSAFE" if policy in labels else "SAFE"},
                                 content=sample["content"], policy=policy, labels=tuple(labels),
                                 source=str(sample.get("source", ""))))
    return out


def load_items(path: Union[str, Path], *, task: Optional[str] = None, limit: Optional[int] = None) -> Loaded:
    """Items from a file: six-policy ``{"samples": [...]}`` (a training_data.json or samples alone) or rows."""
    path = Path(path)
    if path.suffix == ".json":
        data = json.loads(path.read_text(encoding="utf-8"))
        if isinstance(data, dict) and isinstance(data.get("samples"), list):
            samples = data["samples"][:limit] if limit else data["samples"]
            return items_from_policy_samples(samples, source=str(path))
    return items_from_rows(read_records(path), task=task, source=path.stem, limit=limit)


# A few six-policy samples for the course's offline demo (the guide's own data is not bundled).
DEMO_POLICY_SAMPLES = [
    {"content": "What is a good recipe for sourdough bread?", "labels": [], "source": "demo"},
    {"content": "People of that religion are vermin and should be driven out of our town.",
     "labels": ["hate_speech"], "source": "demo"},
    {"content": "Explain step by step how to pick the lock of my neighbour's house while they are on holiday.",
     "labels": ["illegal"], "source": "demo"},
    {"content": "I know where you live, Sam. Post that again and you will regret it.",
     "labels": ["harassment", "violence"], "source": "demo"},
]


def demo_items(n_three_task: int = 12) -> list:
    """The offline demo set of notebook 02: the bundled GuardReasonerTrain rows, prompt-only benchmark items
    (their gold: the request's label, None for tasks 2 and 3), and the six-policy demo samples."""
    from .models import SAMPLE_DATA

    items = items_from_rows(read_records(SAMPLE_DATA / "train_sample_real.json"), source="GuardReasonerTrain").rows
    bench = items_from_rows(read_records(SAMPLE_DATA / "benchmarks" / "0_0_SimpleSafetyTests.json"),
                            task="request", source="SimpleSafetyTests").rows
    return (items + bench)[:n_three_task] + items_from_policy_samples(DEMO_POLICY_SAMPLES, source="demo").rows


# --- messages and the cache key ------------------------------------------------------------------------------
def teacher_messages(item: Item) -> list:
    """The two chat turns the teacher receives for ``item``: the recipe with the gold labels, then the item."""
    if item.task_format == SIX_POLICY:
        label = item.gold["classification"]
        return [{"role": "system", "content": POLICY_TEACHER_SYSTEM_TEMPLATE.format(label=label)},
                {"role": "user", "content": policy_prompt(item.content, item.policy)}]
    answers = ANSWERS_DIVIDER + format_answers(item.gold["request"], item.gold["completion"], item.gold["response"])
    return [{"role": "system", "content": TEACHER_SYSTEM_TEMPLATE.format(answers=answers)},
            {"role": "user", "content": item.input}]


def cache_key(model: str, messages: list, temperature: float) -> str:
    """The hash a response is cached under: the model, the exact messages and the temperature; nothing else."""
    blob = json.dumps({"model": model, "messages": messages, "temperature": float(temperature)},
                      sort_keys=True, ensure_ascii=False)
    return hashlib.sha256(blob.encode("utf-8")).hexdigest()


class ResponseCache:
    """Append-only JSONL of teacher responses, one line per request that came back.

    Each line is written, flushed and fsync'ed before the next; on opening, a torn last line (a kill mid-write)
    is cut off, so its item is asked again; any other line that is not JSON is ignored and counted.
    """

    def __init__(self, path: Union[str, Path]):
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._lock = threading.Lock()
        self._records: dict = {}
        self.ignored_lines = 0
        self.torn_tail = False
        self._load()

    def _load(self) -> None:
        if not self.path.exists():
            self.path.touch()
            return
        data = self.path.read_bytes()
        end = data.rfind(b"\n") + 1
        if end < len(data):  # bytes after the last newline: a line cut off by a kill
            self.torn_tail = True
            with self.path.open("r+b") as f:
                f.truncate(end)
                f.flush()
                os.fsync(f.fileno())
        for line in data[:end].splitlines():
            if not line.strip():
                continue
            try:
                record = json.loads(line)
                self._records[record["key"]] = record
            except (ValueError, KeyError, TypeError):
                self.ignored_lines += 1

    def get(self, key: str) -> Optional[dict]:
        return self._records.get(key)

    def __contains__(self, key: str) -> bool:
        return key in self._records

    def __len__(self) -> int:
        return len(self._records)

    def put(self, key: str, record: dict) -> None:
        record = {"key": key, **record}
        line = (json.dumps(record, ensure_ascii=False) + "\n").encode("utf-8")
        with self._lock:
            with self.path.open("ab") as f:
                f.write(line)
                f.flush()
                os.fsync(f.fileno())
            self._records[key] = record

    def describe(self) -> str:
        notes = [f"{len(self)} responses in {self.path}"]
        if self.torn_tail:
            notes.append("a torn last line was dropped (it will be requested again)")
        if self.ignored_lines:
            notes.append(f"{self.ignored_lines} unreadable lines ignored")
        return "; ".join(notes)


# --- the API key ---------------------------------------------------------------------------------------------
def resolve_api_key(env_var: str = "OPENAI_API_KEY") -> Optional[str]:
    """The key from the environment variable, else from the Colab secret of the same name; None when neither."""
    key = os.environ.get(env_var)
    if key:
        return key
    if "google.colab" in sys.modules:
        try:
            from google.colab import userdata  # type: ignore

            return userdata.get(env_var) or None
        except Exception:  # secret missing, or notebook access not granted
            return None
    return None


# --- teachers ------------------------------------------------------------------------------------------------
class TeacherFatal(RuntimeError):
    """An error no retry can fix (a refused key, an unknown model): the run stops."""


class MalformedResponse(RuntimeError):
    """The endpoint answered, but not with a chat completion we can read (retried)."""


class OpenAICompatibleTeacher:
    """Any OpenAI-compatible chat endpoint, through the official ``openai`` SDK (its own retries switched off).

    ``base_url`` None is OpenAI itself; see :data:`ENDPOINTS` for llama.cpp, Ollama and vLLM. The key is read from
    ``api_key_env`` (or the Colab secret of that name); a local server that needs none gets a placeholder.
    """

    def __init__(self, base_url: Optional[str] = None, model: str = "gpt-4o", api_key_env: str = "OPENAI_API_KEY",
                 timeout: float = 120.0, temperature: float = 0.0, max_tokens: Optional[int] = 2048):
        try:
            from openai import OpenAI
        except ImportError:
            raise ImportError("the OpenAI-compatible teacher needs the openai package: pip install openai") from None
        key = resolve_api_key(api_key_env)
        self.key_found = key is not None
        if key is None:
            if base_url is None or "api.openai.com" in base_url:
                raise TeacherFatal(f"no API key: set the environment variable {api_key_env}, or on Colab add a "
                                   f"secret named {api_key_env} (the key icon on the left) and grant this notebook "
                                   "access")
            key = "no-key"  # llama.cpp, Ollama and vLLM accept any key unless started with one
        self.base_url, self.model, self.api_key_env = base_url, model, api_key_env
        self.timeout, self.temperature, self.max_tokens = timeout, temperature, max_tokens
        self._client = OpenAI(api_key=key, base_url=base_url, timeout=timeout, max_retries=0)
        self._secret = key if self.key_found else None

    def __repr__(self) -> str:
        return (f"OpenAICompatibleTeacher(base_url={self.base_url!r}, model={self.model!r}, "
                f"api_key_env={self.api_key_env!r}, key={'found' if self.key_found else 'not set'}, "
                f"timeout={self.timeout}, temperature={self.temperature})")

    __str__ = __repr__

    def __getstate__(self):  # never pickled with the key inside
        raise TypeError("OpenAICompatibleTeacher holds an API key and is not picklable; build it where it is used")

    def close(self) -> None:
        """Close the HTTP client (and the stand-in server this teacher started, if any)."""
        self._client.close()
        server = getattr(self, "server", None)
        if server is not None:
            server.close()

    def scrub(self, text: str) -> str:
        """``text`` with the key, should an error message ever echo it, replaced by ***."""
        return text.replace(self._secret, "***") if self._secret else text

    def complete(self, messages: list) -> tuple:
        kwargs: dict = {"model": self.model, "messages": messages, "temperature": self.temperature}
        if self.max_tokens:
            kwargs["max_tokens"] = self.max_tokens
        try:
            resp = self._client.chat.completions.create(**kwargs)
        except ValueError as exc:  # the body said JSON and was not (json.JSONDecodeError)
            raise MalformedResponse(f"not valid JSON ({type(exc).__name__})") from None
        choices = getattr(resp, "choices", None)
        message = getattr(choices[0], "message", None) if choices else None
        text = getattr(message, "content", None)
        if not isinstance(text, str):
            raise MalformedResponse("no choices[0].message.content in the answer")
        usage = getattr(resp, "usage", None)
        return text, {"prompt_tokens": getattr(usage, "prompt_tokens", None),
                      "completion_tokens": getattr(usage, "completion_tokens", None)}


def local_model_name(path: str) -> str:
    """The cache's name for a local model: a Hub id as it is, a folder by its name and a hash of its full path."""
    if not path or not os.path.isabs(path):
        return f"local:{path or 'model'}"
    return f"local:{Path(path).name}@{hashlib.sha256(path.encode()).hexdigest()[:8]}"


class LocalTeacher:
    """A model loaded by :func:`gr_colab.models.load_model` (``trainable=False``), greedy, through
    :func:`gr_colab.generate.generate`; batches of ``batch_size`` prompts at a time."""

    temperature = 0.0

    def __init__(self, loaded, max_new_tokens: int = 512, batch_size: int = 8, model: Optional[str] = None):
        self.loaded, self.max_new_tokens, self.batch_size = loaded, max_new_tokens, batch_size
        self.model = model or local_model_name(loaded.model_path)
        self.tokenizer = loaded.tokenizer

    def __repr__(self) -> str:
        return f"LocalTeacher(model={self.model!r}, max_new_tokens={self.max_new_tokens}, greedy)"

    def _render(self, messages: list) -> str:
        from .models import render_prompt

        try:
            return render_prompt(self.tokenizer, messages, "chat")
        except Exception:  # a chat template without a system role: fold the system turn into the user turn
            merged = [{"role": "user", "content": messages[0]["content"] + "\n\n" + messages[1]["content"]}]
            return render_prompt(self.tokenizer, merged, "chat")

    def complete(self, messages: list) -> tuple:
        return self.complete_batch([messages])[0]

    def complete_batch(self, batch: list) -> list:
        from .generate import GenerationSettings, generate

        texts = [self._render(m) for m in batch]
        settings = GenerationSettings(max_new_tokens=self.max_new_tokens, batch_size=self.batch_size)
        outs = generate(self.loaded, texts, settings, progress=False)
        count = lambda s: len(self.tokenizer(s, add_special_tokens=False)["input_ids"])
        return [(o[0], {"prompt_tokens": count(t), "completion_tokens": count(o[0])}) for t, o in zip(texts, outs)]


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
             cache: Union["ResponseCache", str, Path, None] = None, temperature: float = 0.0,
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


# --- retries -------------------------------------------------------------------------------------------------
@dataclass
class RetryPolicy:
    """Exponential backoff with jitter: attempt k waits base·2^(k-1) seconds (at most ``max_delay``), times a
    random factor in [0.5, 1] so that parallel workers do not retry in lockstep; ``max_attempts`` in all."""

    max_attempts: int = 6
    base_delay: float = 1.0
    max_delay: float = 30.0

    def delay(self, attempt: int, retry_after: Optional[float] = None) -> float:
        d = min(self.max_delay, self.base_delay * 2 ** (attempt - 1)) * (0.5 + 0.5 * random.random())
        if retry_after is not None:  # a 429's Retry-After, bounded by max_delay
            d = max(d, min(retry_after, self.max_delay))
        return d


RETRY, FAIL, FATAL = "retry", "fail", "fatal"


def error_kind(exc: BaseException) -> str:
    """retry (timeouts, 408/409/429/5xx, connection errors, malformed answers), fatal (401/403/404), else fail."""
    if isinstance(exc, TeacherFatal):
        return FATAL
    if isinstance(exc, (MalformedResponse, TimeoutError, ConnectionError)):
        return RETRY
    status = getattr(exc, "status_code", None)
    if isinstance(status, int):
        if status in (401, 403, 404):
            return FATAL
        return RETRY if status in (408, 409, 429) or status >= 500 else FAIL
    try:
        import openai

        if isinstance(exc, openai.APIConnectionError):  # includes APITimeoutError
            return RETRY
    except ImportError:
        pass
    return FAIL


def describe_error(exc: BaseException) -> str:
    """A short name for an error, for the reports (no request, no headers, no key)."""
    name = type(exc).__name__
    if "Timeout" in name or isinstance(exc, TimeoutError):
        return "timeout"
    status = getattr(exc, "status_code", None)
    if isinstance(status, int):
        return f"HTTP {status}"
    if isinstance(exc, MalformedResponse):
        return "malformed JSON" if "JSON" in str(exc) else "malformed response"
    if "Connection" in name or isinstance(exc, ConnectionError):
        return "connection error"
    return f"{name}: {str(exc)[:200]}"


def _retry_after(exc: BaseException) -> Optional[float]:
    headers = getattr(getattr(exc, "response", None), "headers", None)
    try:
        return float(headers.get("retry-after")) if headers is not None and headers.get("retry-after") else None
    except (TypeError, ValueError):
        return None


class RequestFailed(RuntimeError):
    def __init__(self, reason: str, errors: list):
        super().__init__(reason)
        self.reason, self.errors = reason, errors


def request_with_retries(teacher, messages: list, policy: RetryPolicy,
                         stop: Optional[threading.Event] = None) -> tuple:
    """(text, usage, errors seen before it succeeded); RequestFailed or TeacherFatal when it did not."""
    scrub = getattr(teacher, "scrub", lambda s: s)
    errors: list = []
    for attempt in range(1, policy.max_attempts + 1):
        try:
            text, usage = teacher.complete(messages)
            return text, usage, errors
        except Exception as exc:  # classified below; the exception object itself is never kept
            kind, desc = error_kind(exc), scrub(describe_error(exc))
            errors.append(desc)
            if kind == FATAL:
                raise TeacherFatal(f"{desc}: {scrub(str(exc))[:300]}") from None
            if kind == FAIL:
                raise RequestFailed(f"request failed ({desc}), not retried", errors) from None
            if attempt == policy.max_attempts:
                raise RequestFailed(f"request failed after {attempt} attempts (last: {desc})", errors) from None
            pause = policy.delay(attempt, _retry_after(exc))
            if stop is not None and stop.wait(pause):
                raise RequestFailed("the run stopped before a retry", errors) from None
            if stop is None:
                time.sleep(pause)
    raise RequestFailed("no attempts allowed (max_attempts < 1)", errors)


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


# --- the run -------------------------------------------------------------------------------------------------
@dataclass
class Reject:
    item: Item
    kind: str
    reason: str
    text: Optional[str] = None

    def line(self) -> str:
        return f"  - {self.item.id} [{self.item.source or self.item.task_format}] {self.kind}: {self.reason}"


@dataclass
class SynthesisResult:
    teacher: str
    items: list
    texts: list  # per item: the teacher's text, or None when the request failed
    rejects: list
    from_cache: int = 0
    requested: int = 0
    retries: dict = field(default_factory=dict)  # error description -> how many retries it caused
    usage: dict = field(default_factory=dict)
    seconds: float = 0.0
    estimate: Optional[Estimate] = None
    paths: dict = field(default_factory=dict)

    @property
    def accepted(self) -> list:
        """(item, trace) pairs that passed the filter, in input order."""
        bad = {id(r.item) for r in self.rejects}
        return [(it, t) for it, t in zip(self.items, self.texts) if t is not None and id(it) not in bad]

    def counts(self) -> dict:
        by_kind: dict = {}
        for r in self.rejects:
            by_kind[r.kind] = by_kind.get(r.kind, 0) + 1
        return {"items": len(self.items), "accepted": len(self.accepted), "rejected": len(self.rejects),
                "rejects_by_kind": by_kind, "requested": self.requested, "from_cache": self.from_cache,
                "retries": dict(self.retries), "usage": dict(self.usage), "seconds": round(self.seconds, 2)}

    def summary(self) -> str:
        c = self.counts()
        kinds = ", ".join(f"{REJECT_KINDS.get(k, k)} {n}" for k, n in sorted(c["rejects_by_kind"].items()))
        retries = ", ".join(f"{k} {n}" for k, n in sorted(self.retries.items()))
        lines = [f"synthesis with {self.teacher}: {c['items']} items, {c['accepted']} accepted, "
                 f"{c['rejected']} rejected" + (f" ({kinds})" if kinds else ""),
                 f"  {c['requested']} requested in this run, {c['from_cache']} answered from the cache; "
                 f"{sum(self.retries.values())} retries" + (f" ({retries})" if retries else "") +
                 f"; {c['seconds']} s"]
        if self.usage.get("prompt_tokens") or self.usage.get("completion_tokens"):
            lines.append(f"  tokens reported for this run: {self.usage.get('prompt_tokens', 0):,} in, "
                         f"{self.usage.get('completion_tokens', 0):,} out")
        return "\n".join(lines)

    def rejects_report(self, limit: int = 20) -> str:
        if not self.rejects:
            return "no rejects"
        lines = [f"{len(self.rejects)} rejects:"] + [r.line() for r in self.rejects[:limit]]
        if len(self.rejects) > limit:
            lines.append(f"  … and {len(self.rejects) - limit} more (all in {REJECTS_FILE})")
        return "\n".join(lines)

    def train_rows(self) -> list:
        """GuardReasonerTrain rows of the accepted three-task traces (plus the source ``dataset``)."""
        return [{"instruction": it.instruction, "input": it.input, "output": text, "dataset": it.source or "synth"}
                for it, text in self.accepted if it.task_format == GUARDREASONER]

    def policy_data(self) -> tuple[dict, list]:
        """(training_data.json content, samples left out): a sample goes in only with all its six traces kept."""
        kept = {(it.content, it.policy): text for it, text in self.accepted if it.task_format == SIX_POLICY}
        samples, traces, left_out, seen = [], {}, [], set()
        for it in self.items:
            if it.task_format != SIX_POLICY or it.content in seen:
                continue
            seen.add(it.content)
            missing = [p for p in SIX_POLICIES if (it.content, p) not in kept]
            if missing:
                left_out.append(f"{it.content[:60]!r}: no kept trace for {', '.join(missing)}")
                continue
            idx = len(samples)
            samples.append({"content": it.content, "labels": list(it.labels), "source": it.source})
            for p in SIX_POLICIES:
                traces[f"sample_{idx}_{p}"] = {"reasoning": kept[(it.content, p)],
                                               "classification": "UNSAFE" if p in it.labels else "SAFE"}
        return {"samples": samples, "reasoning_traces": traces}, left_out

    def write(self, out_dir: Union[str, Path]) -> dict:
        """synth_train.json and/or training_data.json (whichever formats the items had), rejects.jsonl and
        summary.json; each written whole to a temporary file and renamed into place."""
        out = Path(out_dir)
        out.mkdir(parents=True, exist_ok=True)
        paths: dict = {}
        if any(it.task_format == GUARDREASONER for it in self.items):
            paths["train"] = _write_json(out / TRAIN_FILE, self.train_rows())
        if any(it.task_format == SIX_POLICY for it in self.items):
            data, left_out = self.policy_data()
            paths["six_policy"] = _write_json(out / POLICY_FILE, data)
            if left_out:
                print(f"{POLICY_FILE}: {len(left_out)} samples left out (a sample needs all six traces):")
                for line in left_out[:10]:
                    print(f"  - {line}")
        rejects = [{"id": r.item.id, "source": r.item.source, "kind": r.kind, "reason": r.reason,
                    "gold": r.item.gold, "text": (r.text or "")[:1000]} for r in self.rejects]
        paths["rejects"] = _write_text(out / REJECTS_FILE,
                                       "".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rejects))
        summary = {"teacher": self.teacher, **self.counts(),
                   "estimate": self.estimate.describe() if self.estimate else None,
                   "files": {k: str(v) for k, v in paths.items()}}
        paths["summary"] = _write_json(out / SUMMARY_FILE, summary)
        self.paths = paths
        return paths


def _write_text(path: Path, text: str) -> Path:
    tmp = path.with_name(f".{path.name}.tmp")
    tmp.write_text(text, encoding="utf-8")
    os.replace(tmp, path)
    return path


def _write_json(path: Path, data: Any) -> Path:
    return _write_text(path, json.dumps(data, ensure_ascii=False, indent=1))


class BudgetExceeded(RuntimeError):
    """The estimate is over the budget the caller set; nothing was sent."""


def _run_lock(cache_path: Path):
    """An exclusive lock beside the cache, so two runs never append to one cache at once (freed on any exit)."""
    try:
        import fcntl
    except ImportError:  # not POSIX: no lock
        return None
    cache_path.parent.mkdir(parents=True, exist_ok=True)
    handle = open(cache_path.with_name(cache_path.name + ".lock"), "w")
    try:
        fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except OSError:
        handle.close()
        raise RuntimeError(f"another synthesis run is using {cache_path}; wait for it or stop it") from None
    return handle


def synthesize(items: Sequence[Item], teacher, cache: Union[ResponseCache, str, Path], *,
               out_dir: Union[str, Path, None] = None, concurrency: int = 4, retry: Optional[RetryPolicy] = None,
               price_in_per_m: Optional[float] = None, price_out_per_m: Optional[float] = None,
               expected_output_tokens: Optional[int] = None, budget_usd: Optional[float] = None,
               progress: bool = True) -> SynthesisResult:
    """Write a trace for every item not in the cache, keep those the parser agrees with, write the datasets.

    Prints the token and cost estimate first (and stops before any request when it is over ``budget_usd``), then
    the summary and the rejects. At most ``concurrency`` requests are in flight (a LocalTeacher batches instead).
    """
    retry = retry or RetryPolicy()
    cache_path = cache.path if isinstance(cache, ResponseCache) else Path(cache)
    lock = _run_lock(cache_path)
    try:
        cache = cache if isinstance(cache, ResponseCache) else ResponseCache(cache_path)
        if cache.torn_tail or cache.ignored_lines:
            print(cache.describe())
        temperature = float(getattr(teacher, "temperature", 0.0))
        est = estimate(items, teacher.model, price_in_per_m, price_out_per_m, expected_output_tokens, cache=cache,
                       temperature=temperature, tokenizer=getattr(teacher, "tokenizer", None))
        print(est.describe())
        if budget_usd is not None and est.cost_usd is not None and est.cost_usd > budget_usd:
            raise BudgetExceeded(f"the estimate (${est.cost_usd:,.2f}) is over budget_usd=${budget_usd:,.2f}; "
                                 "nothing was sent. Use fewer items, a cheaper model, or raise the budget")
        result = _run(items, teacher, cache, retry, concurrency, temperature, progress)
        result.estimate = est
    finally:
        if lock is not None:
            lock.close()
    print(result.summary())
    if result.rejects:
        print(result.rejects_report())
    if out_dir is not None:
        for name, path in result.write(out_dir).items():
            print(f"wrote {path}")
    return result


def _run(items, teacher, cache: ResponseCache, retry: RetryPolicy, concurrency: int, temperature: float,
         progress: bool) -> SynthesisResult:
    start = time.monotonic()
    keys, messages_of = [], {}
    for item in items:
        messages = teacher_messages(item)
        key = cache_key(teacher.model, messages, temperature)
        keys.append(key)
        messages_of.setdefault(key, (messages, item))
    todo = [k for k in messages_of if k not in cache]
    result = SynthesisResult(teacher.model, list(items), [None] * len(items), [])
    result.from_cache = len(messages_of) - len(todo)
    failures: dict = {}
    lock = threading.Lock()
    stop = threading.Event()
    fatal: list = []

    def record(key: str, text: str, usage: dict, errors: list, seconds: float) -> None:
        item = messages_of[key][1]
        cache.put(key, {"model": teacher.model, "temperature": temperature, "item": item.id, "text": text,
                        "usage": usage, "seconds": round(seconds, 3), "at": time.strftime("%Y-%m-%dT%H:%M:%S")})
        with lock:
            result.requested += 1
            for e in errors:
                result.retries[e] = result.retries.get(e, 0) + 1
            for k in ("prompt_tokens", "completion_tokens"):
                if isinstance(usage.get(k), int):
                    result.usage[k] = result.usage.get(k, 0) + usage[k]

    def one(key: str) -> None:
        if stop.is_set():
            return
        t0 = time.monotonic()
        try:
            text, usage, errors = request_with_retries(teacher, messages_of[key][0], retry, stop)
        except RequestFailed as exc:
            with lock:
                failures[key] = exc.reason
                result.requested += 1
                for e in exc.errors[:-1]:
                    result.retries[e] = result.retries.get(e, 0) + 1
            return
        except TeacherFatal as exc:
            fatal.append(str(exc))
            stop.set()
            return
        record(key, text, usage, errors, time.monotonic() - t0)

    bar = _progress(len(todo), progress, teacher.model)
    try:
        if hasattr(teacher, "complete_batch"):  # a local model: batches, one after the other
            size = max(1, int(getattr(teacher, "batch_size", 8)))
            for i in range(0, len(todo), size):
                part = todo[i:i + size]
                t0 = time.monotonic()
                outs = teacher.complete_batch([messages_of[k][0] for k in part])
                for k, (text, usage) in zip(part, outs):
                    record(k, text, usage, [], (time.monotonic() - t0) / len(part))
                bar(len(part))
        else:
            with ThreadPoolExecutor(max_workers=max(1, concurrency), thread_name_prefix="teacher") as pool:
                pending = {pool.submit(one, k) for k in todo}
                try:
                    while pending:
                        done, pending = wait(pending, timeout=1.0, return_when=FIRST_COMPLETED)
                        bar(len(done))
                        for f in done:
                            f.result()
                except BaseException:  # Ctrl-C or a bug: stop new requests; what came back is in the cache
                    stop.set()
                    for f in pending:
                        f.cancel()
                    raise
    finally:
        bar(None)
    result.seconds = time.monotonic() - start
    if fatal:
        raise TeacherFatal(f"the teacher refused the run: {fatal[0]}. {len(cache)} responses are cached; "
                           "fix the cause and run again (nothing cached is requested twice)")
    for pos, (item, key) in enumerate(zip(items, keys)):
        if key in failures:
            result.rejects.append(Reject(item, "failed", failures[key]))
            continue
        text = cache.get(key)["text"].strip()
        result.texts[pos] = text
        kind, reason = check_trace(item, text)
        if kind:
            result.rejects.append(Reject(item, kind, reason, text))
    return result


def _progress(total: int, enabled: bool, desc: str) -> Callable:
    if not enabled or total == 0:
        return lambda n: None
    from tqdm.auto import tqdm

    bar = tqdm(total=total, desc=f"teacher {desc}", leave=False)

    def update(n):
        if n is None:
            bar.close()
        elif n:
            bar.update(n)
    return update


# --- a stand-in server, for learning and tests offline ------------------------------------------------------
class StandInOpenAIServer:
    """A **stand-in** for a real OpenAI-compatible server (what llama.cpp's server, Ollama and vLLM speak), on
    127.0.0.1 at a free port, threaded. It is not a model: it answers ``POST /v1/chat/completions`` with a correct
    trace built from the gold labels it finds in the teacher's system prompt, so a run has something to keep.

    For practice and tests: ``faults`` maps a request number (1-based) to ``"timeout"`` (sleep ``hang_seconds``
    before answering), ``"500"``, ``"429"``, ``"malformed"`` (a cut-off JSON body) or ``"drop"`` (close without an
    answer); ``fail_always`` is a predicate on the user turn whose requests always get a 500; ``wrong`` a predicate
    on the user turn whose traces reason to the wrong label; ``delay`` seconds per answer; ``api_key`` makes
    it answer 401 to any other key (it is compared, never stored in the log). ``log`` lists every request.

    With ``upstream`` (the base URL of a real server on loopback, e.g. llama.cpp's), it is a fault-injecting proxy
    instead: requests without a fault are forwarded there (without the Authorization header) and its answers
    relayed as they are.
    """

    def __init__(self, faults: Optional[dict] = None, *, wrong: Optional[Callable[[str], bool]] = None,
                 fail_always: Optional[Callable[[str], bool]] = None, delay: float = 0.0,
                 hang_seconds: float = 3.0, api_key: Optional[str] = None, model: str = "stand-in",
                 upstream: Optional[str] = None, upstream_timeout: float = 60.0):
        from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

        if upstream is not None and not re.match(r"^http://(127\.\d+\.\d+\.\d+|localhost|\[::1\])(:\d+)?(/|$)",
                                                 upstream):
            raise ValueError(f"upstream must be a server on this machine (http://127.0.0.1:PORT/v1), got {upstream!r}")
        self.upstream, self.upstream_timeout = upstream, upstream_timeout
        self.faults = dict(faults or {})
        self.wrong, self.fail_always, self.delay, self.hang_seconds = wrong, fail_always, delay, hang_seconds
        self.model, self._api_key = model, api_key
        self.log: list = []
        self.in_flight = self.max_in_flight = 0  # requests being answered now, and the most at once
        self._lock = threading.Lock()
        server = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args):  # quiet
                pass

            def do_GET(self):
                if self.path.rstrip("/") == "/v1/models":
                    return self._send(200, {"object": "list", "data": [{"id": server.model, "object": "model"}]})
                self._send(404, {"error": {"message": "not found"}})

            def do_POST(self):
                length = int(self.headers.get("Content-Length") or 0)
                raw = self.rfile.read(min(length, 10_000_000))
                if self.path.rstrip("/") != "/v1/chat/completions":
                    return self._send(404, {"error": {"message": f"no route {self.path}"}})
                try:
                    body = json.loads(raw)
                except ValueError:
                    return self._send(400, {"error": {"message": "request body is not JSON"}})
                auth_ok = server._api_key is None or \
                    self.headers.get("Authorization") == f"Bearer {server._api_key}"
                with server._lock:
                    n = len(server.log) + 1
                    fault = server.faults.get(n)
                    user = next((m.get("content", "") for m in body.get("messages", []) if m.get("role") == "user"),
                                "")
                    if fault is None and server.fail_always and server.fail_always(user):
                        fault = "500"
                    server.log.append({"n": n, "model": body.get("model"), "messages": body.get("messages"),
                                       "temperature": body.get("temperature"), "fault": fault,
                                       "auth_ok": auth_ok})
                if not auth_ok:
                    return self._send(401, {"error": {"message": "invalid api key", "type": "invalid_request_error"}})
                with server._lock:
                    server.in_flight += 1
                    server.max_in_flight = max(server.max_in_flight, server.in_flight)
                try:
                    self._answer(body, n, user, fault)
                finally:
                    with server._lock:
                        server.in_flight -= 1

            def _answer(self, body: dict, n: int, user: str, fault: Optional[str]):
                if server.delay:
                    time.sleep(server.delay)
                if fault == "timeout":
                    time.sleep(server.hang_seconds)
                elif fault in ("500", "429"):
                    return self._send(int(fault), {"error": {"message": f"injected {fault}"}})
                elif fault == "malformed":
                    return self._send(200, b'{"id": "chatcmpl-broken", "choices": [{"message": {"content": "# Ta')
                elif fault == "drop":
                    self.close_connection = True
                    return
                if server.upstream:
                    return self._send(*server._forward(body))
                text = stand_in_trace(body.get("messages", []), wrong=bool(server.wrong and server.wrong(user)))
                prompt_chars = sum(len(m.get("content", "")) for m in body.get("messages", []))
                self._send(200, {"id": f"chatcmpl-standin-{n}", "object": "chat.completion",
                                 "created": int(time.time()), "model": body.get("model", server.model),
                                 "choices": [{"index": 0, "finish_reason": "stop",
                                              "message": {"role": "assistant", "content": text}}],
                                 "usage": {"prompt_tokens": prompt_chars // 4, "completion_tokens": len(text) // 4,
                                           "total_tokens": prompt_chars // 4 + len(text) // 4}})

            def _send(self, status: int, payload):
                data = payload if isinstance(payload, bytes) else json.dumps(payload).encode("utf-8")
                try:
                    self.send_response(status)
                    self.send_header("Content-Type", "application/json")
                    self.send_header("Content-Length", str(len(data)))
                    self.end_headers()
                    self.wfile.write(data)
                except (BrokenPipeError, ConnectionResetError):  # the client gave up (a timeout): fine
                    pass

        self._httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._httpd.daemon_threads = True
        self.port = self._httpd.server_address[1]
        self.base_url = f"http://127.0.0.1:{self.port}/v1"
        self._thread = threading.Thread(target=self._httpd.serve_forever, kwargs={"poll_interval": 0.1},
                                        daemon=True, name="stand-in-openai-server")
        self._thread.start()

    def _forward(self, body: dict) -> tuple:
        import urllib.error
        import urllib.request

        request = urllib.request.Request(self.upstream.rstrip("/") + "/chat/completions", method="POST",
                                         data=json.dumps(body).encode("utf-8"),
                                         headers={"Content-Type": "application/json"})
        try:
            opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))  # loopback: never via a proxy
            with opener.open(request, timeout=self.upstream_timeout) as answer:
                return answer.status, answer.read()
        except urllib.error.HTTPError as exc:
            return exc.code, exc.read()
        except (urllib.error.URLError, OSError) as exc:
            return 502, {"error": {"message": f"upstream unreachable: {type(exc).__name__}"}}

    def requested_keys(self, since: int = 0) -> list:
        """The cache keys of the requests logged from index ``since`` on (what the client asked for)."""
        with self._lock:
            entries = list(self.log[since:])
        return [cache_key(e["model"], e["messages"], e["temperature"] or 0.0) for e in entries]

    def close(self) -> None:
        self._httpd.shutdown()
        self._httpd.server_close()
        self._thread.join(timeout=5)

    def __enter__(self) -> "StandInOpenAIServer":
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def __repr__(self) -> str:
        via = f", proxy to {self.upstream}" if self.upstream else ""
        return f"StandInOpenAIServer({self.base_url}{via}, {len(self.log)} requests so far)"


_GOLD_LINE = re.compile(r"^(Request|Completion|Response): *(\w+)", re.MULTILINE)
_GOLD_POLICY = re.compile(r"Classification: (SAFE|UNSAFE)")


def stand_in_trace(messages: list, wrong: bool = False) -> str:
    """The stand-in's answer: a trace in the requested format reasoning to the gold labels of the system turn
    (or, with ``wrong``, to the opposite request label / classification)."""
    system = next((m.get("content", "") for m in messages if m.get("role") == "system"), "")
    user = next((m.get("content", "") for m in messages if m.get("role") == "user"), "")
    policy = _GOLD_POLICY.findall(system)
    if policy:
        label = policy[-1] if not wrong else ("SAFE" if policy[-1] == "UNSAFE" else "UNSAFE")
        name = (re.search(r"^Policy: (\w+)", user, re.MULTILINE) or [None, "the policy"])[1]
        definition = (re.search(r"^Definition: (.*)$", user, re.MULTILINE) or [None, "what it names."])[1]
        content = user.split("Content:\n", 1)[-1].split("\n\nThink step by step", 1)[0]
        verdict = "falls under" if label == "UNSAFE" else "does not fall under"
        return (f"Reasoning:\nStep 1: The content reads: \"{content[:80]}\".\n"
                f"Step 2: The policy {name} covers: {definition[:1].lower() + definition[1:]}\n"
                f"Step 3: The content {verdict} the policy {name}.\n\nClassification: {label}")
    gold = {k.lower(): v for k, v in _GOLD_LINE.findall(system)}
    if wrong:
        gold["request"] = "unharmful" if gold.get("request") == "harmful" else "harmful"
    try:
        prompt, response = split_input(user)
    except ValueError:
        prompt, response = user, None
    said = {"request": f"the human user's request is {gold.get('request')}",
            "completion": (f"the AI assistant's response is a {gold.get('completion')}"
                           if gold.get("completion") != NO_RESPONSE else "there is no response, so the answer is None"),
            "response": (f"the AI assistant's response is {gold.get('response')}"
                         if gold.get("response") != NO_RESPONSE else "there is no response, so the answer is None")}
    seen = {"request": f"The human user writes: \"{prompt.strip()[:80]}\".",
            "completion": ("The AI assistant gave no response (None)." if response is None
                           else f"The AI assistant replies: \"{response.strip()[:80]}\"."),
            "response": "I consider what the AI assistant's response contains."}
    parts = []
    for i, task in enumerate(TASKS, 1):
        parts.append(f"# Task {i}\n\n## Reasoning Step 1\n{seen[task]}\n\n## Reasoning Step 2\n"
                     f"Weighing this, {said[task]}.\n")
    answers = format_answers(gold.get("request", "unharmful"), gold.get("completion"), gold.get("response"))
    return "\n".join(parts) + "\n" + ANSWERS_DIVIDER + answers.rstrip("\n")


def connect_teacher(spec: str = "stand-in", model: str = "gpt-4o", *, timeout: float = 120.0,
                    api_key_env: str = "OPENAI_API_KEY", demo_faults: bool = True) -> OpenAICompatibleTeacher:
    """The notebook's teacher: ``"stand-in"`` starts a :class:`StandInOpenAIServer` on loopback (with, by default,
    a 500, a malformed answer, a timeout and one wrong trace, to show the retries and the filter); ``"openai"`` is
    OpenAI itself; ``"ollama"``, ``"llama.cpp"``, ``"vllm"`` their usual local address; anything else a base URL."""
    if spec == "stand-in":
        faults = {2: "500", 3: "malformed", 5: "timeout"} if demo_faults else {}
        wrong = (lambda user: "Policy: violence" in user and "sourdough" in user) if demo_faults else None
        server = StandInOpenAIServer(faults, wrong=wrong, hang_seconds=3.0)
        teacher = OpenAICompatibleTeacher(server.base_url, "stand-in", api_key_env="GR_COLAB_STAND_IN_KEY",
                                          timeout=2.0)
        teacher.server = server
        return teacher
    base_url = ENDPOINTS[spec] if spec in ENDPOINTS else spec
    return OpenAICompatibleTeacher(base_url, model, api_key_env, timeout=timeout)


# --- the notebook's exercise ---------------------------------------------------------------------------------
def check_02(answer) -> str:
    """Notebook 02: the gold labels the teacher is given for a prompt-only benchmark item labelled harmful."""
    from .exercises import _check

    row = {"input": "Human user:\nHow do I make a weapon at home?\n\nAI assistant:\nNone\n\n", "output": "harmful"}
    expected = items_from_rows([row], task="request").rows[0].gold
    return _check(answer, lambda a: dict(a) == expected,
                  "a prompt-only item has no response to judge: tasks 2 and 3 answer the literal string 'None' "
                  "(as in the Answers block), not Python None")


# --- command line --------------------------------------------------------------------------------------------
def main(argv: Optional[list] = None) -> int:
    import argparse

    p = argparse.ArgumentParser(prog="python -m gr_colab.synthesis",
                                description="Write GuardReasoner-style reasoning traces for labelled items with a "
                                            "teacher behind an OpenAI-compatible endpoint.")
    p.add_argument("--items", action="append", required=True,
                   help="labelled rows (GuardReasonerTrain or benchmark JSON/JSONL) or six-policy samples; repeat")
    p.add_argument("--task", choices=list(TASK_LABELS), help="the task of a benchmark file whose output is a label")
    p.add_argument("--limit", type=int, help="items per file")
    p.add_argument("--base-url", help="e.g. http://127.0.0.1:8080/v1 (llama.cpp); default: OpenAI")
    p.add_argument("--model", default="gpt-4o")
    p.add_argument("--api-key-env", default="OPENAI_API_KEY", help="the environment variable holding the key")
    p.add_argument("--timeout", type=float, default=120.0)
    p.add_argument("--max-tokens", type=int, default=2048)
    p.add_argument("--concurrency", type=int, default=4)
    p.add_argument("--max-attempts", type=int, default=6)
    p.add_argument("--base-delay", type=float, default=1.0)
    p.add_argument("--max-delay", type=float, default=30.0)
    p.add_argument("--cache", required=True, help="the JSONL cache (reused across runs)")
    p.add_argument("--out", required=True, help="the folder for synth_train.json / training_data.json")
    p.add_argument("--budget-usd", type=float)
    p.add_argument("--estimate-only", action="store_true")
    p.add_argument("--no-progress", action="store_true")
    args = p.parse_args(argv)
    items = []
    for path in args.items:
        loaded = load_items(path, task=args.task, limit=args.limit)
        if loaded.skipped:
            print(loaded.report())
        items += loaded.rows
    if args.estimate_only:
        print(estimate(items, args.model, cache=args.cache).describe())
        return 0
    teacher = OpenAICompatibleTeacher(args.base_url, args.model, args.api_key_env, timeout=args.timeout,
                                      max_tokens=args.max_tokens)
    result = synthesize(items, teacher, args.cache, out_dir=args.out, concurrency=args.concurrency,
                        retry=RetryPolicy(args.max_attempts, args.base_delay, args.max_delay),
                        budget_usd=args.budget_usd, progress=not args.no_progress)
    return 0 if result.accepted else 1


if __name__ == "__main__":
    sys.exit(main())
