"""A guard answered by an OpenAI-compatible server instead of the in-process llama.cpp worker, and the chat URL of any
such server (the guard's, or the chat model the service screens).

:class:`RemoteGuard` sends the guard's own user turn (the instruction and the interaction, exactly the chat row it
was trained on, :func:`gr_colab.prompts.user_content`) to ``/v1/chat/completions`` of a server that serves the merged
guard, e.g. ``vllm serve runs/<preset>/export/merged`` (continuous batching: concurrent requests share the GPU
instead of waiting for one llama.cpp context), greedy, and returns the trace; the server renders the chat template.
"""
from __future__ import annotations

import time
from typing import Optional

from ..prompts import format_input, user_content


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
