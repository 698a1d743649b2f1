"""Test helpers for synthesis against HTTP: a fault-injecting proxy in front of a real server, and what a server
was asked for. Only the tests need them, so they live here and not in the kit's stand-in."""
from __future__ import annotations

import json
import re
import urllib.error
import urllib.request
from typing import Optional

from gr_colab.synthesis import StandInOpenAIServer, cache_key

LOOPBACK = re.compile(r"^http://(127\.\d+\.\d+\.\d+|localhost|\[::1\])(:\d+)?(/|$)")


class FaultInjectingProxy(StandInOpenAIServer):
    """The stand-in's faults in front of ``upstream`` (the base URL of a real server on loopback, e.g.
    llama.cpp's): a request without a fault is forwarded there (without the Authorization header) and its answer
    relayed as it is."""

    def __init__(self, upstream: str, faults: Optional[dict] = None, *, upstream_timeout: float = 60.0, **kw):
        if not LOOPBACK.match(upstream):
            raise ValueError(f"upstream must be a server on this machine (http://127.0.0.1:PORT/v1), got {upstream!r}")
        self.upstream, self.upstream_timeout = upstream, upstream_timeout
        super().__init__(faults, **kw)

    def answer(self, body: dict, n: int, user: str) -> tuple:
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

    def __repr__(self) -> str:
        return f"FaultInjectingProxy({self.base_url}, proxy to {self.upstream}, {len(self.log)} requests so far)"


def requested_keys(server: StandInOpenAIServer, since: int = 0) -> list:
    """The cache keys of the requests ``server`` logged from index ``since`` on (what the client asked for)."""
    with server._lock:
        entries = list(server.log[since:])
    return [cache_key(e["model"], e["messages"], e["temperature"] or 0.0) for e in entries]
