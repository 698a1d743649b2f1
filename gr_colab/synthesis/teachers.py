"""Teachers and how one request is tried: the OpenAI-compatible client, a local model, the API key, retries.

Its own module because everything that can fail on the network (a refused key, a timeout, a 429, a cut-off body)
is decided here, once, whatever the run around it does. Every teacher has ``complete(messages) -> (text, usage)``.
"""
from __future__ import annotations

import hashlib
import os
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Optional

import tenacity

from .stand_in import StandInOpenAIServer

# OpenAI-compatible endpoints, for the notebooks and the docs (each serves /v1/chat/completions).
ENDPOINTS = {
    "openai": None,  # the SDK's default, https://api.openai.com/v1
    "llama.cpp": "http://127.0.0.1:8080/v1",  # llama-server -m model.gguf, or python -m llama_cpp.server
    "ollama": "http://127.0.0.1:11434/v1",
    "vllm": "http://127.0.0.1:8000/v1",
}


def resolve_api_key(env_var: str = "OPENAI_API_KEY") -> Optional[str]:
    """The key from the environment variable, else from the Colab secret of the same name; None when neither."""
    from ..runtime import secret

    return secret(env_var)


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
        from ..models import render_prompt

        try:
            return render_prompt(self.tokenizer, messages, "chat")
        except Exception:  # a chat template without a system role: fold the system turn into the user turn
            merged = [{"role": "user", "content": messages[0]["content"] + "\n\n" + messages[1]["content"]}]
            return render_prompt(self.tokenizer, merged, "chat")

    def complete(self, messages: list) -> tuple:
        return self.complete_batch([messages])[0]

    def complete_batch(self, batch: list) -> list:
        from ..generate import GenerationSettings, generate

        texts = [self._render(m) for m in batch]
        settings = GenerationSettings(max_new_tokens=self.max_new_tokens, batch_size=self.batch_size)
        outs = generate(self.loaded, texts, settings, progress=False)
        count = lambda s: len(self.tokenizer(s, add_special_tokens=False)["input_ids"])
        return [(o[0], {"prompt_tokens": count(t), "completion_tokens": count(o[0])}) for t, o in zip(texts, outs)]


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


# --- retries -------------------------------------------------------------------------------------------------
# tenacity runs the loop, not the openai client (its max_retries is 0): one loop to reason about for every
# teacher, and a 200 whose body is malformed JSON, which the client would hand back as is, is retried too.
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


def retry_after(exc: Optional[BaseException]) -> Optional[float]:
    """The seconds a 429 (or 503) asks the client to wait, from its Retry-After header; None without one."""
    headers = getattr(getattr(exc, "response", None), "headers", None)
    try:
        return float(headers.get("retry-after")) if headers is not None and headers.get("retry-after") else None
    except (TypeError, ValueError):
        return None


@dataclass
class RetryPolicy:
    """Exponential backoff with jitter: attempt k waits base·2^(k-1) seconds (at most ``max_delay``), times a
    random factor in [0.5, 1] so that parallel workers do not retry in lockstep, or longer when a 429's
    Retry-After asks for it (bounded by ``max_delay``); ``max_attempts`` in all."""

    max_attempts: int = 6
    base_delay: float = 1.0
    max_delay: float = 30.0

    def wait(self) -> Callable[[tenacity.RetryCallState], float]:
        half = {"multiplier": self.base_delay / 2, "max": self.max_delay / 2}
        # a fixed half plus a uniform half of min(max_delay, base·2^(k-1)): the [0.5, 1] factor above
        backoff = tenacity.wait_exponential(**half) + tenacity.wait_random_exponential(**half)

        def wait(state: tenacity.RetryCallState) -> float:
            seconds, asked = backoff(state), retry_after(state.outcome.exception())
            return seconds if asked is None else max(seconds, min(asked, self.max_delay))
        return wait

    def retrying(self, sleep: Callable[[float], None]) -> tenacity.Retrying:
        """The loop for one request: retry what :func:`error_kind` calls retry, re-raise anything else at once."""
        return tenacity.Retrying(stop=tenacity.stop_after_attempt(self.max_attempts), wait=self.wait(),
                                 retry=tenacity.retry_if_exception(lambda exc: error_kind(exc) == RETRY),
                                 sleep=sleep, reraise=True)


class RequestFailed(RuntimeError):
    def __init__(self, reason: str, errors: list):
        super().__init__(reason)
        self.reason, self.errors = reason, errors


class _Stopped(Exception):
    """The run stopped while a request waited for its retry."""


def request_with_retries(teacher, messages: list, policy: RetryPolicy,
                         stop: Optional[threading.Event] = None) -> tuple:
    """(text, usage, errors seen before it succeeded); RequestFailed or TeacherFatal when it did not."""
    scrub = getattr(teacher, "scrub", lambda s: s)
    errors: list = []  # one description per failed attempt, in order
    if policy.max_attempts < 1:
        raise RequestFailed("no attempts allowed (max_attempts < 1)", errors)

    def sleep(seconds: float) -> None:
        if stop is None:
            time.sleep(seconds)
        elif stop.wait(seconds):
            raise _Stopped

    try:
        for attempt in policy.retrying(sleep):
            with attempt:
                try:
                    text, usage = teacher.complete(messages)
                except Exception as exc:
                    errors.append(scrub(describe_error(exc)))
                    raise
                return text, usage, errors
    except _Stopped:
        raise RequestFailed("the run stopped before a retry", errors) from None
    except Exception as exc:  # the last error, classified; the exception object itself is never kept
        kind, desc = error_kind(exc), (errors[-1] if errors else scrub(describe_error(exc)))
        if kind == FATAL:
            raise TeacherFatal(f"{desc}: {scrub(str(exc))[:300]}") from None
        if kind == FAIL:
            raise RequestFailed(f"request failed ({desc}), not retried", errors) from None
        raise RequestFailed(f"request failed after {len(errors)} attempts (last: {desc})", errors) from None
    raise RequestFailed("no attempt was made", errors)  # unreachable: tenacity always makes the first attempt
