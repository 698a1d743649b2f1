"""A stand-in for the ``ollama`` binary on Colab (tests only): Ollama cannot be installed here (its install script
downloads it from ollama.com). The Colab world's fake ``curl https://ollama.com/install.sh | sh`` puts this on the
runtime's PATH as ``ollama``; the kit then runs it as it runs the real one:

* ``ollama serve``: answers ``GET /`` ("Ollama is running") on ``$OLLAMA_HOST`` (default 127.0.0.1:11434), as the
  real server, and serves Ollama's non-streaming ``/api/generate`` and ``/api/chat`` for the models created;
* ``ollama create NAME -f Modelfile``: asks the running server to load the Modelfile (the real client sends it to
  the server too); here the model is the kit's own llama.cpp stand-in for Ollama
  (:class:`gr_colab.service.LlamaCppOllamaStandIn`: the Modelfile's GGUF, template, stops and parameters).
"""
import json
import os
import sys
import urllib.error
import urllib.request
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path


def host() -> str:
    h = os.environ.get("OLLAMA_HOST") or "127.0.0.1:11434"
    return h if "://" in h else "http://" + h


def serve() -> None:
    from gr_colab.service import LlamaCppOllamaStandIn

    models = {}

    class Handler(BaseHTTPRequestHandler):
        def log_message(self, *args):
            pass

        def _send(self, code: int, body: bytes, ctype: str = "application/json") -> None:
            self.send_response(code)
            self.send_header("Content-Type", ctype)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def do_GET(self):
            if self.path == "/":
                return self._send(200, b"Ollama is running", "text/plain")
            if self.path == "/api/tags":
                return self._send(200, json.dumps({"models": [{"name": n, "model": n} for n in models]}).encode())
            return self._send(404, b'{"error": "not found"}')

        def do_POST(self):
            body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
            data = json.loads(body or b"{}")
            if self.path == "/api/create":
                models[data["model"]] = LlamaCppOllamaStandIn(data["modelfile"], data["model"]).start()
                return self._send(200, b'{"status": "success"}')
            inner = models.get(str(data.get("model", "")).split(":")[0])
            if inner is None:
                return self._send(404, json.dumps({"error": f"model '{data.get('model')}' not found"}).encode())
            request = urllib.request.Request(inner.host + self.path, data=body, method="POST",
                                             headers={"Content-Type": "application/json"})
            try:
                with urllib.request.urlopen(request, timeout=600) as reply:
                    return self._send(reply.status, reply.read())
            except urllib.error.HTTPError as err:
                return self._send(err.code, err.read())

    address = host().split("://", 1)[1]
    name, port = address.rsplit(":", 1)
    print(f"stand-in ollama serve listening on {address}", flush=True)
    ThreadingHTTPServer((name, int(port)), Handler).serve_forever()


def create(name: str, modelfile: str) -> int:
    data = json.dumps({"model": name, "modelfile": str(Path(modelfile).resolve())}).encode()
    request = urllib.request.Request(host() + "/api/create", data=data, method="POST",
                                     headers={"Content-Type": "application/json"})
    try:
        with urllib.request.urlopen(request, timeout=600) as reply:
            reply.read()
    except (urllib.error.URLError, OSError) as err:
        print(f"Error: could not connect to ollama server ({err})", file=sys.stderr)
        return 1
    print("success")
    return 0


if __name__ == "__main__":
    args = sys.argv[1:]
    if args[:1] == ["serve"]:
        serve()
    elif args[:1] == ["create"] and "-f" in args:
        sys.exit(create(args[1], args[args.index("-f") + 1]))
    else:
        print(f"stand-in ollama: {' '.join(args)} is not stood in for", file=sys.stderr)
        sys.exit(2)
