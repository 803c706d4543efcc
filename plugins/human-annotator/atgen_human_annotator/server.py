"""The annotation web app: Starlette routes and Jinja2 pages over an :class:`AnnotationDesk`, served by uvicorn.

Routes (all need a session; ``?token=`` on any GET opens one and redirects without the token):
``GET /`` (the next item to do, or the overview), ``GET /item/<n>``, ``GET /overview``, ``GET /api/state``
(JSON, polled by the page while it waits for the next batch), the two embedded assets
``/static/app.js`` and ``/static/style.css``, and ``POST /submit`` (form fields ``csrf``, ``round``,
``id``, ``revision``, ``action``, ``text``, ``opened``). No route reads a file named by the request.
The gate in front of the routes checks the Host header, the token file (deleting it revokes access),
the session cookie and, for POST, the Origin; every response carries a strict Content-Security-Policy.
"""

from __future__ import annotations

import logging
import signal
import socket
import threading
import time
from collections.abc import Awaitable, Callable
from importlib import resources
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlencode, urlsplit

import uvicorn
from starlette.applications import Starlette
from starlette.concurrency import run_in_threadpool
from starlette.datastructures import MutableHeaders
from starlette.requests import Request
from starlette.responses import HTMLResponse, JSONResponse, RedirectResponse, Response
from starlette.routing import Route
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from atgen_core.errors import AtgenError
from atgen_human_annotator.desk import MAX_ANSWER_CHARS, AnnotationDesk, DeskBusyError, ItemView
from atgen_human_annotator.pages import render
from atgen_human_annotator.security import URL_FILE, Guard, allowed_hosts, read_token, write_private

__all__ = ["URL_FILE", "AnnotationServer"]

log = logging.getLogger("atgen.human")

MAX_BODY_BYTES = 4 * MAX_ANSWER_CHARS + 4096
CLAIM_SECONDS = 600.0
"""How long an opened item counts as someone's (other annotators are sent to other items meanwhile)."""
SESSION_MAX_AGE = 7 * 24 * 3600
_HEADERS = {
    "Content-Security-Policy": "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self'; "
    "connect-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'",
    "X-Content-Type-Options": "nosniff", "X-Frame-Options": "DENY", "Referrer-Policy": "same-origin",
    "Cache-Control": "no-store",
}
_ASSETS = {"app.js": "text/javascript; charset=utf-8", "style.css": "text/css; charset=utf-8"}
_MESSAGES = {"saved": "Saved item {n}.", "skipped": "Skipped item {n}."}


def _message(status: int, title: str, text: str, *, link: bool = True) -> HTMLResponse:
    return HTMLResponse(render("base.html", title=title, text=text, link=link), status)


class _Claims:
    """Which session has which item open (soft: used to spread annotators over items, never to block)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._by_session: dict[str, tuple[str, float]] = {}

    def claim(self, sid: str, id_: str | None) -> None:
        with self._lock:
            if id_ is None:
                self._by_session.pop(sid, None)
            else:
                self._by_session[sid] = (id_, time.monotonic())

    def others(self, sid: str) -> set[str]:
        """Ids open in other sessions within the claim window."""
        now = time.monotonic()
        with self._lock:
            return {i for s, (i, t) in self._by_session.items() if s != sid and now - t < CLAIM_SECONDS}


class _Gate:
    """ASGI middleware: security headers on every response; Host, token file, session and Origin checks."""

    def __init__(self, app: ASGIApp, server: AnnotationServer) -> None:
        self.app, self.server = app, server

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            return await self.app(scope, receive, send)

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = MutableHeaders(scope=message)
                for key, value in _HEADERS.items():
                    headers[key] = value
            await send(message)

        request = Request(scope)
        refused = self._refusal(request)
        if refused is not None:
            return await refused(scope, receive, send_with_headers)
        await self.app(scope, receive, send_with_headers)

    def _refusal(self, request: Request) -> Response | None:
        server, guard = self.server, self.server.guard
        if request.method not in ("GET", "HEAD", "POST"):
            return _message(501, "Not implemented", "This server answers GET and POST only.", link=False)
        if server.hosts is not None and request.headers.get("host", "").strip().lower() not in server.hosts:
            return _message(421, "Wrong host", "This server only answers requests addressed to this machine's "
                                               "loopback address.", link=False)
        if read_token(server.token_dir) != guard.token:
            return _message(401, "Access revoked", "The run's access token was deleted or replaced; restart "
                                                   "atgen to get a new URL.", link=False)
        try:
            query = parse_qs(request.url.query, max_num_fields=20)
        except ValueError:
            return _message(400, "Bad request", "Too many query parameters.")
        if request.method != "POST" and "token" in query:
            if not guard.token_ok(query["token"][0]):
                return _message(403, "Wrong access token", "This token does not open this run's page. Use the "
                                                           "URL atgen printed.", link=False)
            rest = {k: v for k, v in query.items() if k != "token"}
            target = "/" + request.url.path.lstrip("/")  # never "//host": no redirect off this server
            response = RedirectResponse(target + ("?" + urlencode(rest, doseq=True) if rest else ""), 303)
            response.headers.append("Set-Cookie", f"{guard.cookie_name}={guard.new_session()}; Path=/; HttpOnly; "
                                    f"SameSite=Strict; Max-Age={SESSION_MAX_AGE}")
            return response
        sid = guard.session_id(request.cookies.get(guard.cookie_name))
        if sid is None:
            return _message(401, "Access token needed", "Open the annotation page with the URL printed by atgen "
                                                        "(it ends with ?token=...).", link=False)
        request.scope.setdefault("state", {})["sid"] = sid
        if request.method == "POST" and not self._same_origin(request):
            return _message(403, "Cross-site request refused", "Nothing was saved.", link=False)
        return None

    def _same_origin(self, request: Request) -> bool:
        if request.headers.get("sec-fetch-site", "").lower() == "cross-site":
            return False
        origin = request.headers.get("origin")
        if origin is None or origin == "null":
            return origin is None
        host = urlsplit(origin).netloc.lower()
        hosts = self.server.hosts
        return host == request.headers.get("host", "").strip().lower() if hosts is None else host in hosts


def _safe(handler: Callable[[Request], Response]) -> Callable[[Request], Awaitable[Response]]:
    """Run a page handler in a worker thread; an unexpected error becomes a 500 page and a log record."""

    async def endpoint(request: Request) -> Response:
        try:
            return await run_in_threadpool(handler, request)
        except DeskBusyError:
            return _message(503, "Busy", "The run is committing answers; nothing was saved. Go back and try again "
                                         "in a moment.", link=False)
        except Exception:
            log.exception("annotation page: %s %s failed", request.method, request.url.path)
            return _message(500, "Server error", "Something went wrong (see the atgen log); answers saved before "
                                                 "are safe.", link=False)

    return endpoint


class AnnotationServer:
    """Serves an :class:`AnnotationDesk` on ``host:port`` (uvicorn in a background thread)."""

    def __init__(self, desk: AnnotationDesk, guard: Guard, *, host: str = "127.0.0.1", port: int = 0,
                 run_dir_hint: str = "RUN_DIR", url_file: Path | None = None) -> None:
        self.desk, self.guard, self.host, self.requested_port = desk, guard, host, port
        self.run_dir_hint, self.url_file = run_dir_hint, url_file
        self.token_dir = desk.store.run_dir
        """Where the token file lives; deleting it revokes every URL and session at once."""
        folder = resources.files("atgen_human_annotator").joinpath("static")
        self.assets = {name: (folder.joinpath(name).read_bytes(), ctype) for name, ctype in _ASSETS.items()}
        self.claims = _Claims()
        self.hosts: frozenset[str] | None = None
        self._server: uvicorn.Server | None = None
        self._thread: threading.Thread | None = None
        self._port = 0
        self._sigterm: Any = None
        routes = [Route("/", _safe(self._home)), Route("/overview", _safe(self._overview)),
                  Route("/api/state", _safe(self._state)), Route("/item/{n:int}", _safe(self._item)),
                  Route("/static/{name:str}", _safe(self._asset)), Route("/favicon.ico", _safe(self._favicon)),
                  Route("/submit", self._submit, methods=["POST"])]
        not_found = {404: self._not_found, 405: self._not_found}
        self.app = _Gate(Starlette(routes=routes, exception_handlers=not_found), self)  # type: ignore[arg-type]

    # -- lifecycle ----------------------------------------------------------------------------------

    def start(self) -> str:
        """Bind and serve in a daemon thread; returns the URL with the access token."""
        if self._server is not None:
            return self.url
        family = socket.AF_INET6 if ":" in self.host else socket.AF_INET
        sock = socket.socket(family, socket.SOCK_STREAM)
        try:
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            sock.bind((self.host, self.requested_port))
        except OSError as exc:
            sock.close()
            raise AtgenError(f"cannot serve the annotation page on {self.host}:{self.requested_port}: "
                             f"{exc.strerror or exc}; choose another port (0 picks a free one) or host") from None
        self._port = int(sock.getsockname()[1])
        self.hosts = allowed_hosts(self.host, self._port)
        config = uvicorn.Config(self.app, log_config=None, log_level="warning", access_log=False, lifespan="off",
                                proxy_headers=False, server_header=False, timeout_graceful_shutdown=2)
        server = self._server = uvicorn.Server(config)
        self._thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True,
                                        name=f"atgen-annotate-{self._port}")
        self._thread.start()
        self._trap_sigterm()
        deadline = time.monotonic() + 10
        while not server.started and self._thread.is_alive() and time.monotonic() < deadline:
            time.sleep(0.01)
        if self.url_file is not None:
            write_private(self.url_file, self.url + "\n")
        return self.url

    def stop(self) -> None:
        """Stop serving, release the port and remove the URL file (idempotent)."""
        server, self._server = self._server, None
        if server is None:
            return
        server.should_exit = True
        if self._thread is not None:
            self._thread.join(timeout=5)
        if self._sigterm is not None and threading.current_thread() is threading.main_thread():
            signal.signal(signal.SIGTERM, self._sigterm)
            self._sigterm = None
        if self.url_file is not None:
            self.url_file.unlink(missing_ok=True)

    def _trap_sigterm(self) -> None:
        """Turn SIGTERM into Ctrl-C while serving, so that ``stop()`` runs and removes the URL file."""
        if threading.current_thread() is threading.main_thread() and signal.getsignal(signal.SIGTERM) in (
            signal.SIG_DFL, None
        ):
            self._sigterm = signal.signal(signal.SIGTERM, _interrupt)

    @property
    def port(self) -> int:
        if self._server is None:
            raise RuntimeError("the annotation server is not running")
        return self._port

    @property
    def base_url(self) -> str:
        """``http://host:port`` as a browser on this machine reaches it."""
        host = {"": "127.0.0.1", "0.0.0.0": "127.0.0.1", "::": "[::1]"}.get(self.host, self.host)
        return f"http://{f'[{host}]' if ':' in host and not host.startswith('[') else host}:{self.port}"

    @property
    def url(self) -> str:
        """The page URL including the access token (give it only to your annotators)."""
        return f"{self.base_url}/?{urlencode({'token': self.guard.token})}"

    # -- pages --------------------------------------------------------------------------------------

    def _page(self, template: str, status: int = 200, **context: Any) -> HTMLResponse:
        desk, items = self.desk, context.get("items") or []
        context = {"header": True, "run_name": desk.run_name, "round": desk.round, "total": len(items),
                   "done": sum(v.done for v in items), **context}
        return HTMLResponse(render(template, **context), status)

    def _home(self, request: Request) -> Response:
        target = self._next_pending(self.desk.items(), 0, request.state.sid)
        return RedirectResponse(f"/item/{target}" if target else "/overview", 303)

    def _overview(self, request: Request) -> Response:
        return self._page("overview.html", items=self.desk.items(), mode=self.desk.mode, run_dir=self.run_dir_hint,
                          message=_flash(request), page="overview",
                          poll=self.desk.mode == "loop" and all(v.done for v in self.desk.items()))

    def _state(self, request: Request) -> Response:
        desk, items = self.desk, self.desk.items()
        done = sum(v.done for v in items)
        return JSONResponse({
            "round": desk.round, "mode": desk.mode, "batch_open": desk.batch_open, "total": len(items),
            "done": done, "pending": len(items) - done,
            "items": [{"n": v.n, "id": v.id, "status": v.status, "revision": v.revision, "text": v.text,
                       "by": v.by} for v in items]})

    def _asset(self, request: Request) -> Response:
        name = request.path_params["name"]
        if name not in self.assets:
            return _message(404, "Not found", "There is no such page.")
        body, ctype = self.assets[name]
        return Response(body, media_type=ctype)

    def _favicon(self, request: Request) -> Response:
        return Response(status_code=204)

    async def _not_found(self, request: Request, exc: Exception) -> Response:
        return _message(404, "Not found", "There is no such page.")

    def _item(self, request: Request) -> Response:
        sid, items = request.state.sid, self.desk.items()
        n = int(request.path_params["n"])
        if not 1 <= n <= len(items) or self.desk.round is None:
            return _message(404, "No such item", f"This batch has {len(items)} item(s).")
        item = items[n - 1]
        others = item.id in self.claims.others(sid)
        self.claims.claim(sid, item.id)
        return self._item_page(sid, item, items, message=_flash(request), others_here=others)

    def _item_page(self, sid: str, item: ItemView, items: list[ItemView], status: int = 200,
                   **extra: Any) -> Response:
        context = {"revision": item.revision, "prefill": item.text if item.status == "ok" else item.draft or "",
                   "message_kind": "info", **extra}
        return self._page("item.html", status, item=item, items=items, guidelines=self.desk.guidelines, page="item",
                          csrf=self.guard.csrf_token(sid), opened=time.time(),
                          position=f"item {item.n} of {len(items)}", **context)

    async def _submit(self, request: Request) -> Response:
        form = await _read_form(request)
        if isinstance(form, Response):
            return form
        if not self.guard.csrf_ok(request.state.sid, form.get("csrf")):
            return _message(403, "Form expired", "The form's security token is missing or wrong (was the page "
                            "opened in another session?). Nothing was saved: go back, reload the page and submit "
                            "again.", link=False)
        try:
            numbers = int(form.get("round", "")), int(form.get("revision", "")), float(form.get("opened") or time.time())
        except ValueError:
            return _message(400, "Bad form", "The form's round or revision is not a number.")
        return await _safe(lambda r: self._save(r, form, *numbers))(request)

    def _save(self, request: Request, form: dict[str, str], round_: int, revision: int, opened: float) -> Response:
        desk, sid = self.desk, request.state.sid
        id_, action, text = form.get("id", ""), form.get("action", "save"), form.get("text", "")
        seconds = round(min(max(time.time() - opened, 0.0), 86400.0), 3)
        outcome = desk.submit(round_=round_, id_=id_, expected_revision=revision, action=action, text=text,
                              seconds=seconds)
        if outcome.kind == "saved":
            self.claims.claim(sid, None)
            items = desk.items()
            position = next((v.n for v in items if v.id == id_), 0)
            target = self._next_pending(items, position, sid)
            flash = f"?m={'saved' if action == 'save' else 'skipped'}&k={position}"
            return RedirectResponse((f"/item/{target}" if target else "/overview") + flash, 303)
        if outcome.kind in ("closed", "unknown"):
            return _message(409 if outcome.kind == "closed" else 404, "Not saved", outcome.message)
        items = desk.items()
        item = next((v for v in items if v.id == id_), None)
        if item is None:
            return _message(404, "Not saved", "This item is no longer in the batch.")
        if outcome.kind == "invalid":
            return self._item_page(sid, item, items, 400, message=outcome.message, message_kind="error",
                                   prefill=text, revision=revision)
        return self._item_page(sid, item, items, 409, message=outcome.message, message_kind="conflict",
                               prefill=text, theirs=outcome.item or item, revision=outcome.revision)

    def _next_pending(self, items: list[ItemView], after: int, sid: str) -> int | None:
        """The next not-done item after position ``after`` (wrapping), preferring items nobody has open."""
        pending = [v for v in [*items[after:], *items[:after]] if not v.done]
        taken = self.claims.others(sid)
        return next((v.n for v in pending if v.id not in taken), pending[0].n if pending else None)


def _flash(request: Request) -> str:
    """The fixed message named by ``?m=<code>&k=<item number>`` (never text taken from the request)."""
    code, shown = request.query_params.get("m", ""), request.query_params.get("k", "")
    return _MESSAGES[code].format(n=int(shown)) if code in _MESSAGES and shown.isdigit() and len(shown) < 9 else ""


async def _read_form(request: Request) -> dict[str, str] | Response:
    """The submitted form's fields (first value each), or the error response (wrong type, too large, bad)."""
    if request.headers.get("content-type", "").split(";")[0].strip().lower() != "application/x-www-form-urlencoded":
        return _message(415, "Bad form", "Expected a form submission.")
    too_large = _message(413, "Too large", "The answer is too long.")
    declared = request.headers.get("content-length", "0")
    if not declared.isdigit() or int(declared) > MAX_BODY_BYTES:
        return too_large
    body = b""
    async for chunk in request.stream():
        body += chunk
        if len(body) > MAX_BODY_BYTES:
            return too_large
    try:
        fields = parse_qs(body.decode("utf-8"), keep_blank_values=True, max_num_fields=20)
    except (UnicodeDecodeError, ValueError):
        return _message(400, "Bad form", "The form could not be read.")
    return {key: values[0] for key, values in fields.items()}


def _interrupt(signum: int, frame: object) -> None:
    raise KeyboardInterrupt
