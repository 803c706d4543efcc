"""The annotation web server: standard-library ``ThreadingHTTPServer`` over an :class:`AnnotationDesk`.

Routes (all need a session; ``?token=`` on any GET opens one and redirects without the token):

- ``GET /``: the next item to do (or the overview when none is left)
- ``GET /item/<n>``: item ``n`` (1-based) of the served round
- ``GET /overview``: every item with its status
- ``GET /api/state``: the same as JSON (used by the page to wait for the next batch)
- ``GET /static/app.js``, ``GET /static/style.css``: the two assets embedded in the package
- ``POST /submit``: save or skip one item (form fields ``csrf``, ``round``, ``id``, ``revision``,
  ``action``, ``text``, ``opened``)

No route reads a path from the request to open a file: the assets are loaded once from the package.
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import socket
import threading
import time
from collections.abc import Callable
from http import HTTPStatus
from http.cookies import CookieError, SimpleCookie
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from importlib import resources
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlencode, urlsplit

from atgen_core.errors import AtgenError
from atgen_human_annotator.desk import MAX_ANSWER_CHARS, AnnotationDesk, DeskBusyError, ItemView
from atgen_human_annotator.pages import item_page, message_page, overview_page
from atgen_human_annotator.security import Guard, allowed_hosts

__all__ = ["URL_FILE", "AnnotationServer"]

log = logging.getLogger("atgen.human")

URL_FILE = "annotate.url"
"""0600 file in the run directory holding the page's URL (with its token) while a server runs."""

MAX_BODY_BYTES = 4 * MAX_ANSWER_CHARS + 4096
CLAIM_SECONDS = 600.0
"""How long an opened item counts as someone's (other annotators are sent to other items meanwhile)."""
SESSION_MAX_AGE = 7 * 24 * 3600

_CSP = (
    "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self'; connect-src 'self'; "
    "form-action 'self'; frame-ancestors 'none'; base-uri 'none'"
)
_ASSETS = {"/static/app.js": ("app.js", "text/javascript; charset=utf-8"),
           "/static/style.css": ("style.css", "text/css; charset=utf-8")}
_MESSAGES = {"saved": "Saved item {n}.", "skipped": "Skipped item {n}."}


def _load_assets() -> dict[str, tuple[bytes, str]]:
    folder = resources.files("atgen_human_annotator").joinpath("static")
    return {route: (folder.joinpath(name).read_bytes(), ctype) for route, (name, ctype) in _ASSETS.items()}


class _Claims:
    """Which session has which item open (soft: used to spread annotators over items, never to block)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._by_session: dict[str, tuple[str, float]] = {}

    def claim(self, sid: str, id_: str) -> None:
        with self._lock:
            self._by_session[sid] = (id_, time.monotonic())

    def release(self, sid: str) -> None:
        with self._lock:
            self._by_session.pop(sid, None)

    def others(self, sid: str) -> set[str]:
        """Ids open in other sessions within the claim window."""
        now = time.monotonic()
        with self._lock:
            return {i for s, (i, t) in self._by_session.items() if s != sid and now - t < CLAIM_SECONDS}


class _HTTPServer(ThreadingHTTPServer):
    daemon_threads = True
    block_on_close = False
    allow_reuse_address = True
    app: AnnotationServer


class _HTTPServer6(_HTTPServer):
    address_family = socket.AF_INET6


class AnnotationServer:
    """Serves an :class:`AnnotationDesk` on ``host:port`` in a background thread."""

    def __init__(
        self, desk: AnnotationDesk, guard: Guard, *, host: str = "127.0.0.1", port: int = 0,
        run_dir_hint: str = "RUN_DIR", url_file: Path | None = None,
    ) -> None:
        self.desk = desk
        self.guard = guard
        self.host = host
        self.requested_port = port
        self.run_dir_hint = run_dir_hint
        self.url_file = url_file
        self.assets = _load_assets()
        self.claims = _Claims()
        self.hosts: frozenset[str] | None = None
        self._httpd: _HTTPServer | None = None
        self._thread: threading.Thread | None = None

    # -- lifecycle ----------------------------------------------------------------------------------

    def start(self) -> str:
        """Bind and serve in a daemon thread; returns the URL with the access token."""
        if self._httpd is not None:
            return self.url
        server_class: type[_HTTPServer] = _HTTPServer6 if ":" in self.host else _HTTPServer
        try:
            httpd = server_class((self.host, self.requested_port), _Handler)
        except OSError as exc:
            raise AtgenError(
                f"cannot serve the annotation page on {self.host}:{self.requested_port}: {exc.strerror or exc}; "
                "choose another port (0 picks a free one) or host"
            ) from None
        httpd.app = self
        self._httpd = httpd
        self.hosts = allowed_hosts(self.host, self.port)
        self._thread = threading.Thread(target=httpd.serve_forever, kwargs={"poll_interval": 0.2},
                                        name=f"atgen-annotate-{self.port}", daemon=True)
        self._thread.start()
        if self.url_file is not None:
            _write_private(self.url_file, self.url + "\n")
        return self.url

    def stop(self) -> None:
        """Stop serving and release the port (idempotent)."""
        httpd, self._httpd = self._httpd, None
        if httpd is None:
            return
        httpd.shutdown()
        httpd.server_close()
        if self._thread is not None:
            self._thread.join(timeout=5)
        if self.url_file is not None:
            with contextlib.suppress(FileNotFoundError):
                self.url_file.unlink()

    @property
    def port(self) -> int:
        if self._httpd is None:
            raise RuntimeError("the annotation server is not running")
        return int(self._httpd.server_address[1])

    @property
    def base_url(self) -> str:
        """``http://host:port`` as a browser on this machine reaches it."""
        host = self.host
        if host in ("", "0.0.0.0"):
            host = "127.0.0.1"
        elif host == "::":
            host = "[::1]"
        elif ":" in host:
            host = f"[{host}]"
        return f"http://{host}:{self.port}"

    @property
    def url(self) -> str:
        """The page URL including the access token (give it only to your annotators)."""
        return f"{self.base_url}/?{urlencode({'token': self.guard.token})}"


def _flash(query: dict[str, list[str]]) -> str:
    """The fixed message named by ``?m=<code>&k=<item number>`` (never text taken from the request)."""
    code = (query.get("m") or [""])[0]
    shown = (query.get("k") or [""])[0]
    if code in _MESSAGES and shown.isdigit() and len(shown) < 9:
        return _MESSAGES[code].format(n=int(shown))
    return ""


def _write_private(path: Path, text: str) -> None:
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    os.fchmod(fd, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as handle:
        handle.write(text)


class _Handler(BaseHTTPRequestHandler):
    server: _HTTPServer
    server_version = "atgen-annotate"
    sys_version = ""
    protocol_version = "HTTP/1.0"

    # -- plumbing -----------------------------------------------------------------------------------

    @property
    def app(self) -> AnnotationServer:
        return self.server.app

    def log_message(self, format: str, *args: Any) -> None:
        del format, args  # the default log would print the query string, token included

    def _send(self, status: int, body: bytes, ctype: str, headers: dict[str, str] | None = None) -> None:
        self.send_response(status)
        self.send_header("Content-Type", ctype)
        self.send_header("Content-Length", str(len(body)))
        self.send_header("Content-Security-Policy", _CSP)
        self.send_header("X-Content-Type-Options", "nosniff")
        self.send_header("X-Frame-Options", "DENY")
        self.send_header("Referrer-Policy", "same-origin")
        self.send_header("Cache-Control", "no-store")
        for key, value in (headers or {}).items():
            self.send_header(key, value)
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(body)
        log.debug("%s %s -> %d", self.command, urlsplit(self.path).path, status)

    def _html(self, status: int, page: str, headers: dict[str, str] | None = None) -> None:
        self._send(status, page.encode("utf-8"), "text/html; charset=utf-8", headers)

    def _json(self, status: int, data: Any) -> None:
        self._send(status, json.dumps(data, ensure_ascii=False).encode("utf-8"), "application/json; charset=utf-8")

    def _redirect(self, location: str, headers: dict[str, str] | None = None) -> None:
        self._send(HTTPStatus.SEE_OTHER, b"", "text/plain; charset=utf-8", {"Location": location, **(headers or {})})

    def _deny(self, status: int, title: str, text: str) -> None:
        self._html(status, message_page(title, text, link=False))

    def _host_ok(self) -> bool:
        hosts = self.app.hosts
        if hosts is None:
            return True
        host = (self.headers.get("Host") or "").strip().lower()
        if host in hosts:
            return True
        self._deny(HTTPStatus.MISDIRECTED_REQUEST, "Wrong host",
                   "This server only answers requests addressed to this machine's loopback address.")
        return False

    def _session(self) -> str | None:
        raw = self.headers.get("Cookie")
        if not raw:
            return None
        cookie = SimpleCookie()
        try:
            cookie.load(raw)
        except CookieError:
            return None
        morsel = cookie.get(self.app.guard.cookie_name)
        return self.app.guard.session_id(morsel.value if morsel is not None else None)

    def _need_login(self) -> None:
        self._deny(HTTPStatus.UNAUTHORIZED, "Access token needed",
                   "Open the annotation page with the URL printed by atgen (it ends with ?token=...).")

    # -- GET ----------------------------------------------------------------------------------------

    def do_GET(self) -> None:
        self._guarded(self._get)

    def do_POST(self) -> None:
        self._guarded(self._post)

    def _guarded(self, handler: Callable[[], None]) -> None:
        """Run a handler; an unexpected error becomes a 500 page and a log record, never a dead socket."""
        try:
            handler()
        except DeskBusyError:
            self._deny(HTTPStatus.SERVICE_UNAVAILABLE, "Busy",
                       "The run is committing answers; nothing was saved. Go back and try again in a moment.")
        except Exception:
            log.exception("annotation page: %s %s failed", self.command, urlsplit(self.path).path)
            with contextlib.suppress(Exception):
                self._deny(HTTPStatus.INTERNAL_SERVER_ERROR, "Server error",
                           "Something went wrong (see the atgen log); answers saved before are safe.")

    def _get(self) -> None:
        if not self._host_ok():
            return
        url = urlsplit(self.path)
        try:
            query = parse_qs(url.query, max_num_fields=20)
        except ValueError:
            self._html(HTTPStatus.BAD_REQUEST, message_page("Bad request", "Too many query parameters."))
            return
        if "token" in query:
            if not self.app.guard.token_ok(query["token"][0]):
                self._deny(HTTPStatus.FORBIDDEN, "Wrong access token",
                           "This token does not open this run's page. Use the URL atgen printed.")
                return
            rest = {k: v for k, v in query.items() if k != "token"}
            cookie = (f"{self.app.guard.cookie_name}={self.app.guard.new_session()}; Path=/; HttpOnly; "
                      f"SameSite=Strict; Max-Age={SESSION_MAX_AGE}")
            target = "/" + url.path.lstrip("/")  # never "//host": no redirect off this server
            if rest:
                target += "?" + urlencode(rest, doseq=True)
            self._redirect(target, {"Set-Cookie": cookie})
            return
        sid = self._session()
        if sid is None:
            self._need_login()
            return
        self._route_get(url.path, query, sid)

    def _route_get(self, path: str, query: dict[str, list[str]], sid: str) -> None:
        desk = self.app.desk
        if path in self.app.assets:
            body, ctype = self.app.assets[path]
            self._send(HTTPStatus.OK, body, ctype)
        elif path == "/favicon.ico":
            self._send(HTTPStatus.NO_CONTENT, b"", "image/x-icon")
        elif path == "/":
            target = self._next_pending(desk.items(), after=0, sid=sid)
            self._redirect(f"/item/{target}" if target else "/overview")
        elif path == "/overview":
            self._html(HTTPStatus.OK, overview_page(desk.items(), run_name=desk.run_name, round_=desk.round,
                                                    mode=desk.mode, run_dir_hint=self.app.run_dir_hint,
                                                    message=_flash(query)))
        elif path == "/api/state":
            self._json(HTTPStatus.OK, self._state())
        elif path.startswith("/item/") and path[len("/item/"):].isdigit():
            self._item(int(path[len("/item/"):]), query, sid)
        else:
            self._html(HTTPStatus.NOT_FOUND, message_page("Not found", "There is no such page."))

    def _state(self) -> dict[str, Any]:
        desk = self.app.desk
        items = desk.items()
        done = sum(v.done for v in items)
        return {
            "round": desk.round, "mode": desk.mode, "batch_open": desk.batch_open,
            "total": len(items), "done": done, "pending": len(items) - done,
            "items": [{"n": v.n, "id": v.id, "status": v.status, "revision": v.revision, "text": v.text,
                       "by": v.by} for v in items],
        }

    def _item(self, n: int, query: dict[str, list[str]], sid: str) -> None:
        desk = self.app.desk
        items = desk.items()
        if not 1 <= n <= len(items) or desk.round is None:
            self._html(HTTPStatus.NOT_FOUND, message_page("No such item", f"This batch has {len(items)} item(s)."))
            return
        item = items[n - 1]
        message = _flash(query)
        others = item.id in self.app.claims.others(sid)
        self.app.claims.claim(sid, item.id)
        self._html(HTTPStatus.OK, self._item_page(item, items, sid, message=message, message_kind="info",
                                                  others_here=others))

    def _item_page(self, item: ItemView, items: list[ItemView], sid: str, **extra: Any) -> str:
        desk = self.app.desk
        assert desk.round is not None
        return item_page(item, items, run_name=desk.run_name, round_=desk.round, guidelines=desk.guidelines,
                         csrf=self.app.guard.csrf_token(sid), opened=time.time(), **extra)

    def _next_pending(self, items: list[ItemView], after: int, sid: str) -> int | None:
        """The next not-done item after position ``after`` (wrapping), preferring items nobody has open."""
        order = [*items[after:], *items[:after]]
        pending = [v for v in order if not v.done]
        if not pending:
            return None
        taken = self.app.claims.others(sid)
        free = [v for v in pending if v.id not in taken]
        return (free or pending)[0].n

    # -- POST ---------------------------------------------------------------------------------------

    def _post(self) -> None:
        if not self._host_ok():
            return
        sid = self._session()
        if sid is None:
            self._need_login()
            return
        if not self._same_origin():
            self._deny(HTTPStatus.FORBIDDEN, "Cross-site request refused", "Nothing was saved.")
            return
        if urlsplit(self.path).path != "/submit":
            self._html(HTTPStatus.NOT_FOUND, message_page("Not found", "There is no such form."))
            return
        form = self._read_form()
        if form is None:
            return
        if not self.app.guard.csrf_ok(sid, form.get("csrf")):
            self._deny(HTTPStatus.FORBIDDEN, "Form expired",
                       "The form's security token is missing or wrong (was the page opened in another session?). "
                       "Nothing was saved: go back, reload the page and submit again.")
            return
        try:
            round_ = int(form.get("round", ""))
            revision = int(form.get("revision", ""))
            opened = float(form.get("opened") or time.time())
        except ValueError:
            self._html(HTTPStatus.BAD_REQUEST,
                       message_page("Bad form", "The form's round or revision is not a number."))
            return
        self._submit(sid, form, round_, revision, opened)

    def _same_origin(self) -> bool:
        if (self.headers.get("Sec-Fetch-Site") or "").lower() == "cross-site":
            return False
        origin = self.headers.get("Origin")
        if origin is None or origin == "null":
            return origin is None
        host = urlsplit(origin).netloc.lower()
        if self.app.hosts is None:
            return host == (self.headers.get("Host") or "").strip().lower()
        return host in self.app.hosts

    def _read_form(self) -> dict[str, str] | None:
        ctype = (self.headers.get("Content-Type") or "").split(";")[0].strip().lower()
        if ctype != "application/x-www-form-urlencoded":
            self._html(HTTPStatus.UNSUPPORTED_MEDIA_TYPE, message_page("Bad form", "Expected a form submission."))
            return None
        try:
            length = int(self.headers.get("Content-Length") or "0")
        except ValueError:
            length = -1
        if length < 0 or length > MAX_BODY_BYTES:
            self._html(HTTPStatus.REQUEST_ENTITY_TOO_LARGE, message_page("Too large", "The answer is too long."))
            return None
        raw = self.rfile.read(length)
        try:
            fields = parse_qs(raw.decode("utf-8"), keep_blank_values=True, max_num_fields=20, strict_parsing=False)
        except (UnicodeDecodeError, ValueError):
            self._html(HTTPStatus.BAD_REQUEST, message_page("Bad form", "The form could not be read."))
            return None
        return {k: v[0] for k, v in fields.items()}

    def _submit(self, sid: str, form: dict[str, str], round_: int, revision: int, opened: float) -> None:
        desk = self.app.desk
        id_ = form.get("id", "")
        action = form.get("action", "save")
        text = form.get("text", "")
        seconds = min(max(time.time() - opened, 0.0), 86400.0)
        outcome = desk.submit(round_=round_, id_=id_, expected_revision=revision, action=action, text=text,
                              seconds=round(seconds, 3))
        if outcome.kind == "saved":
            self.app.claims.release(sid)
            items = desk.items()
            current = next((v for v in items if v.id == id_), None)
            position = current.n if current is not None else 0
            target = self._next_pending(items, after=position, sid=sid)
            code = "saved" if action == "save" else "skipped"
            if target is None:
                self._redirect(f"/overview?m={code}&k={position}")
            else:
                self._redirect(f"/item/{target}?m={code}&k={position}")
            return
        if outcome.kind in ("closed", "unknown"):
            status = HTTPStatus.CONFLICT if outcome.kind == "closed" else HTTPStatus.NOT_FOUND
            self._html(status, message_page("Not saved", outcome.message))
            return
        items = desk.items()
        item = next((v for v in items if v.id == id_), None)
        if item is None:
            self._html(HTTPStatus.NOT_FOUND, message_page("Not saved", "This item is no longer in the batch."))
            return
        if outcome.kind == "invalid":
            page = self._item_page(item, items, sid, message=outcome.message, message_kind="error",
                                   text_override=text, revision_override=revision)
            self._html(HTTPStatus.BAD_REQUEST, page)
            return
        page = self._item_page(item, items, sid, message=outcome.message, message_kind="conflict",
                               text_override=text, theirs=outcome.item or item, revision_override=outcome.revision)
        self._html(HTTPStatus.CONFLICT, page)
