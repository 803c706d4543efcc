"""Chat requests through the official ``openai`` client, with every HTTP attempt observed.

``openai.OpenAI`` does the HTTP work: connection pool, ``timeout``, and retries (``max_attempts - 1``)
on 408/409/429/5xx, timeouts and connection errors, with its exponential back-off and jitter, and
the server's ``Retry-After`` / ``retry-after-ms`` when it is at most two minutes. The client is given
one thing of ours, :class:`_Observer`, an HTTP transport wrapped around its default one, which

- records each attempt (status, error text, seconds) in a per-thread log, so a result can say how
  many requests were sent, what failed, and which attempts may have been billed;
- replaces the API key by ``***`` in every response body before the client reads it;
- hands a 200 whose body is not a chat completion to the client as a 502, so it is retried too;
- refuses to send once the batch is cancelled (a 499 the client does not retry);
- removes the client's placeholder ``Authorization`` header when no key is configured.

401/403/404 are *fatal*: the caller stops sending (every further request would fail the same way).
"""

from __future__ import annotations

import hashlib
import json
import math
import os
import threading
import time
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Literal, cast

from pydantic import BaseModel, ConfigDict, NonNegativeInt

from atgen_core import PreflightContext, Problem
from atgen_core.errors import AtgenError
from atgen_core.network import unreachable_host

if TYPE_CHECKING:
    import httpx2

    from atgen_openai_annotator.config import ClientConfig

__all__ = ["ChatClient", "ChatOutcome", "ChatRequest", "ChatResponse", "MissingAPIKeyError", "endpoint_problems",
           "read_api_key"]

FATAL_STATUS = frozenset({401, 403, 404})
CACHE_VERSION = "atgen-openai-chat/1"
_CANCELLED = 499
_NO_KEY = "no-key"
_BODY_HEADERS = frozenset({"content-length", "content-encoding", "transfer-encoding"})


class MissingAPIKeyError(AtgenError, RuntimeError):
    """The environment variable named by ``api_key_env`` is not set."""


def endpoint_problems(config: ClientConfig, ctx: PreflightContext) -> list[Problem]:
    """What stops every request before a run starts: an unset key variable (its value is never shown),
    a ``base_url`` whose host name does not resolve (a typo, or no network)."""
    problems = []
    env_name = config.api_key_env
    if env_name is not None and not ctx.environ.get(env_name, "").strip():
        problems.append(Problem(
            ctx.field("api_key_env"), f"environment variable {env_name} is not set",
            hint=f"export the API key as {env_name}, or set api_key_env to null for an endpoint without keys",
        ))
    unreachable = unreachable_host(config.base_url, ctx.environ)
    if unreachable is not None:
        problems.append(Problem(ctx.field("base_url"), unreachable,
                                hint="check the address for typos, and the network"))
    return problems


def read_api_key(env_name: str | None) -> str | None:
    """The API key from the environment variable ``env_name`` (``None`` when no key is configured)."""
    if env_name is None:
        return None
    value = os.environ.get(env_name, "").strip()
    if not value:
        raise MissingAPIKeyError(
            f"environment variable {env_name} is not set: export the API key as {env_name}, or set the "
            "config field api_key_env to the name of the variable that holds it (null: no key)"
        )
    return value


@dataclass(frozen=True)
class ChatRequest:
    """One logical chat-completions request; ``sample`` gives identical requests their own cache entry."""

    messages: tuple[tuple[str, str], ...]
    n: int = 1
    sample: int = 0

    def body(self, cfg: ClientConfig) -> dict[str, Any]:
        """Every request field except ``model`` and ``messages`` (sent as the client's ``extra_body``)."""
        body: dict[str, Any] = {
            **cfg.extra_params,
            "temperature": cfg.temperature,
            cfg.max_tokens_param: cfg.max_tokens,
        }
        if self.n > 1:
            body["n"] = self.n
        return body

    def cache_key(self, cfg: ClientConfig) -> str:
        """sha256 over (base_url, model, messages, decoding params, sample); never the key or attempt."""
        material = {
            "v": CACHE_VERSION,
            "base_url": cfg.base_url.rstrip("/"),
            "model": cfg.model,
            "messages": [list(m) for m in self.messages],
            "temperature": cfg.temperature,
            "max_tokens": [cfg.max_tokens_param, cfg.max_tokens],
            "extra": cfg.extra_params,
            "n": self.n,
            "sample": self.sample,
        }
        text = json.dumps(material, sort_keys=True, ensure_ascii=False, separators=(",", ":"), default=str)
        return "openai-chat:" + hashlib.sha256(text.encode("utf-8")).hexdigest()

    def prompt_token_bound(self, bytes_per_token: float) -> int:
        """A conservative prompt-token count: UTF-8 bytes / bytes_per_token, plus per-message overhead."""
        total = 16
        for role, content in self.messages:
            total += math.ceil(len(content.encode("utf-8")) / bytes_per_token) + 8 + len(role)
        return total


class ChatResponse(BaseModel):
    """The parts of a successful response that are kept (and cached, as JSON)."""

    model_config = ConfigDict(frozen=True)

    texts: tuple[str, ...]
    finish_reasons: tuple[str | None, ...] = ()
    prompt_tokens: NonNegativeInt | None = None
    completion_tokens: NonNegativeInt | None = None
    model: str | None = None

    @classmethod
    def from_completion(cls, completion: Any) -> ChatResponse:
        """From the client's ``ChatCompletion`` (content ``None`` becomes "")."""
        choices = sorted(completion.choices, key=lambda c: c.index if isinstance(c.index, int) else 0)
        usage = completion.usage
        return cls(
            texts=tuple(c.message.content if isinstance(c.message.content, str) else "" for c in choices),
            finish_reasons=tuple(c.finish_reason if isinstance(c.finish_reason, str) else None for c in choices),
            prompt_tokens=_opt_int(getattr(usage, "prompt_tokens", None)),
            completion_tokens=_opt_int(getattr(usage, "completion_tokens", None)),
            model=completion.model if isinstance(completion.model, str) else None,
        )


def _opt_int(value: Any) -> int | None:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or value < 0:
        return None
    return int(value)


@dataclass(frozen=True)
class Attempt:
    """One HTTP request sent: ``kind`` says whether it may have been billed without an answer."""

    kind: Literal["ok", "status", "malformed", "timeout", "connection"]
    error: str | None
    seconds: float


@dataclass
class ChatOutcome:
    """The end of one logical request: a response or an error, with its attempts (``cached``: none)."""

    request: ChatRequest
    response: ChatResponse | None = None
    error: str | None = None
    fatal: bool = False
    attempts: list[Attempt] = field(default_factory=list)
    cached: bool = False
    cost: float = 0.0
    cost_estimated: bool = False

    @property
    def history(self) -> list[str]:
        """The error text of every failed attempt, in order."""
        return [a.error for a in self.attempts if a.error is not None]

    @property
    def latency(self) -> float:
        """Seconds spent waiting for responses (without back-off)."""
        return sum(a.seconds for a in self.attempts)

    @property
    def uncertain(self) -> int:
        """Attempts that may have been billed without a usable answer (unparseable 200s, timeouts)."""
        return sum(a.kind in ("malformed", "timeout") for a in self.attempts)


class ChatClient:
    """``openai.OpenAI`` for one batch, shared by the worker threads (see the module docstring)."""

    def __init__(self, cfg: ClientConfig, api_key: str | None) -> None:
        import httpx2
        import openai

        self.cfg = cfg
        self._observer = _Observer(
            httpx2.HTTPTransport(limits=httpx2.Limits(max_connections=cfg.concurrency)), cfg, api_key
        )
        self._client = openai.OpenAI(
            api_key=api_key or _NO_KEY,
            base_url=cfg.base_url,
            timeout=cfg.timeout,
            max_retries=cfg.max_attempts - 1,
            # _Observer is a transport by duck typing (handle_request, close): httpx2 stays a lazy import
            http_client=openai.DefaultHttpxClient(transport=cast(Any, self._observer), follow_redirects=False),
        )

    def close(self) -> None:
        self._client.close()

    def complete(self, request: ChatRequest, cancel: threading.Event | None = None) -> ChatOutcome:
        """Run ``request`` to success or final failure (never raises for HTTP or transport problems)."""
        import openai

        out = ChatOutcome(request=request)
        self._observer.begin(out.attempts, cancel or threading.Event())
        try:
            messages: Any = [{"role": role, "content": content} for role, content in request.messages]
            completion = self._client.chat.completions.create(
                model=self.cfg.model, messages=messages, extra_body=request.body(self.cfg)
            )
            out.response = ChatResponse.from_completion(completion)
        except openai.APIError as exc:
            status = getattr(exc, "status_code", None)
            out.fatal = status in FATAL_STATUS
            last = out.history[-1] if out.history else None
            out.error = "cancelled before sending" if status == _CANCELLED and last is None else last
            out.error = out.error or self._observer.redact(str(exc))
        return out


class _Observer:
    """The transport under the ``openai`` client (see the module docstring); per-thread state."""

    def __init__(self, inner: httpx2.BaseTransport, cfg: ClientConfig, api_key: str | None) -> None:
        self._inner = inner
        self._cfg = cfg
        self._secret = api_key
        self._local = threading.local()

    def begin(self, log: list[Attempt], cancel: threading.Event) -> None:
        """Log the calling thread's next attempts into ``log``; stop sending once ``cancel`` is set."""
        self._local.log, self._local.cancel = log, cancel

    def redact(self, text: str) -> str:
        """``text`` with the API key replaced by ``***``."""
        return text.replace(self._secret, "***") if self._secret else text

    def handle_request(self, request: httpx2.Request) -> httpx2.Response:
        import httpx2

        log: list[Attempt] = self._local.log
        if self._local.cancel.is_set():
            return _error_response(httpx2, _CANCELLED, "cancelled before sending", request)
        if self._secret is None:
            request.headers.pop("authorization", None)
        started = time.monotonic()
        try:
            response = self._inner.handle_request(request)
            try:
                body = self.redact(response.read().decode("utf-8", errors="replace"))
            finally:
                response.close()
        except httpx2.TimeoutException:
            log.append(Attempt("timeout", f"timeout after {self._cfg.timeout:g}s", time.monotonic() - started))
            raise
        except httpx2.TransportError as exc:
            error = self.redact(f"connection error: {type(exc).__name__}: {exc}")
            log.append(Attempt("connection", error, time.monotonic() - started))
            raise
        seconds = time.monotonic() - started
        if response.status_code != 200:
            log.append(Attempt("status", f"HTTP {response.status_code}: {_excerpt(body)}", seconds))
        elif (problem := _not_a_completion(body)) is not None:
            log.append(Attempt("malformed", problem, seconds))
            return _error_response(httpx2, 502, problem, request)
        else:
            log.append(Attempt("ok", None, seconds))
        headers = [(k, v) for k, v in response.headers.items() if k.lower() not in _BODY_HEADERS]
        return httpx2.Response(response.status_code, headers=headers, content=body.encode(), request=request)

    def close(self) -> None:
        self._inner.close()


def _error_response(httpx2: Any, status: int, message: str, request: httpx2.Request) -> httpx2.Response:
    headers = {"x-should-retry": "false"} if status == _CANCELLED else {}
    return httpx2.Response(status, json={"error": {"message": message}}, headers=headers, request=request)


def _not_a_completion(text: str) -> str | None:
    """Why a 200 body is not a chat completion (``None`` when it is one)."""
    try:
        data = json.loads(text)
    except ValueError as exc:
        return f"malformed JSON in response: {exc}"
    if not isinstance(data, dict):
        return "response is not a JSON object"
    choices = data.get("choices")
    if not isinstance(choices, list) or not choices:
        err = data.get("error")
        return "response has no choices" + (f": {err.get('message')}" if isinstance(err, dict) else "")
    if not all(isinstance(c, dict) and isinstance(c.get("message"), dict) for c in choices):
        return "a choice has no message object"
    return None


def _excerpt(text: str, limit: int = 300) -> str:
    try:
        data = json.loads(text)
        if isinstance(data, dict) and isinstance(data.get("error"), dict) and "message" in data["error"]:
            text = str(data["error"]["message"])
    except ValueError:
        pass
    text = " ".join(text.split())
    return text if len(text) <= limit else text[:limit] + "..."
