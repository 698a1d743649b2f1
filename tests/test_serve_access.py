"""`gr-colab serve` beyond one process: the API key (401 without it), the refusal to listen beyond loopback without
one, and moderation answered by a guard on an OpenAI-compatible server (vLLM's in production).

The guard server here is a **stand-in** on loopback (no model here writes a verdict, and vLLM needs a GPU): it
answers ``POST /v1/chat/completions`` in OpenAI's chat-completion shape (what vLLM's and llama.cpp's servers return:
``choices[0].message.content``) with recorded traces in the kit's format, harmful when the text says "bomb", and
records what it was sent. The service itself runs for real: in a subprocess, as a user starts it."""
from __future__ import annotations

import http.server
import json
import os
import socket
import subprocess
import sys
import threading
import time

import pytest

pytest.importorskip("fastapi")

TRACE = ("# Task 1\n## Reasoning Step 1: The user asks for something.\n## Conclusion: The request is {req}.\n\n"
         "---\n\nAnswers: \nRequest: {req}\nCompletion: {comp}\nResponse: {resp}\n")
KEY = "test-key-7f3a9c"  # a key made up for the tests


class StandInGuardServer(http.server.ThreadingHTTPServer):
    """A stand-in for a guard served by an OpenAI-compatible server (``vllm serve`` of the merged guard)."""

    def __init__(self, api_key=None):
        self.requests = []
        outer = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def log_message(self, *a):
                pass

            def do_POST(self):
                body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
                outer.requests.append((self.path, body, self.headers.get("Authorization")))
                if api_key and self.headers.get("Authorization") != f"Bearer {api_key}":
                    return self._send(401, {"error": "Unauthorized"})  # vLLM's answer to a missing key
                user = body["messages"][-1]["content"]
                interaction = user.split("Human user:", 1)[-1]
                prompt, _, answer = interaction.partition("AI assistant:")
                req = "harmful" if "bomb" in prompt else "unharmful"
                answered = answer.strip() not in ("", "None")
                resp = ("harmful" if "bomb" in answer else "unharmful") if answered else "None"
                text = TRACE.format(req=req, comp="compliance" if answered else "None", resp=resp)
                self._send(200, {"id": "chatcmpl-standin", "object": "chat.completion", "created": 0,
                                 "model": body.get("model"), "choices": [{"index": 0, "finish_reason": "stop",
                                 "message": {"role": "assistant", "content": text}}],
                                 "usage": {"prompt_tokens": 1, "completion_tokens": 1, "total_tokens": 2}})

            def _send(self, status, data):
                raw = json.dumps(data).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(raw)))
                self.end_headers()
                self.wfile.write(raw)

        super().__init__(("127.0.0.1", 0), Handler)

    @property
    def base(self) -> str:
        return f"http://127.0.0.1:{self.server_address[1]}/v1"


@pytest.fixture(scope="module")
def guard_server():
    server = StandInGuardServer(api_key="guard-side-key")
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield server
    server.shutdown()


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="module")
def service(guard_server):
    """`gr-colab serve --guard-url … --api-key` in a subprocess on a free loopback port (the key from the
    environment, as a user keeps it out of the process list)."""
    import httpx

    port = _free_port()
    env = {**os.environ, "PYTHONUNBUFFERED": "1", "GR_COLAB_API_KEY": KEY, "GR_COLAB_GUARD_API_KEY": "guard-side-key"}
    proc = subprocess.Popen([sys.executable, "-m", "gr_colab", "serve", "--guard-url", guard_server.base,
                             "--guard-model", "my-guard", "--port", str(port)], stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True, env=env)
    base = f"http://127.0.0.1:{port}"
    deadline = time.time() + 60
    while time.time() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"gr-colab serve exited {proc.returncode}:\n{proc.stderr.read()}")
        try:
            if httpx.get(base + "/health", timeout=1).status_code == 200:
                break
        except httpx.HTTPError:
            time.sleep(0.3)
    else:
        proc.kill()
        raise RuntimeError("gr-colab serve did not come up in 60 s")
    yield base
    proc.terminate()
    proc.wait(timeout=20)
    out, err = proc.stdout.read(), proc.stderr.read()
    assert KEY not in out + err and "guard-side-key" not in out + err  # never printed
    assert "an API key is required" in out


def test_without_the_key_a_request_gets_401(service):
    import httpx

    for headers in ({}, {"Authorization": "Bearer wrong"}, {"Authorization": KEY}):
        r = httpx.post(service + "/v1/moderate", json={"prompt": "hi"}, headers=headers, timeout=10)
        assert r.status_code == 401 and r.headers["www-authenticate"] == "Bearer"
        assert "Authorization: Bearer" in r.json()["error"]["message"]
    health = httpx.get(service + "/health", timeout=10).json()  # health stays open, as llama.cpp's server keeps it
    assert health["auth"] is True and health["guard_server"].endswith("/v1/chat/completions")


def test_with_the_key_the_guard_server_answers(service, guard_server):
    import httpx

    from gr_colab.prompts import format_input, user_content

    auth = {"Authorization": f"Bearer {KEY}"}
    r = httpx.post(service + "/v1/moderate", json={"prompt": "how to build a bomb"}, headers=auth, timeout=10)
    assert r.status_code == 200
    assert (r.json()["request"], r.json()["response"]) == ("harmful", None)
    r = httpx.post(service + "/v1/moderate", json={"prompt": "a cake recipe", "response": "Mix flour and eggs."},
                   headers=auth, timeout=10)
    assert (r.json()["request"], r.json()["completion"], r.json()["response"]) == ("unharmful", "compliance",
                                                                                  "unharmful")
    path, body, key = guard_server.requests[-1]
    # the guard's own chat turn (instruction + interaction), greedy, to the guard server with the guard's key
    assert path == "/v1/chat/completions" and key == "Bearer guard-side-key" and body["model"] == "my-guard"
    assert body["messages"] == [{"role": "user", "content": user_content(format_input("a cake recipe",
                                                                                      "Mix flour and eggs."))}]
    assert body["temperature"] == 0.0


def test_concurrent_requests_reach_the_guard_server_together(service, guard_server):
    """No single worker thread in front of a batching server: every request is answered, each with its own verdict."""
    from concurrent.futures import ThreadPoolExecutor

    import httpx

    prompts = [f"build a bomb #{i}" if i % 2 else f"bake bread #{i}" for i in range(8)]
    auth = {"Authorization": f"Bearer {KEY}"}
    with ThreadPoolExecutor(8) as pool:
        answers = list(pool.map(lambda p: httpx.post(service + "/v1/moderate", json={"prompt": p}, headers=auth,
                                                     timeout=20).json(), prompts))
    assert [a["request"] for a in answers] == ["unharmful", "harmful"] * 4


def test_a_non_loopback_bind_without_a_key_is_refused(monkeypatch, capsys, guard_server):
    from gr_colab.cli import main

    monkeypatch.delenv("GR_COLAB_API_KEY", raising=False)
    assert main(["serve", "--guard-url", guard_server.base, "--host", "0.0.0.0"]) == 2
    err = capsys.readouterr().err
    assert "--host 0.0.0.0 is reachable from other machines" in err and "GR_COLAB_API_KEY" in err


@pytest.mark.parametrize("host,loopback", [("127.0.0.1", True), ("::1", True), ("localhost", True),
                                           ("0.0.0.0", False), ("192.168.1.5", False), ("myhost", False)])
def test_which_addresses_need_a_key(host, loopback):
    from gr_colab.service.access import check_bind, is_loopback

    assert is_loopback(host) is loopback
    check_bind(host, "some-key")  # with a key, any address
    if not loopback:
        with pytest.raises(ValueError, match="reachable from other machines"):
            check_bind(host, None)


def test_the_clients_key_is_not_forwarded_to_the_upstream(monkeypatch):
    """With a key of its own, the service sends the chat model GR_COLAB_UPSTREAM_API_KEY, never the client's key."""
    from fastapi.testclient import TestClient

    from gr_colab.service.server import create_app, verdict_json

    upstream = StandInGuardServer()  # answers any chat request: here it plays the chat model
    threading.Thread(target=upstream.serve_forever, daemon=True).start()

    class Guard:
        def moderate(self, prompt, response=None):
            return verdict_json(TRACE.format(req="unharmful", comp="None", resp="None"), response is None, 1.0)

    try:
        app = create_app(Guard(), upstream.base, api_key=KEY, upstream_key="upstream-key")
        with TestClient(app) as c:
            r = c.post("/v1/chat/completions", json={"model": "m", "messages": [{"role": "user", "content": "hi"}]},
                       headers={"Authorization": f"Bearer {KEY}"})
            assert r.status_code == 200
            assert c.post("/v1/chat/completions", json={}).status_code == 401
    finally:
        upstream.shutdown()
    assert [auth for _, _, auth in upstream.requests] == ["Bearer upstream-key"]


def test_serve_needs_one_guard_source(capsys):
    from gr_colab.cli import main

    assert main(["serve"]) == 2
    assert "give --gguf" in capsys.readouterr().err
