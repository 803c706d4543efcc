"""Helpers of the human-annotator tests: example data, an HTTP client keeping a session, a served desk.

A uniquely named module (not conftest.py), because the tests of every plugin run in one pytest session."""

from __future__ import annotations

import html
import http.client
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlencode, urlsplit

from atgen_human_annotator.desk import AnnotationDesk
from atgen_human_annotator.server import AnnotationServer

from atgen_core import Example
from atgen_core.annotation import RunAnnotationStore
from atgen_core.store import RunStore

XSS = '<script>alert("x")</script><img src=x onerror=alert(1)>'


def make_examples(n: int) -> list[Example]:
    """``n`` examples; the third one's input carries an XSS payload."""
    out = []
    for i in range(n):
        text = f"Summarise item {i}: the cat sat on mat {i}."
        if i == 2:
            text = f"Item 2 says {XSS} & more"
        out.append(Example(id=f"ex-{i}", input=text, prompt=f"### Instruction\n{text}\n### Answer\n",
                           target=f"gold {i}"))
    return out


def round_attempts(store: RunStore, round_: int) -> dict[str, dict[str, Any]]:
    """The stored answers of a round by id, as plain dicts (status, text, annotator, revision, meta, ...)."""
    from dataclasses import asdict

    return {id_: asdict(answer) for id_, answer in RunAnnotationStore(store).answers(round_).items()}


@dataclass
class Reply:
    """An HTTP response, read completely."""

    status: int
    headers: http.client.HTTPMessage
    body: str

    def header(self, name: str) -> str:
        return self.headers.get(name) or ""

    def hidden(self, name: str) -> str:
        """The value of a hidden form field of an item page."""
        match = re.search(rf'name="{name}" value="([^"]*)"', self.body)
        assert match, f"no hidden field {name!r} in the page"
        return html.unescape(match.group(1))

    def textarea(self) -> str:
        match = re.search(r'<textarea id="answer"[^>]*>\n?(.*?)</textarea>', self.body, re.S)
        assert match, "no answer textarea in the page"
        return html.unescape(match.group(1))


@dataclass
class Client:
    """A urllib-level client (``http.client``, redirects not followed) keeping one session cookie."""

    base_url: str
    token: str
    cookie: str | None = None
    extra_headers: dict[str, str] = field(default_factory=dict)

    def request(self, method: str, path: str, body: bytes | None = None,
                headers: Mapping[str, str] | None = None) -> Reply:
        parts = urlsplit(self.base_url)
        conn = http.client.HTTPConnection(parts.hostname, parts.port, timeout=20)
        sent = {**self.extra_headers, **(headers or {})}
        if self.cookie and "Cookie" not in sent:
            sent["Cookie"] = self.cookie
        try:
            conn.request(method, path, body=body, headers=sent)
            response = conn.getresponse()
            return Reply(response.status, response.headers, response.read().decode("utf-8", "replace"))
        finally:
            conn.close()

    def get(self, path: str, **kw: Any) -> Reply:
        return self.request("GET", path, **kw)

    def post(self, path: str, fields: Mapping[str, Any], headers: Mapping[str, str] | None = None) -> Reply:
        body = urlencode({k: str(v) for k, v in fields.items()}).encode()
        return self.request("POST", path, body=body,
                            headers={"Content-Type": "application/x-www-form-urlencoded", **(headers or {})})

    def login(self) -> Client:
        reply = self.get("/?" + urlencode({"token": self.token}))
        assert reply.status == 303, reply.status
        set_cookie = reply.header("Set-Cookie")
        self.cookie = set_cookie.split(";")[0]
        return self

    def form(self, n: int) -> dict[str, str]:
        """The hidden fields of item ``n``'s form (opening the page)."""
        page = self.get(f"/item/{n}")
        assert page.status == 200, page.body
        return {k: page.hidden(k) for k in ("csrf", "round", "id", "revision", "opened")}

    def answer(self, n: int, text: str, action: str = "save", **override: Any) -> Reply:
        """Open item ``n`` and submit ``text`` with ``action``."""
        fields: dict[str, Any] = {**self.form(n), "text": text, "action": action}
        fields.update(override)
        return self.post("/submit", fields)

    def state(self) -> dict[str, Any]:
        import json

        reply = self.get("/api/state")
        assert reply.status == 200, reply.body
        return dict(json.loads(reply.body))


@dataclass
class Served:
    """A running server with its desk."""

    desk: AnnotationDesk
    server: AnnotationServer
    store: RunStore

    def client(self) -> Client:
        return Client(self.server.base_url, self.server.guard.token)

    def stop(self) -> None:
        self.server.stop()


