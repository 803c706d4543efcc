"""The annotation pages of one :class:`AnnotationDesk`: a Starlette app with a security gate in front.

Routes: ``GET /`` (the next item to do, or the overview), ``/item/<n>``, ``/overview``, ``/api/state``
(JSON, polled while the page waits for the next batch), the two embedded assets ``/static/app.js`` and
``/static/style.css`` (no route opens a file named by the request), and ``POST /submit``. The gate checks
the Host header, the token file (deleting it revokes access), the session cookie (``?token=`` on a GET
opens one) and, for POST, the Origin; it adds a strict Content-Security-Policy to every response.

Pages are Jinja2 templates (``templates/``) with every value escaped. They work without JavaScript (plain
forms, post/redirect/get); ``static/app.js`` adds keyboard shortcuts, the draft reset, an empty-answer
check, an unsaved-changes warning and the wait for the next batch. The CSP forbids inline scripts and
styles, so the templates hold no ``style=`` or ``on...=`` attributes.
"""

from __future__ import annotations

import html
import logging
import time
from collections.abc import Callable
from importlib import resources
from typing import Any
from urllib.parse import parse_qs, urlencode, urlsplit

from jinja2 import Environment, PackageLoader
from markupsafe import Markup
from starlette.applications import Starlette
from starlette.concurrency import run_in_threadpool
from starlette.middleware import Middleware
from starlette.middleware.base import BaseHTTPMiddleware, RequestResponseEndpoint
from starlette.requests import Request
from starlette.responses import HTMLResponse, JSONResponse, RedirectResponse, Response
from starlette.routing import Route

from atgen_human_annotator.desk import MAX_ANSWER_CHARS, AnnotationDesk, DeskBusyError, ItemView
from atgen_human_annotator.security import Guard, read_token

__all__ = ["AnnotationApp"]

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
_FLASH = {"saved": "Saved item {n}.", "skipped": "Skipped item {n}."}
_STATUS_TEXT = {"pending": "not answered", "ok": "saved", "skipped": "skipped"}


def _escaped(value: Any) -> Any:
    """Every ``{{ value }}`` escaped with ``html.escape`` (quotes too: safe in attributes)."""
    return value if isinstance(value, Markup) else Markup(html.escape("" if value is None else str(value)))


def _shorten(text: str, limit: int = 140) -> str:
    flat = " ".join(text.split())
    return flat if len(flat) <= limit else flat[: limit - 1] + "…"


_TEMPLATES = Environment(loader=PackageLoader("atgen_human_annotator", "templates"), autoescape=True,
                         finalize=_escaped, trim_blocks=True)
_TEMPLATES.filters["shorten"] = _shorten


def render(template: str, **context: Any) -> str:
    """The HTML of ``template`` with ``context`` (values are escaped, never trusted as markup)."""
    return _TEMPLATES.get_template(template).render(status_text=_STATUS_TEXT, **context)


def _message(status: int, title: str, text: str, *, link: bool = True) -> HTMLResponse:
    return HTMLResponse(render("base.html", title=title, text=text, link=link), status)


class AnnotationApp:
    """The pages and the submit endpoint (``asgi``); ``hosts`` is set by the server once its port is known."""

    def __init__(self, desk: AnnotationDesk, guard: Guard, run_dir_hint: str = "RUN_DIR") -> None:
        self.desk, self.guard, self.run_dir_hint = desk, guard, run_dir_hint
        self.hosts: frozenset[str] | None = None
        self.opened: dict[str, tuple[str, float]] = {}
        """Session id -> the item it has open and since when (soft claims that spread annotators over items)."""
        folder = resources.files("atgen_human_annotator").joinpath("static")
        self.assets = {name: (folder.joinpath(name).read_bytes(), ctype) for name, ctype in _ASSETS.items()}
        pages = {"/": self._home, "/overview": self._overview, "/api/state": self._state, "/item/{n:int}": self._item,
                 "/static/{name}": self._asset, "/favicon.ico": lambda request: Response(status_code=204)}
        routes = [*(Route(path, _safe(page)) for path, page in pages.items()),
                  Route("/submit", self._submit, methods=["POST"])]
        self.asgi = Starlette(routes=routes, middleware=[Middleware(BaseHTTPMiddleware, dispatch=self._gate)],
                              exception_handlers={404: _not_found, 405: _not_found})
        self.asgi.router.redirect_slashes = False  # no redirect built from the Host header

    def _page(self, template: str, items: list[ItemView], status: int = 200, **context: Any) -> HTMLResponse:
        return HTMLResponse(render(template, header=True, run_name=self.desk.run_name, round=self.desk.round,
                                   items=items, total=len(items), done=sum(v.done for v in items), **context), status)

    def _home(self, request: Request) -> Response:
        target = self._next_pending(self.desk.items(), 0, request.state.sid)
        return RedirectResponse(f"/item/{target}" if target else "/overview", 303)

    def _overview(self, request: Request) -> Response:
        items = self.desk.items()
        return self._page("overview.html", items, mode=self.desk.mode, run_dir=self.run_dir_hint, page="overview",
                          message=_flash(request), poll=self.desk.mode == "loop" and all(v.done for v in items))

    def _state(self, request: Request) -> Response:
        desk, items = self.desk, self.desk.items()
        done = sum(v.done for v in items)
        return JSONResponse({"round": desk.round, "mode": desk.mode, "batch_open": desk.batch_open,
                             "total": len(items), "done": done, "pending": len(items) - done,
                             "items": [{"n": v.n, "id": v.id, "status": v.status, "revision": v.revision,
                                        "text": v.text, "by": v.by} for v in items]})

    def _asset(self, request: Request) -> Response:
        body, ctype = self.assets.get(request.path_params["name"], (b"", ""))
        return Response(body, media_type=ctype) if ctype else _message(404, "Not found", "There is no such page.")

    def _item(self, request: Request) -> Response:
        sid, items, n = request.state.sid, self.desk.items(), int(request.path_params["n"])
        if not 1 <= n <= len(items) or self.desk.round is None:
            return _message(404, "No such item", f"This batch has {len(items)} item(s).")
        others = items[n - 1].id in self._taken(sid)
        self.opened[sid] = (items[n - 1].id, time.monotonic())
        return self._item_page(sid, items[n - 1], items, message=_flash(request), others_here=others)

    def _item_page(self, sid: str, item: ItemView, items: list[ItemView], status: int = 200, **extra: Any) -> Response:
        context = {"revision": item.revision, "prefill": item.text if item.status == "ok" else item.draft or "",
                   "message_kind": "info", **extra}
        return self._page("item.html", items, status, item=item, guidelines=self.desk.guidelines, page="item",
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
            round_, revision = int(form.get("round", "")), int(form.get("revision", ""))
            opened = float(form.get("opened") or time.time())
        except ValueError:
            return _message(400, "Bad form", "The form's round or revision is not a number.")
        return await run_in_threadpool(_safe(lambda r: self._save(r, form, round_, revision, opened)), request)

    def _save(self, request: Request, form: dict[str, str], round_: int, revision: int, opened: float) -> Response:
        sid, id_, action, text = request.state.sid, form.get("id", ""), form.get("action", "save"), form.get("text", "")
        outcome = self.desk.submit(round_=round_, id_=id_, expected_revision=revision, action=action, text=text,
                                   seconds=round(min(max(time.time() - opened, 0.0), 86400.0), 3))
        if outcome.kind in ("closed", "unknown"):
            return _message(409 if outcome.kind == "closed" else 404, "Not saved", outcome.message)
        items = self.desk.items()
        item = next((v for v in items if v.id == id_), None)
        if outcome.kind == "saved":
            self.opened.pop(sid, None)
            position = item.n if item is not None else 0
            target = self._next_pending(items, position, sid)
            flash = f"?m={'saved' if action == 'save' else 'skipped'}&k={position}"
            return RedirectResponse((f"/item/{target}" if target else "/overview") + flash, 303)
        if item is None:
            return _message(404, "Not saved", "This item is no longer in the batch.")
        if outcome.kind == "invalid":
            return self._item_page(sid, item, items, 400, message=outcome.message, message_kind="error",
                                   prefill=text, revision=revision)
        return self._item_page(sid, item, items, 409, message=outcome.message, message_kind="conflict",
                               prefill=text, theirs=outcome.item or item, revision=outcome.revision)

    def _taken(self, sid: str) -> set[str]:
        """Ids open in other sessions within the claim window."""
        now = time.monotonic()
        return {i for s, (i, t) in list(self.opened.items()) if s != sid and now - t < CLAIM_SECONDS}

    def _next_pending(self, items: list[ItemView], after: int, sid: str) -> int | None:
        """The next not-done item after position ``after`` (wrapping), preferring items nobody has open."""
        pending = [v for v in [*items[after:], *items[:after]] if not v.done]
        taken = self._taken(sid)
        return next((v.n for v in pending if v.id not in taken), pending[0].n if pending else None)

    async def _gate(self, request: Request, call_next: RequestResponseEndpoint) -> Response:
        """Security headers on every response; Host, token file, session and Origin checks before any route."""
        response = self._refusal(request) or await call_next(request)
        response.headers.update(_HEADERS)
        return response

    def _refusal(self, request: Request) -> Response | None:
        hosts, guard = self.hosts, self.guard
        if request.method not in ("GET", "HEAD", "POST"):
            return _message(501, "Not implemented", "This server answers GET and POST only.", link=False)
        if hosts is not None and request.headers.get("host", "").strip().lower() not in hosts:
            return _message(421, "Wrong host", "This server only answers requests addressed to this machine's "
                                               "loopback address.", link=False)
        if read_token(self.desk.store.run_dir) != guard.token:
            return _message(401, "Access revoked", "The run's access token file was deleted or replaced; restart "
                                                   "atgen to get a new URL.", link=False)
        try:
            query = parse_qs(request.url.query, max_num_fields=20)
        except ValueError:
            return _message(400, "Bad request", "Too many query parameters.")
        if request.method != "POST" and "token" in query:
            if not guard.token_ok(query["token"][0]):
                return _message(403, "Wrong access token", "This token does not open this run's page. Use the URL "
                                                           "atgen printed.", link=False)
            rest = urlencode({k: v for k, v in query.items() if k != "token"}, doseq=True)
            target = "/" + request.url.path.lstrip("/")  # never "//host": no redirect off this server
            response = RedirectResponse(target + (f"?{rest}" if rest else ""), 303)
            response.headers.append("Set-Cookie", f"{guard.cookie_name}={guard.new_session()}; Path=/; HttpOnly; "
                                                  f"SameSite=Strict; Max-Age={SESSION_MAX_AGE}")
            return response
        request.state.sid = guard.session_id(request.cookies.get(guard.cookie_name))
        if request.state.sid is None:
            return _message(401, "Access token needed", "Open the annotation page with the URL printed by atgen "
                                                        "(it ends with ?token=...).", link=False)
        if request.method == "POST" and not _same_origin(request, hosts):
            return _message(403, "Cross-site request refused", "Nothing was saved.", link=False)
        return None


def _same_origin(request: Request, hosts: frozenset[str] | None) -> bool:
    if request.headers.get("sec-fetch-site", "").lower() == "cross-site":
        return False
    origin = request.headers.get("origin")
    if origin is None or origin == "null":
        return origin is None
    host = urlsplit(origin).netloc.lower()
    return host == request.headers.get("host", "").strip().lower() if hosts is None else host in hosts


def _safe(handler: Callable[[Request], Response]) -> Callable[[Request], Response]:
    """A page handler (run in a worker thread) whose unexpected errors become a 500 page and a log record."""

    def endpoint(request: Request) -> Response:
        try:
            return handler(request)
        except DeskBusyError:
            return _message(503, "Busy", "The run is committing answers; nothing was saved. Go back and try again "
                                         "in a moment.", link=False)
        except Exception:
            log.exception("annotation page: %s %s failed", request.method, request.url.path)
            return _message(500, "Server error", "Something went wrong (see the atgen log); answers saved before "
                                                 "are safe.", link=False)

    return endpoint


async def _not_found(request: Request, exc: Exception) -> Response:
    return _message(404, "Not found", "There is no such page.")


def _flash(request: Request) -> str:
    """The fixed message named by ``?m=<code>&k=<item number>`` (never text taken from the request)."""
    code, shown = request.query_params.get("m", ""), request.query_params.get("k", "")
    return _FLASH[code].format(n=int(shown)) if code in _FLASH and shown.isdigit() and len(shown) < 9 else ""


async def _read_form(request: Request) -> dict[str, str] | Response:
    """The submitted form's fields (first value each), or the error response (wrong type, too large, bad)."""
    if request.headers.get("content-type", "").split(";")[0].strip().lower() != "application/x-www-form-urlencoded":
        return _message(415, "Bad form", "Expected a form submission.")
    declared, body = request.headers.get("content-length", "0"), b""
    if declared.isdigit() and int(declared) <= MAX_BODY_BYTES:
        async for chunk in request.stream():
            body += chunk
            if len(body) > MAX_BODY_BYTES:
                break
    if not declared.isdigit() or len(body) > MAX_BODY_BYTES or int(declared) > MAX_BODY_BYTES:
        return _message(413, "Too large", "The answer is too long.")
    try:
        fields = parse_qs(body.decode("utf-8"), keep_blank_values=True, max_num_fields=20)
    except (UnicodeDecodeError, ValueError):
        return _message(400, "Bad form", "The form could not be read.")
    return {key: values[0] for key, values in fields.items()}
