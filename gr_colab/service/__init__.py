"""The service: the exported guard over HTTP (``gr-colab serve``) and Ollama answering inside notebook 07.

Chapter layer (pyproject.toml's import-linter layers): it serves what the export stage wrote and no stage uses it.
One module a job:

- ``server``: the moderation endpoint and the screen in front of a chat model (FastAPI, one llama.cpp worker);
- ``gguf_prompt``: the guard's prompt as the Ollama export renders it (Modelfile, merged folder or GGUF metadata);
- ``access``: who may call the service (an API key) and where it may listen;
- ``remote``: a guard on an OpenAI-compatible server (e.g. vLLM) instead of the in-process worker;
- ``ollama_server``: the real ``ollama serve`` on Colab, a llama.cpp stand-in speaking Ollama's API elsewhere.

The Modelfile itself (written by the export, read back here) stays in :mod:`gr_colab.ollama`, at the tools' layer,
because the export stage writes it. Importing the package imports neither torch nor llama.cpp nor FastAPI: they load
inside the functions that use them.
"""
from .access import API_KEY_ENV, GUARD_KEY_ENV, UPSTREAM_KEY_ENV, authorized, check_bind, is_loopback
from .gguf_prompt import GGUFChatTokenizer, PromptFormat, control_tokens, prompt_format
from .ollama_server import (
    INSTALL_COMMAND,
    OLLAMA_HOST,
    LlamaCppOllamaStandIn,
    ModelfileSpec,
    OllamaServer,
    OllamaServiceError,
    Served,
    modelfile_spec,
    side_by_side,
    start,
)
from .remote import GuardServerError, RemoteGuard, chat_url
from .server import Moderator, block_reason, create_app, serve, verdict_json

__all__ = [
    "API_KEY_ENV", "GGUFChatTokenizer", "GUARD_KEY_ENV", "GuardServerError", "INSTALL_COMMAND", "LlamaCppOllamaStandIn",
    "ModelfileSpec", "Moderator", "OLLAMA_HOST", "OllamaServer", "OllamaServiceError", "PromptFormat", "RemoteGuard",
    "Served", "UPSTREAM_KEY_ENV", "authorized", "block_reason", "chat_url", "check_bind", "control_tokens",
    "create_app", "is_loopback", "modelfile_spec", "prompt_format", "serve", "side_by_side", "start", "verdict_json",
]
