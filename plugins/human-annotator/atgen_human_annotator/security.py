"""Access token, signed session cookies, CSRF tokens and the Host rules of the annotation page.

- The access token (``secrets.token_urlsafe(32)``) is kept in a 0600 file in the run directory, so a
  restarted server accepts the same URL; deleting the file revokes every URL and session at once. It
  travels once, in the URL; the server answers with an HttpOnly, SameSite=Strict session cookie.
- A session cookie is ``<random id>.<signature>`` (``itsdangerous``, HMAC with a key derived from the
  token): it survives restarts, cannot be forged without the token and never contains it. Every form
  carries a CSRF token, the session id's signature under another salt. The Host header must name the
  bound address (DNS rebinding).
"""

from __future__ import annotations

import hashlib
import hmac
import ipaddress
import os
import secrets
from pathlib import Path

from itsdangerous import BadSignature, Signer

from atgen_core.atomic import atomic_write

__all__ = ["TOKEN_FILE", "URL_FILE", "Guard", "allowed_hosts", "is_loopback", "load_or_create_token"]

TOKEN_FILE = "annotate-token"  # 0600 file in the run directory holding the run's access token
URL_FILE = "annotate.url"  # 0600 file in the run directory holding the page's URL while a server runs
_MIN_TOKEN_CHARS = 32
PUBLIC_WARNING = (
    "warning: the annotation page is served on {host}, reachable from other machines over plain HTTP; "
    "prefer host 127.0.0.1 behind a TLS proxy or an SSH tunnel"
)


def read_token(run_dir: Path) -> str | None:
    """The token in the run's token file, ``None`` when the file is missing (revoked) or unusable."""
    try:
        token = (Path(run_dir) / TOKEN_FILE).read_text(encoding="utf-8").strip()
    except (OSError, UnicodeDecodeError):
        return None
    return token if len(token) >= _MIN_TOKEN_CHARS and token.replace("-", "").replace("_", "").isalnum() else None


def load_or_create_token(run_dir: Path) -> str:
    """The run's access token, created (mode 0600) on first use and reused after restarts."""
    path = Path(run_dir) / TOKEN_FILE
    if path.exists():
        os.chmod(path, 0o600)
        token = read_token(run_dir)
        if token is not None:
            return token
    token = secrets.token_urlsafe(32)
    atomic_write(path, token + "\n", permissions=0o600)
    return token


class Guard:
    """Checks the access token, issues and verifies session cookies and CSRF tokens."""

    def __init__(self, token: str) -> None:
        if len(token) < _MIN_TOKEN_CHARS:
            raise ValueError("the access token is too short")
        self._token = token.encode()
        self._key = hashlib.sha256(b"atgen-human-annotator/v1\0" + self._token).digest()
        # per-run cookie name: two annotation servers on one machine do not overwrite each other's cookie
        self.cookie_name = "atgen_session_" + hashlib.sha256(self._key).hexdigest()[:10]
        self._sessions, self._csrf = Signer(self._key, salt="session"), Signer(self._key, salt="csrf")

    @property
    def token(self) -> str:
        return self._token.decode()

    def token_ok(self, given: str | None) -> bool:
        """Constant-time comparison of a presented token with the run's token."""
        return given is not None and hmac.compare_digest(given.encode(), self._token)

    def new_session(self) -> str:
        """A fresh cookie value ``id.signature``."""
        return self._sessions.sign(secrets.token_urlsafe(18)).decode()

    def session_id(self, cookie_value: str | None) -> str | None:
        """The session id of a valid cookie value, else ``None``."""
        try:
            return self._sessions.unsign(cookie_value or "").decode() or None
        except BadSignature:
            return None

    def csrf_token(self, sid: str) -> str:
        """The CSRF token of a session (embedded in every form)."""
        return self._csrf.get_signature(sid).decode()

    def csrf_ok(self, sid: str, given: str | None) -> bool:
        return given is not None and self._csrf.verify_signature(sid, given)


def allowed_hosts(bind_host: str, port: int) -> frozenset[str] | None:
    """Host header values accepted for a server bound to ``bind_host:port`` (``None``: any, for a wildcard
    bind, where the machine may be reached under any name)."""
    if bind_host in ("", "0.0.0.0", "::"):
        return None
    names = {"127.0.0.1", "localhost", "[::1]", f"[{bind_host}]" if ":" in bind_host else bind_host.lower()}
    return frozenset(f"{name}:{port}" for name in names)


def is_loopback(host: str) -> bool:
    """True when ``host`` only accepts connections from this machine."""
    if host.lower() == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False
