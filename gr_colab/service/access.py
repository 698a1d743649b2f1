"""Who may call the guard service (an API key, as llama.cpp's and vLLM's servers take one) and where it may listen.

With ``--api-key`` (or the ``GR_COLAB_API_KEY`` secret) every ``/v1`` request must carry ``Authorization: Bearer
<key>`` (401 otherwise, compared in constant time); listening on an address other than loopback without a key is
refused, since anyone on the network could then use the guard and the chat model behind it. The key is never
printed, logged or written.
"""
from __future__ import annotations

import hmac
import ipaddress
from typing import Optional

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
