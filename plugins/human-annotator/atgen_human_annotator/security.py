"""Access token, signed session cookies, CSRF tokens and the Host check of the annotation page.

- The access token is random (``secrets.token_urlsafe(32)``) and kept in a 0600 file in the run
  directory, so a restarted server accepts the same URL. It travels once, in the URL's query; the
  server answers with an HttpOnly, SameSite=Strict session cookie and a redirect that drops it.
- A session cookie is ``<random id>.<HMAC(key, id)>`` with a key derived from the token: it survives
  server restarts, cannot be forged without the token, and never contains the token itself.
- Every form carries a CSRF token, ``HMAC(key, "csrf" + session id)``, checked on every POST.
- The Host header must name the bound address (blocks DNS-rebinding pages from reaching the server).
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import ipaddress
import os
import secrets
from pathlib import Path

from atgen_core.atomic import atomic_write

__all__ = ["TOKEN_FILE", "Guard", "allowed_hosts", "is_loopback", "load_or_create_token"]

TOKEN_FILE = "annotate-token"
"""Name of the 0600 file holding the run's access token."""

_MIN_TOKEN_CHARS = 32


def load_or_create_token(run_dir: Path) -> str:
    """The run's access token, created (mode 0600) on first use and reused after restarts."""
    path = Path(run_dir) / TOKEN_FILE
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        os.chmod(path, 0o600)
        token = path.read_text(encoding="utf-8").strip()
        if len(token) >= _MIN_TOKEN_CHARS and token.replace("-", "").replace("_", "").isalnum():
            return token
        return _replace_token(path)
    token = secrets.token_urlsafe(32)
    with os.fdopen(fd, "w", encoding="utf-8") as handle:
        handle.write(token + "\n")
    return token


def _replace_token(path: Path) -> str:
    token = secrets.token_urlsafe(32)
    atomic_write(path, token + "\n", permissions=0o600)
    return token


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


class Guard:
    """Checks the access token, issues and verifies session cookies and CSRF tokens."""

    def __init__(self, token: str) -> None:
        if len(token) < _MIN_TOKEN_CHARS:
            raise ValueError("the access token is too short")
        self._token = token.encode()
        self._key = hashlib.sha256(b"atgen-human-annotator/v1\0" + self._token).digest()
        self.cookie_name = "atgen_session_" + hashlib.sha256(self._key).hexdigest()[:10]
        """Per-run cookie name: two annotation servers on one machine do not overwrite each other's cookie."""

    @property
    def token(self) -> str:
        return self._token.decode()

    def token_ok(self, given: str | None) -> bool:
        """Constant-time comparison of a presented token with the run's token."""
        return given is not None and hmac.compare_digest(given.encode(), self._token)

    def _sign(self, purpose: bytes, value: str) -> str:
        return _b64(hmac.new(self._key, purpose + b"\0" + value.encode(), hashlib.sha256).digest())

    def new_session(self) -> str:
        """A fresh cookie value ``id.signature``."""
        sid = secrets.token_urlsafe(18)
        return f"{sid}.{self._sign(b'session', sid)}"

    def session_id(self, cookie_value: str | None) -> str | None:
        """The session id of a valid cookie value, else ``None``."""
        if not cookie_value or cookie_value.count(".") != 1:
            return None
        sid, signature = cookie_value.split(".")
        if not sid or not hmac.compare_digest(signature.encode(), self._sign(b"session", sid).encode()):
            return None
        return sid

    def csrf_token(self, sid: str) -> str:
        """The CSRF token of a session (embedded in every form)."""
        return self._sign(b"csrf", sid)

    def csrf_ok(self, sid: str, given: str | None) -> bool:
        return given is not None and hmac.compare_digest(given.encode(), self.csrf_token(sid).encode())


def allowed_hosts(bind_host: str, port: int) -> frozenset[str] | None:
    """Host header values accepted for a server bound to ``bind_host:port``.

    Loopback names always; the bound address itself; ``None`` (no check) for a wildcard bind, where the
    machine may be reached under any name.
    """
    if bind_host in ("", "0.0.0.0", "::"):
        return None
    names = {"127.0.0.1", "localhost", "[::1]"}
    names.add(f"[{bind_host}]" if ":" in bind_host else bind_host.lower())
    return frozenset(f"{name}:{port}" for name in names)


def is_loopback(host: str) -> bool:
    """True when ``host`` only accepts connections from this machine."""
    if host.lower() == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


PUBLIC_WARNING = (
    "warning: the annotation page is served on {host}, reachable from other machines over plain HTTP; "
    "prefer host 127.0.0.1 behind a TLS proxy or an SSH tunnel"
)
