"""The guard service beyond one process: who may call it (an API key, as llama.cpp's and vLLM's servers take one),
where it may listen, and a guard answered by an OpenAI-compatible server instead of the in-process llama.cpp worker.

Tool layer, used by :mod:`gr_colab.serve`. With ``--api-key`` (or the ``GR_COLAB_API_KEY`` secret) every ``/v1``
request must carry ``Authorization: Bearer <key>`` (401 otherwise, compared in constant time); listening on an
address other than loopback without a key is refused, since anyone on the network could then use the guard and the
chat model behind it. The key is never printed, logged or written.

:class:`RemoteGuard` sends the guard's own user turn (the instruction and the interaction, exactly the chat row it
was trained on, :func:`gr_colab.prompts.user_content`) to ``/v1/chat/completions`` of a server that serves the merged
guard, e.g. ``vllm serve runs/<preset>/export/merged`` (continuous batching: concurrent requests share the GPU
instead of waiting for one llama.cpp context), greedy, and returns the trace; the server renders the chat template.
"""
from __future__ import annotations

import hmac
import ipaddress
import time
from typing import Optional

from .prompts import format_input, user_content

API_KEY_ENV = "GR_COLAB_API_KEY"  # the service's key, from the environment or Colab's secrets
UPSTREAM_KEY_ENV = "GR_COLAB_UPSTREAM_API_KEY"  # the chat model's key, when the service has a key of its own
GUARD_KEY_ENV = "GR_COLAB_GUARD_API_KEY"  # the guard server's key (e.g. vllm serve --api-key)


def is_loopback(host: str) -> bool:
    if host in ("localhost", "ip6-localhost"):
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:  # a host name: it may resolve to any interface
        return False


def check_bind(host: str, api_key: Optional[str]) -> None:
    """Refuse to listen beyond this machine without a key."""
    if not is_loopback(host) and not api_key:
        raise ValueError(f"--host {host} is reachable from other machines: anyone there could use the guard (and the "
                         f"chat model behind it). Set a key ({API_KEY_ENV} in the environment, or --api-key) or "
                         "listen on 127.0.0.1")


def authorized(header: Optional[str], api_key: str) -> bool:
    """``Authorization: Bearer <key>``, compared in constant time."""
    scheme, _, given = (header or "").partition(" ")
    return scheme.lower() == "bearer" and hmac.compare_digest(given.strip().encode(), api_key.encode())


def chat_url(upstream: str) -> str:
    """The chat URL of any OpenAI-compatible server from its base (``http://host:port/v1``), its full
    ``…/chat/completions`` URL, or a bare ``http://host:port`` (then ``/v1`` is assumed, as OpenAI's clients do)."""
    from urllib.parse import urlsplit

    upstream = upstream.rstrip("/")
    if upstream.endswith("/chat/completions"):
        return upstream
    return upstream + ("/chat/completions" if urlsplit(upstream).path else "/v1/chat/completions")


class GuardServerError(Exception):
    """The guard server did not answer, or answered without a completion: the message names it."""


class RemoteGuard:
    """A guard on an OpenAI-compatible server (vLLM's, llama.cpp's, Ollama's); :meth:`trace` is async and safe to
    call concurrently (the server batches)."""

    def __init__(self, url: str, model: str, api_key: Optional[str] = None, max_tokens: int = 1024,
                 timeout: float = 120.0):
        """``url``: the server's base (``http://host:port/v1``) or its chat-completions URL."""
        self.url, self.model, self.max_tokens, self.timeout = chat_url(url), model, max_tokens, timeout
        self._headers = {"Authorization": f"Bearer {api_key}"} if api_key else {}

    def describe(self) -> str:
        return f"{self.model} at {self.url}"

    def request_body(self, prompt: str, response: Optional[str]) -> dict:
        return {"model": self.model, "messages": [{"role": "user", "content": user_content(format_input(prompt,
                                                                                                        response))}],
                "temperature": 0.0, "max_tokens": self.max_tokens, "stream": False}

    async def trace(self, prompt: str, response: Optional[str] = None) -> tuple[str, float]:
        """(the guard's trace, the latency in ms)."""
        import httpx

        start = time.perf_counter()
        try:
            async with httpx.AsyncClient(timeout=self.timeout) as client:
                reply = await client.post(self.url, json=self.request_body(prompt, response), headers=self._headers)
        except httpx.HTTPError as exc:
            raise GuardServerError(f"the guard server {self.url} did not answer: {type(exc).__name__}: {exc}") from None
        if reply.status_code != 200:
            raise GuardServerError(f"the guard server {self.url} answered {reply.status_code}: {reply.text[:300]}")
        try:
            text = reply.json()["choices"][0]["message"]["content"]
        except (ValueError, KeyError, IndexError, TypeError):
            raise GuardServerError(f"the guard server {self.url} answered without choices[0].message.content")
        if not isinstance(text, str):
            raise GuardServerError(f"the guard server {self.url} answered a non-text content")
        return text, (time.perf_counter() - start) * 1000
