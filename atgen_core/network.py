"""Whether a download can start at all: resolving the host of an endpoint, without sending a request.

Pre-flight checks use this so that a machine without network is told at once which field needs a
local copy, instead of after a download library's retries (about 25 s for the Hugging Face hub).
"""

from __future__ import annotations

import socket
from collections.abc import Mapping
from urllib.parse import urlsplit

__all__ = ["PROXY_VARIABLES", "env_flag", "hub_endpoint", "unreachable_host"]

PROXY_VARIABLES = ("HTTPS_PROXY", "https_proxy", "HTTP_PROXY", "http_proxy", "ALL_PROXY", "all_proxy")
"""Behind any of these the proxy resolves names, so a local lookup proves nothing."""


def _resolve(host: str) -> None:
    socket.getaddrinfo(host, 443)


def unreachable_host(url: str, environ: Mapping[str, str]) -> str | None:
    """Why ``url``'s host cannot be reached (``"<host> cannot be reached (...)"``), or ``None``.

    Only the name is resolved; ``None`` also when a proxy is configured in ``environ`` or ``url`` has no
    host. A name that resolves does not promise a download (the server may still refuse it).
    """
    if any(environ.get(name) for name in PROXY_VARIABLES):
        return None
    host = urlsplit(url).hostname
    if not host:
        return None
    try:
        _resolve(host)
    except OSError as exc:
        return f"{host} cannot be reached (its name does not resolve: {exc.strerror or exc})"
    return None


def env_flag(environ: Mapping[str, str], name: str) -> bool:
    """Whether the variable ``name`` is set to a true value (``1``, ``true``, ``yes``; any case)."""
    return environ.get(name, "").strip().lower() in ("1", "true", "yes")


def hub_endpoint(environ: Mapping[str, str]) -> str:
    """The Hugging Face hub's address: ``HF_ENDPOINT`` (a mirror) or huggingface.co."""
    return environ.get("HF_ENDPOINT") or "https://huggingface.co"
