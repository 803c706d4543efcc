"""A local, scriptable OpenAI-compatible ``/v1/chat/completions`` server for tests and benchmarks.

Standard library only (``http.server`` in a background thread), bound to 127.0.0.1 on a free port.
It can be told to answer with errors, delays, malformed JSON, 429 + ``Retry-After``, empty content
or a dropped connection, and it records every request so tests can count requests per item and
the peak number of concurrent requests::

    with OpenAIStub() as stub:
        stub.enqueue(StubReply.rate_limited(retry_after=0.05), StubReply.text("42"))
        ...  # point a client at stub.base_url
        assert stub.count() == 2

Routing: a request takes the next reply from the first non-empty queue whose ``match`` string
occurs in its messages (queues with a ``match`` are tried before the catch-all queue); when every
queue is empty it gets ``responder(request)`` if one is set, otherwise an echo of the last user
message (``"echo: <text>"``). See :mod:`atgen_openai_annotator.testing` for the pytest fixture.
"""

from __future__ import annotations

import json
import math
import socket
import threading
import time
from collections import deque
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

__all__ = ["OpenAIStub", "RecordedRequest", "StubReply"]


@dataclass(frozen=True)
class StubReply:
    """What the stub answers to one request.

    ``content``: the assistant text (a sequence gives one choice per element; a single string is
    repeated ``n`` times when the request asks for ``n`` choices; ``None`` means a null content).
    ``body`` replaces the whole response body (for malformed JSON). ``usage`` overrides the token
    counts (default: about one token per four characters); ``omit_usage`` leaves ``usage`` out.
    ``close_connection`` drops the connection without answering (a transport error).
    """

    content: str | Sequence[str] | None = "ok"
    status: int = 200
    delay: float = 0.0
    headers: Mapping[str, str] = field(default_factory=dict)
    body: str | None = None
    usage: Mapping[str, int] | None = None
    omit_usage: bool = False
    finish_reason: str = "stop"
    model: str | None = None
    close_connection: bool = False

    @classmethod
    def text(cls, content: str | Sequence[str], **kwargs: Any) -> StubReply:
        """A normal 200 reply with ``content``."""
        return cls(content=content, **kwargs)

    @classmethod
    def error(cls, status: int = 500, message: str = "internal error", **kwargs: Any) -> StubReply:
        """An OpenAI-style error body with HTTP ``status``."""
        body = json.dumps({"error": {"message": message, "type": "server_error", "code": status}})
        return cls(status=status, body=body, **kwargs)

    @classmethod
    def rate_limited(cls, retry_after: float | str | None = 1.0, **kwargs: Any) -> StubReply:
        """HTTP 429 with a ``Retry-After`` header (seconds, or any string such as an HTTP date)."""
        headers = {} if retry_after is None else {"Retry-After": str(retry_after)}
        body = json.dumps({"error": {"message": "rate limited", "type": "rate_limit_error"}})
        return cls(status=429, body=body, headers=headers, **kwargs)

    @classmethod
    def malformed(cls, body: str = '{"choices": [ this is not json', **kwargs: Any) -> StubReply:
        """HTTP 200 with a body that is not valid JSON."""
        return cls(status=200, body=body, **kwargs)

    @classmethod
    def empty(cls, **kwargs: Any) -> StubReply:
        """HTTP 200 with an empty assistant message."""
        return cls(content="", **kwargs)

    @classmethod
    def slow(cls, seconds: float, content: str | Sequence[str] = "ok", **kwargs: Any) -> StubReply:
        """A normal reply sent after ``seconds`` (use a client timeout below it to test timeouts)."""
        return cls(content=content, delay=seconds, **kwargs)

    @classmethod
    def dropped(cls, **kwargs: Any) -> StubReply:
        """Close the connection without answering."""
        return cls(close_connection=True, **kwargs)


@dataclass
class RecordedRequest:
    """One request the stub received (``body`` is ``None`` when it was not valid JSON)."""

    path: str
    headers: dict[str, str]
    raw: bytes
    body: dict[str, Any] | None
    status: int | None = None

    @property
    def messages(self) -> list[dict[str, Any]]:
        msgs = (self.body or {}).get("messages") or []
        return [m for m in msgs if isinstance(m, dict)]

    @property
    def user_text(self) -> str:
        """Content of the last user message ("" when there is none)."""
        for m in reversed(self.messages):
            if m.get("role") == "user":
                return _content_text(m.get("content"))
        return ""

    @property
    def all_text(self) -> str:
        """Every message's content joined by newlines (what ``match`` strings are searched in)."""
        return "\n".join(_content_text(m.get("content")) for m in self.messages)

    @property
    def n(self) -> int:
        value = (self.body or {}).get("n", 1)
        return value if isinstance(value, int) and value > 0 else 1


def _content_text(content: Any) -> str:
    if isinstance(content, str):
        return content
    if isinstance(content, list):
        return "".join(str(p.get("text", "")) for p in content if isinstance(p, dict))
    return ""


def _approx_tokens(text: str) -> int:
    return max(1, math.ceil(len(text) / 4))


class OpenAIStub:
    """An OpenAI-compatible chat-completions server on 127.0.0.1 (a free port), for tests.

    ``require_key``: when set, requests whose ``Authorization`` header is not ``Bearer <key>`` get 401.
    """

    def __init__(self, *, require_key: str | None = None) -> None:
        self.require_key = require_key
        self.responder: Callable[[RecordedRequest], StubReply] | None = None
        self._lock = threading.Lock()
        self._requests: list[RecordedRequest] = []
        self._queues: list[tuple[str | None, deque[StubReply]]] = []
        self._in_flight = 0
        self._max_in_flight = 0
        self._stopping = threading.Event()
        self._server: ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None

    # ---------------------------------------------------------------- lifecycle

    def start(self) -> OpenAIStub:
        """Bind a free port on 127.0.0.1 and serve in a daemon thread."""
        if self._server is not None:
            return self
        self._stopping.clear()
        server = ThreadingHTTPServer(("127.0.0.1", 0), _make_handler(self))
        server.daemon_threads = True
        self._server = server
        self._thread = threading.Thread(
            target=server.serve_forever, kwargs={"poll_interval": 0.05}, name="openai-stub", daemon=True
        )
        self._thread.start()
        return self

    def stop(self) -> None:
        """Stop serving; pending delays end at once."""
        self._stopping.set()
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
        if self._thread is not None:
            self._thread.join(timeout=5)
        self._server = None
        self._thread = None

    def __enter__(self) -> OpenAIStub:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    @property
    def port(self) -> int:
        if self._server is None:
            raise RuntimeError("OpenAIStub is not running: call start() or use it as a context manager")
        return int(self._server.server_address[1])

    @property
    def base_url(self) -> str:
        """The value for an annotator's ``base_url`` (``http://127.0.0.1:<port>/v1``)."""
        return f"http://127.0.0.1:{self.port}/v1"

    # ---------------------------------------------------------------- scripting

    def enqueue(self, *replies: StubReply, match: str | None = None) -> None:
        """Queue replies, used in order; with ``match``, only for requests whose messages contain it."""
        with self._lock:
            for m, q in self._queues:
                if m == match:
                    q.extend(replies)
                    return
            self._queues.append((match, deque(replies)))

    def reset(self) -> None:
        """Forget queued replies, the responder, the request log and the concurrency peak."""
        with self._lock:
            self._queues.clear()
            self._requests.clear()
            self._max_in_flight = 0
            self.responder = None

    # ---------------------------------------------------------------- inspection

    @property
    def requests(self) -> list[RecordedRequest]:
        """A copy of the request log, in arrival order."""
        with self._lock:
            return list(self._requests)

    def count(self, match: str | None = None) -> int:
        """Number of requests received (whose messages contain ``match``, when given)."""
        return len([r for r in self.requests if match is None or match in r.all_text])

    @property
    def max_in_flight(self) -> int:
        """The largest number of requests that were being handled at the same time."""
        with self._lock:
            return self._max_in_flight

    # ---------------------------------------------------------------- internals

    def _choose(self, request: RecordedRequest) -> StubReply:
        if self.require_key is not None:
            if request.headers.get("authorization") != f"Bearer {self.require_key}":
                return StubReply.error(401, "invalid api key")
        with self._lock:
            specific = [(m, q) for m, q in self._queues if m is not None]
            general = [(m, q) for m, q in self._queues if m is None]
            for m, q in specific + general:
                if q and (m is None or m in request.all_text):
                    return q.popleft()
        if self.responder is not None:
            return self.responder(request)
        return StubReply(content=f"echo: {request.user_text}")

    def _record(self, request: RecordedRequest) -> None:
        with self._lock:
            self._requests.append(request)
            self._in_flight += 1
            self._max_in_flight = max(self._max_in_flight, self._in_flight)

    def _done(self, request: RecordedRequest, status: int) -> None:
        with self._lock:
            self._in_flight -= 1
            request.status = status

    def _render(self, request: RecordedRequest, reply: StubReply) -> bytes:
        if reply.body is not None:
            return reply.body.encode("utf-8")
        contents: list[str | None]
        if reply.content is None or isinstance(reply.content, str):
            contents = [reply.content] * request.n
        else:
            contents = list(reply.content)
        choices = [
            {
                "index": i,
                "message": {"role": "assistant", "content": c},
                "finish_reason": reply.finish_reason,
            }
            for i, c in enumerate(contents)
        ]
        body: dict[str, Any] = {
            "id": f"chatcmpl-stub-{len(self._requests)}",
            "object": "chat.completion",
            "created": int(time.time()),
            "model": reply.model or str((request.body or {}).get("model", "stub-model")),
            "choices": choices,
        }
        if not reply.omit_usage:
            if reply.usage is not None:
                usage = dict(reply.usage)
            else:
                prompt = sum(_approx_tokens(_content_text(m.get("content"))) + 4 for m in request.messages)
                completion = sum(_approx_tokens(c or "") for c in contents)
                usage = {"prompt_tokens": prompt, "completion_tokens": completion}
            usage.setdefault("total_tokens", usage.get("prompt_tokens", 0) + usage.get("completion_tokens", 0))
            body["usage"] = usage
        return json.dumps(body).encode("utf-8")


def _make_handler(stub: OpenAIStub) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def setup(self) -> None:
            super().setup()
            # headers and body are separate writes: without this, Nagle + delayed ACK add ~40 ms per reply
            self.request.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)

        def log_message(self, format: str, *args: Any) -> None:
            del format, args

        def _send(self, status: int, payload: bytes, headers: Mapping[str, str] = {}) -> None:
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(payload)))
            for k, v in headers.items():
                self.send_header(k, v)
            self.end_headers()
            self.wfile.write(payload)
            self.wfile.flush()

        def do_GET(self) -> None:
            self._send(404, b'{"error": {"message": "not found"}}')

        def do_POST(self) -> None:
            length = int(self.headers.get("Content-Length") or 0)
            raw = self.rfile.read(length) if length else b""
            try:
                parsed = json.loads(raw.decode("utf-8"))
                body = parsed if isinstance(parsed, dict) else None
            except (ValueError, UnicodeDecodeError):
                body = None
            request = RecordedRequest(
                path=self.path,
                headers={k.lower(): v for k, v in self.headers.items()},
                raw=raw,
                body=body,
            )
            if self.path.rstrip("/") not in ("/v1/chat/completions", "/chat/completions"):
                self._send(404, b'{"error": {"message": "unknown path"}}')
                return
            stub._record(request)
            done = False
            try:
                reply = stub._choose(request)
                if reply.delay > 0:
                    stub._stopping.wait(reply.delay)
                payload = b"" if reply.close_connection else stub._render(request, reply)
                # Book-keeping first: once the client sees the reply it may send its next request,
                # which must not overlap this one in the in-flight count.
                stub._done(request, 0 if reply.close_connection else reply.status)
                done = True
                if reply.close_connection:
                    self.close_connection = True
                    return
                self._send(reply.status, payload, reply.headers)
            except (BrokenPipeError, ConnectionResetError):
                self.close_connection = True  # the client gave up (e.g. its timeout)
            finally:
                if not done:
                    stub._done(request, 0)

    return Handler
