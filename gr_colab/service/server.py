"""``gr-colab serve``: the exported guard behind llama.cpp, as a moderation endpoint and as a screen in front of a chat
model.

``POST /v1/moderate`` takes ``{"prompt": str, "response": str | null}`` and answers the three verdicts in the
paper's words (``null`` where a task does not apply or the output did not parse), the reasoning and the latency.
With ``--upstream`` (any OpenAI-compatible chat endpoint), ``POST /v1/chat/completions`` screens the request,
forwards it, screens the answer, and returns a refusal saying why when either is harmful.

The prompt is rendered as the Ollama export renders it (:mod:`gr_colab.service.gguf_prompt`). One llama.cpp
context is not thread-safe, so every generation runs on one worker thread: concurrent requests wait in its queue
(bounded: beyond ``max_queue`` waiting, a 503 says so) and never share the context. FastAPI and uvicorn serve it
(the stack llama-cpp-python's own server uses); httpx forwards to the upstream.
"""

import asyncio
import contextlib
import json
import time
import uuid
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Optional, Union

from ..prompts import TASK_LABELS
from ..traces import _ANSWERS_HEADER, TASKS, parse_trace  # the header the strict reader splits on
from .access import authorized, check_bind
from .gguf_prompt import control_tokens, prompt_format
from .remote import GuardServerError, RemoteGuard, chat_url

REFUSAL = "I can't help with that: {why}."


# --- one guard, one context ------------------------------------------------------------------------------------------
class Moderator:
    """The GGUF in llama.cpp and its prompt format; ``moderate`` is NOT thread-safe (call it from one thread)."""

    def __init__(self, gguf: Union[str, Path], n_ctx: int = 4096, max_tokens: int = 1024,
                 n_threads: Optional[int] = None):
        from ..llamacpp import load_gguf

        self.gguf = Path(gguf)
        self.llm = load_gguf(self.gguf, n_ctx=n_ctx, logits_all=False, n_threads=n_threads)
        self.format = prompt_format(self.gguf, self.llm)
        self.max_tokens = max_tokens
        self.n_ctx = n_ctx
        self.add_bos = (self.llm.metadata or {}).get("tokenizer.ggml.add_bos_token", "true") != "false"
        self.control = control_tokens(self.llm)

    def check_text(self, field: str, text: Optional[str]) -> None:
        """The rendered prompt is tokenized with its special tokens read as tokens (as the template needs), so a
        control token written inside the user's text would become one too and could forge the turns (a fake end of
        turn and a fake answer): such text is refused, naming the token."""
        found = [tok for tok in self.control if text and tok in text]
        if found:
            raise ValueError(f"field '{field}' contains the guard's control token {found[0]!r}, which would be read "
                             "as a turn marker; remove it")

    def prompt_ids(self, prompt: str, response: Optional[str] = None) -> list[int]:
        """The token ids the guard reads: the runner's BOS (when the GGUF asks for one), then the rendered text with
        its special tokens read as tokens."""
        text = self.format.render(prompt, response)
        return list(self.llm.tokenize(text.encode("utf-8"), add_bos=self.add_bos, special=True))

    def moderate(self, prompt: str, response: Optional[str] = None) -> dict:
        start = time.perf_counter()
        self.check_text("prompt", prompt)
        self.check_text("response", response)
        ids = self.prompt_ids(prompt, response)
        if len(ids) >= self.n_ctx:
            raise ValueError(f"the guard prompt is {len(ids)} tokens; the context holds {self.n_ctx} (--n-ctx)")
        out = self.llm.create_completion(ids, max_tokens=min(self.max_tokens, self.n_ctx - len(ids)),
                                         temperature=0.0, top_k=1, stop=self.format.stops)
        latency = (time.perf_counter() - start) * 1000
        return verdict_json(out["choices"][0]["text"], response is None, latency)


def verdict_json(trace: str, prompt_only: bool, latency_ms: float) -> dict:
    """The answer of /v1/moderate for one trace: labels in the paper's words, null where the task does not apply
    (no response: refusal and response harm) or the output did not parse."""
    verdict = parse_trace(trace, "strict")
    out = {}
    for task in TASKS:
        label = verdict.labels.get(task)
        out[task] = None if (prompt_only and task != "request") or label not in TASK_LABELS[task] else label
    headers = list(_ANSWERS_HEADER.finditer(trace))
    out["reasoning"] = (trace[:headers[-1].start()] if headers else trace).strip()
    out["latency_ms"] = round(latency_ms, 1)
    return out


def block_reason(verdict: dict, task: str, block_unparsed: bool = False) -> Optional[str]:
    """Why a screened turn is refused, or None to let it through."""
    what = "request" if task == "request" else "answer"
    if verdict.get(task) == "harmful":
        return f"the guard judged the {what} harmful"
    if verdict.get(task) is None and block_unparsed:
        return f"the guard's verdict on the {what} did not parse"
    return None


# --- HTTP ----------------------------------------------------------------------------------------------------------
class BadRequest(Exception):
    def __init__(self, message: str, status: int = 400):
        super().__init__(message)
        self.status = status


def _check_moderate_body(body) -> tuple[str, Optional[str]]:
    if not isinstance(body, dict):
        raise BadRequest(f"the body must be a JSON object {{\"prompt\": str, \"response\": str | null}}, "
                         f"got a JSON {type(body).__name__}")
    unknown = sorted(set(body) - {"prompt", "response"})
    if unknown:
        raise BadRequest(f"unknown field(s) {', '.join(unknown)}; allowed: prompt, response")
    prompt, response = body.get("prompt"), body.get("response")
    if not isinstance(prompt, str) or not prompt.strip():
        raise BadRequest("field 'prompt' must be a non-empty string" + ("" if "prompt" in body else " (missing)"))
    if response is not None and not isinstance(response, str):
        raise BadRequest(f"field 'response' must be a string or null, got {type(response).__name__}")
    return prompt, response


def _last_user_text(body) -> str:
    if not isinstance(body, dict):
        raise BadRequest("the body must be a JSON object with 'model' and 'messages'")
    if body.get("stream"):
        raise BadRequest("'stream': true is not supported: the guard screens the whole answer before returning it")
    messages = body.get("messages")
    if not isinstance(messages, list) or not messages:
        raise BadRequest("field 'messages' must be a non-empty list of {role, content}")
    for i, m in enumerate(messages):
        if not isinstance(m, dict) or not isinstance(m.get("role"), str):
            raise BadRequest(f"messages[{i}] must be an object with a string 'role'")
    users = [m for m in messages if m["role"] == "user"]
    if not users:
        raise BadRequest("no message with role 'user' to screen")
    return _content_text(users[-1].get("content"), f"messages[{messages.index(users[-1])}].content")


def _content_text(content, where: str) -> str:
    if isinstance(content, str):
        return content
    if isinstance(content, list):  # OpenAI content parts: the text parts, in order
        return "\n".join(p.get("text", "") for p in content if isinstance(p, dict) and p.get("type") == "text")
    raise BadRequest(f"{where} must be a string or a list of content parts")


def _refusal(body: dict, why: str, guard: dict) -> dict:
    return {"id": f"guard-{uuid.uuid4().hex[:12]}", "object": "chat.completion", "created": int(time.time()),
            "model": body.get("model", "guard"),
            "choices": [{"index": 0, "message": {"role": "assistant", "content": REFUSAL.format(why=why)},
                         "finish_reason": "content_filter"}],
            "usage": {"prompt_tokens": 0, "completion_tokens": 0, "total_tokens": 0},
            "guard": {**guard, "blocked": why}}


def create_app(moderator, upstream: Optional[str] = None, max_queue: int = 64, block_unparsed: bool = False,
               upstream_timeout: float = 120.0, api_key: Optional[str] = None, upstream_key: Optional[str] = None):
    """The FastAPI app around one :class:`Moderator` (anything with ``moderate(prompt, response) -> dict``) or one
    :class:`gr_colab.service.remote.RemoteGuard`. With ``api_key`` every ``/v1`` route wants ``Authorization: Bearer``
    (401 without it); the client's key is then not forwarded to the upstream, which gets ``upstream_key``."""
    from fastapi import FastAPI, Request
    from fastapi.responses import JSONResponse

    worker = ThreadPoolExecutor(max_workers=1, thread_name_prefix="guard")  # the one thread that touches llama.cpp

    @contextlib.asynccontextmanager
    async def lifespan(_app):
        yield
        worker.shutdown(wait=True)

    app = FastAPI(title="gr-colab guard", version="1", lifespan=lifespan)
    state = {"waiting": 0, "served": 0}
    app.state.worker, app.state.stats = worker, state

    @app.exception_handler(BadRequest)
    async def _bad(_request, exc: BadRequest):
        return JSONResponse({"error": {"message": str(exc), "type": "invalid_request_error"}}, status_code=exc.status)

    if api_key:
        @app.middleware("http")
        async def _auth(request: Request, call_next):
            if request.url.path.startswith("/v1") and not authorized(request.headers.get("authorization"), api_key):
                return JSONResponse({"error": {"message": "missing or wrong API key: send Authorization: Bearer "
                                               "<key>", "type": "authentication_error"}}, status_code=401,
                                    headers={"WWW-Authenticate": "Bearer"})
            return await call_next(request)

    async def body_of(request: Request):
        raw = await request.body()
        if not raw.strip():
            raise BadRequest("empty body: send a JSON object")
        try:
            return json.loads(raw)
        except ValueError as exc:
            raise BadRequest(f"the body is not valid JSON: {exc}") from None

    async def run(prompt: str, response: Optional[str]) -> dict:
        if state["waiting"] >= max_queue:
            raise BadRequest(f"busy: {state['waiting']} requests are already waiting for the guard", 503)
        state["waiting"] += 1  # the event loop is one thread: no lock needed for the counter
        try:
            if isinstance(moderator, RemoteGuard):  # the guard server batches: no single worker in between
                trace, latency = await moderator.trace(prompt, response)
                result = verdict_json(trace, response is None, latency)
            else:
                result = await asyncio.wrap_future(worker.submit(moderator.moderate, prompt, response))
        except GuardServerError as exc:
            raise BadRequest(str(exc), 502) from None
        except ValueError as exc:  # a prompt longer than the context
            raise BadRequest(str(exc)) from None
        finally:
            state["waiting"] -= 1
        state["served"] += 1
        return result

    @app.get("/health")
    async def health():
        fmt = getattr(moderator, "format", None)
        return {"status": "ok", "gguf": str(getattr(moderator, "gguf", "")),
                "guard_server": getattr(moderator, "url", None), "auth": bool(api_key),
                "template_source": getattr(fmt, "source", None), "upstream": upstream, **state}

    @app.post("/v1/moderate")
    async def moderate(request: Request):
        prompt, response = _check_moderate_body(await body_of(request))
        return await run(prompt, response)

    if upstream:
        import httpx

        url = chat_url(upstream)

        @app.post("/v1/chat/completions")
        async def chat(request: Request):
            body = await body_of(request)
            prompt = _last_user_text(body)
            screened = {"request": await run(prompt, None)}
            why = block_reason(screened["request"], "request", block_unparsed)
            if why:
                return _refusal(body, why, screened)
            headers = {k: v for k, v in request.headers.items() if k.lower() == "authorization"}
            if api_key:  # the client's key is this service's, never the upstream's
                headers = {"Authorization": f"Bearer {upstream_key}"} if upstream_key else {}
            try:
                async with httpx.AsyncClient(timeout=upstream_timeout) as client:
                    reply = await client.post(url, json=body, headers=headers)
            except httpx.HTTPError as exc:
                raise BadRequest(f"the upstream {url} did not answer: {type(exc).__name__}: {exc}", 502) from None
            if reply.status_code != 200:
                raise BadRequest(f"the upstream {url} answered {reply.status_code}: {reply.text[:500]}", 502)
            try:
                data = reply.json()
                answer = _content_text(data["choices"][0]["message"]["content"], "the upstream's answer")
            except (ValueError, KeyError, IndexError, TypeError, BadRequest):
                raise BadRequest(f"the upstream {url} answered without choices[0].message.content", 502) from None
            screened["response"] = await run(prompt, answer)
            why = block_reason(screened["response"], "response", block_unparsed)
            if why:
                return _refusal(body, why, screened)
            data["guard"] = screened
            return data

    return app


def serve(gguf: Union[str, Path, None], host: str = "127.0.0.1", port: int = 8000, upstream: Optional[str] = None,
          n_ctx: int = 4096, max_tokens: int = 1024, max_queue: int = 64, block_unparsed: bool = False,
          n_threads: Optional[int] = None, api_key: Optional[str] = None, guard_url: Optional[str] = None,
          guard_model: Optional[str] = None) -> None:
    """Load the GGUF (or reach the guard server at ``guard_url``) and serve until interrupted. Keys come from the
    environment or Colab's secrets (:mod:`gr_colab.service.access`), never from a file, and are never printed."""
    import uvicorn

    from ..runtime import secret
    from .access import GUARD_KEY_ENV, UPSTREAM_KEY_ENV

    check_bind(host, api_key)
    if guard_url:
        moderator = RemoteGuard(guard_url, guard_model or "guard", secret(GUARD_KEY_ENV), max_tokens)
        what = f"the guard {moderator.describe()}"
    else:
        if not gguf or not Path(gguf).is_file():
            raise FileNotFoundError(f"{gguf}: no such GGUF file")
        moderator = Moderator(gguf, n_ctx=n_ctx, max_tokens=max_tokens, n_threads=n_threads)
        what = f"{Path(gguf).name} (prompt from {moderator.format.source})"
    app = create_app(moderator, upstream, max_queue, block_unparsed, api_key=api_key,
                     upstream_key=secret(UPSTREAM_KEY_ENV) if api_key else None)
    print(f"gr-colab serve: {what} on http://{host}:{port}  POST /v1/moderate"
          + (f", POST /v1/chat/completions → {chat_url(upstream)}" if upstream else "")
          + ("; an API key is required (Authorization: Bearer)" if api_key else ""), flush=True)
    try:
        uvicorn.run(app, host=host, port=port, log_level="warning")
    finally:
        if isinstance(moderator, Moderator):
            moderator.llm.close()  # freed here, not by llama-cpp-python's __del__ at interpreter exit (it then fails)
