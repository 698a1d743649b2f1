"""A stand-in teacher for learning offline: an OpenAI-compatible HTTP server on loopback that answers from the gold.

Its own module because it is not part of the recipe or the run: notebook 02 and the red-teaming stage use it when
no real teacher is at hand, and the tests put a fault-injecting proxy on top of it (``tests/stand_in_proxy.py``).
"""
from __future__ import annotations

import json
import re
import threading
import time
from typing import Callable, Optional

from ..prompts import NO_RESPONSE, format_answers, split_input
from ..traces import TASKS
from .recipe import ANSWERS_DIVIDER


class StandInOpenAIServer:
    """A **stand-in** for a real OpenAI-compatible server (what llama.cpp's server, Ollama and vLLM speak), on
    127.0.0.1 at a free port, threaded. It is not a model: it answers ``POST /v1/chat/completions`` with a correct
    trace built from the gold labels it finds in the teacher's system prompt, so a run has something to keep.

    For practice and tests: ``faults`` maps a request number (1-based) to ``"timeout"`` (sleep ``hang_seconds``
    before answering), ``"500"``, ``"429"``, ``"malformed"`` (a cut-off JSON body) or ``"drop"`` (close without an
    answer); ``fail_always`` is a predicate on the user turn whose requests always get a 500; ``wrong`` a predicate
    on the user turn whose traces reason to the wrong label; ``delay`` seconds per answer; ``api_key`` makes
    it answer 401 to any other key (it is compared, never stored in the log). ``log`` lists every request.
    A request without a fault is answered by :meth:`answer`.
    """

    def __init__(self, faults: Optional[dict] = None, *, wrong: Optional[Callable[[str], bool]] = None,
                 fail_always: Optional[Callable[[str], bool]] = None, delay: float = 0.0,
                 hang_seconds: float = 3.0, api_key: Optional[str] = None, model: str = "stand-in"):
        from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

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
                self._send(*server.answer(body, n, user))

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

    def answer(self, body: dict, n: int, user: str) -> tuple:
        """(HTTP status, JSON payload or raw bytes) for request ``n`` that drew no fault: a chat completion whose
        text is :func:`stand_in_trace` of the messages."""
        text = stand_in_trace(body.get("messages", []), wrong=bool(self.wrong and self.wrong(user)))
        prompt_chars = sum(len(m.get("content", "")) for m in body.get("messages", []))
        return 200, {"id": f"chatcmpl-standin-{n}", "object": "chat.completion", "created": int(time.time()),
                     "model": body.get("model", self.model),
                     "choices": [{"index": 0, "finish_reason": "stop",
                                  "message": {"role": "assistant", "content": text}}],
                     "usage": {"prompt_tokens": prompt_chars // 4, "completion_tokens": len(text) // 4,
                               "total_tokens": prompt_chars // 4 + len(text) // 4}}

    def close(self) -> None:
        self._httpd.shutdown()
        self._httpd.server_close()
        self._thread.join(timeout=5)

    def __enter__(self) -> "StandInOpenAIServer":
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.base_url}, {len(self.log)} requests so far)"


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
