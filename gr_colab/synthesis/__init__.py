"""Reasoning data synthesis: a teacher model writes GuardReasoner-style traces for items whose labels are known.

Stage. The paper's recipe (GuardReasonerTrain): GPT-4o, at temperature 0, is shown each labelled item *together with
its gold labels* and asked to reason step by step towards them, in the trace shape the guard is trained on
(``# Task 1`` … ``## Reasoning Step 1`` … ``---`` and the Answers block). The user turn is the item's official
``input`` field; the system turn restates the three-task instruction, the step rules and the ground truth. The same
loop writes the six-policy traces of the Colab R-SFT guide (``Reasoning:\\nStep 1: …`` and ``Classification: …``).

Moving parts, one module each:

- ``items``: labelled items from every shape the kit reads (rows, benchmark rows, WildGuard, six-policy samples);
- ``recipe``: the teacher's prompt with the gold labels, the token and cost estimate, and **the filter**:
  :func:`gr_colab.traces.parse_trace` reads every answer; only traces whose answers equal the gold labels (and
  that have steps, and whose conclusions agree with their answers) are kept, every reject with its reason;
- ``teachers`` share one method, ``complete(messages) -> (text, usage)``: :class:`OpenAICompatibleTeacher` talks
  to any OpenAI-compatible chat endpoint (OpenAI, a llama.cpp server, Ollama, vLLM) through the official ``openai``
  SDK; :class:`LocalTeacher` runs a model loaded by :func:`gr_colab.models.load_model`, greedily. **Retries**
  (tenacity): timeouts, 429, 5xx, dropped connections and malformed JSON, with exponential backoff and jitter, a
  bounded number of times; 401, 403 and 404 stop the run at once, since every later request would fail the same way;
- ``cache``: an append-only JSONL file keyed by a hash of (model, messages, temperature); each answer is appended,
  flushed and fsync'ed as it arrives, so a kill loses at most the requests in flight and a restart asks for nothing
  it already has; a torn last line is dropped and redone. The API key is in neither the key nor the file;
- ``run``: :func:`synthesize`, under a lock on the cache, and the **outputs**: GuardReasonerTrain rows
  ``{instruction, input, output}`` (``synth_train.json``) and the six-policy ``training_data.json``, both loadable
  by :mod:`gr_colab.data` and ready for R-SFT;
- ``stand_in``: an offline stand-in for an OpenAI-compatible server, answering from the gold labels;
- ``cli``: ``python -m gr_colab.synthesis --help``.

The API key comes from an environment variable or a Colab secret, and is never printed, logged, cached or repr'd.
Everything is importable from here: ``from gr_colab import synthesis; synthesis.synthesize(...)``.
"""
from .cache import ResponseCache, cache_key
from .cli import main
from .items import (
    DEMO_POLICY_SAMPLES,
    GUARDREASONER,
    SIX_POLICY,
    Item,
    demo_items,
    items_from_policy_samples,
    items_from_rows,
    load_items,
)
from .recipe import (
    ANSWERS_DIVIDER,
    EXPECTED_OUTPUT_TOKENS,
    GUARDREASONERTRAIN_SIZE,
    POLICY_TEACHER_SYSTEM_TEMPLATE,
    PRICES_PER_M,
    REJECT_KINDS,
    TEACHER_SYSTEM_TEMPLATE,
    Estimate,
    check_trace,
    estimate,
    teacher_messages,
)
from .run import (
    POLICY_FILE,
    REJECTS_FILE,
    SUMMARY_FILE,
    TRAIN_FILE,
    BudgetExceeded,
    Reject,
    SynthesisResult,
    synthesize,
)
from .stand_in import StandInOpenAIServer, stand_in_trace
from .teachers import (
    ENDPOINTS,
    FAIL,
    FATAL,
    RETRY,
    LocalTeacher,
    MalformedResponse,
    OpenAICompatibleTeacher,
    RequestFailed,
    RetryPolicy,
    TeacherFatal,
    connect_teacher,
    describe_error,
    error_kind,
    local_model_name,
    request_with_retries,
    resolve_api_key,
    retry_after,
)

__all__ = [
    "ANSWERS_DIVIDER", "BudgetExceeded", "DEMO_POLICY_SAMPLES", "ENDPOINTS", "EXPECTED_OUTPUT_TOKENS", "Estimate",
    "FAIL", "FATAL", "GUARDREASONER", "GUARDREASONERTRAIN_SIZE", "Item", "LocalTeacher", "MalformedResponse",
    "OpenAICompatibleTeacher", "POLICY_FILE", "POLICY_TEACHER_SYSTEM_TEMPLATE", "PRICES_PER_M", "REJECTS_FILE",
    "REJECT_KINDS", "RETRY", "Reject", "RequestFailed", "ResponseCache", "RetryPolicy", "SIX_POLICY",
    "SUMMARY_FILE", "StandInOpenAIServer", "SynthesisResult", "TEACHER_SYSTEM_TEMPLATE", "TRAIN_FILE",
    "TeacherFatal", "cache_key", "check_trace", "connect_teacher", "demo_items", "describe_error", "error_kind",
    "estimate", "items_from_policy_samples", "items_from_rows", "load_items", "local_model_name", "main",
    "request_with_retries", "resolve_api_key", "retry_after", "stand_in_trace", "synthesize", "teacher_messages",
]
