"""A small OpenAI-compatible chat client (httpx) with retries, back-off and Retry-After.

One :class:`ChatClient` serves one batch and is shared by the worker threads. ``complete`` runs one
logical request to the end: it retries on 408/409/429/5xx, timeouts, connection errors and 200
responses that cannot be parsed, sleeping ``backoff_initial * multiplier**(attempt-1)`` (capped at
``backoff_max``, minus a random jitter fraction), or at least the server's ``Retry-After`` /
``retry-after-ms`` (capped at ``retry_after_max``). Other 4xx errors are not retried; 401/403/404
are *fatal* (the caller stops sending: every further request would fail the same way).

The API key only ever lives in the client's ``Authorization`` header; response bodies and errors
are redacted (the key replaced by ``***``) so it cannot leak through a server that echoes it.
"""

from __future__ import annotations

import email.utils
import hashlib
import json
import math
import random
import threading
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from atgen_core import PreflightContext, Problem
from atgen_core.errors import AtgenError

if TYPE_CHECKING:
    from atgen_openai_annotator.config import ClientConfig

__all__ = ["ChatClient", "ChatOutcome", "ChatRequest", "ChatResponse", "MissingAPIKeyError", "api_key_problems",
           "read_api_key"]

RETRYABLE_STATUS = frozenset({408, 409, 429})
FATAL_STATUS = frozenset({401, 403, 404})
CACHE_VERSION = "atgen-openai-chat/1"


class MissingAPIKeyError(AtgenError, RuntimeError):
    """The environment variable named by ``api_key_env`` is not set."""


def api_key_problems(env_name: str | None, ctx: PreflightContext) -> list[Problem]:
    """The problem of an unset key variable, found before a run starts (the value is never shown)."""
    if env_name is None or ctx.environ.get(env_name, "").strip():
        return []
    return [Problem(
        ctx.field("api_key_env"), f"environment variable {env_name} is not set",
        hint=f"export the API key as {env_name}, or set api_key_env to null for an endpoint without keys",
    )]


def read_api_key(env_name: str | None, environ: Mapping[str, str] | None = None) -> str | None:
    """The API key from the environment variable ``env_name`` (``None`` when no key is configured)."""
    import os

    if env_name is None:
        return None
    source = os.environ if environ is None else environ
    value = source.get(env_name, "").strip()
    if not value:
        raise MissingAPIKeyError(
            f"environment variable {env_name} is not set: export the API key as {env_name}, or set the "
            "config field api_key_env to the name of the variable that holds it (null: no key)"
        )
    return value


@dataclass(frozen=True)
class ChatRequest:
    """One logical chat-completions request (independent of attempts, endpoint and credentials).

    ``sample`` distinguishes otherwise identical requests (one per self-consistency sample), so each
    gets its own cache entry.
    """

    messages: tuple[tuple[str, str], ...]
    n: int = 1
    sample: int = 0

    def payload(self, cfg: ClientConfig) -> dict[str, Any]:
        body: dict[str, Any] = dict(cfg.extra_params)
        body["model"] = cfg.model
        body["messages"] = [{"role": role, "content": content} for role, content in self.messages]
        body["temperature"] = cfg.temperature
        body[cfg.max_tokens_param] = cfg.max_tokens
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

    def completion_token_bound(self, max_tokens: int) -> int:
        return max_tokens * self.n


@dataclass(frozen=True)
class ChatResponse:
    """The parts of a successful response that are kept (and cached)."""

    texts: tuple[str, ...]
    finish_reasons: tuple[str | None, ...] = ()
    prompt_tokens: int | None = None
    completion_tokens: int | None = None
    model: str | None = None

    def to_json(self) -> str:
        return json.dumps(
            {
                "texts": list(self.texts),
                "finish_reasons": list(self.finish_reasons),
                "prompt_tokens": self.prompt_tokens,
                "completion_tokens": self.completion_tokens,
                "model": self.model,
            },
            ensure_ascii=False,
        )

    @classmethod
    def from_json(cls, text: str) -> ChatResponse | None:
        """Parse a cached entry (``None`` when it is not one of ours)."""
        try:
            data = json.loads(text)
            texts = tuple(str(t) for t in data["texts"])
            return cls(
                texts=texts,
                finish_reasons=tuple(data.get("finish_reasons") or ()),
                prompt_tokens=_opt_int(data.get("prompt_tokens")),
                completion_tokens=_opt_int(data.get("completion_tokens")),
                model=data.get("model"),
            )
        except (ValueError, KeyError, TypeError):
            return None


def _opt_int(value: Any) -> int | None:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or value < 0:
        return None
    return int(value)


class MalformedResponse(ValueError):
    """A 200 response whose body is not a chat completion."""


def parse_response(text: str) -> ChatResponse:
    """Parse a chat-completions body; raises MalformedResponse when it is not one."""
    try:
        data = json.loads(text)
    except ValueError as exc:
        raise MalformedResponse(f"malformed JSON in response: {exc}") from None
    if not isinstance(data, dict):
        raise MalformedResponse("response is not a JSON object")
    choices = data.get("choices")
    if not isinstance(choices, list) or not choices:
        err = data.get("error")
        detail = f": {err.get('message')}" if isinstance(err, dict) else ""
        raise MalformedResponse(f"response has no choices{detail}")
    texts: list[str] = []
    reasons: list[str | None] = []
    for choice in sorted(
        (c for c in choices if isinstance(c, dict)),
        key=lambda c: c.get("index", 0) if isinstance(c.get("index", 0), int) else 0,
    ):
        message = choice.get("message")
        if not isinstance(message, dict):
            raise MalformedResponse("a choice has no message object")
        content = message.get("content")
        if isinstance(content, list):  # content parts
            content = "".join(str(p.get("text", "")) for p in content if isinstance(p, dict))
        texts.append(content if isinstance(content, str) else "")
        reason = choice.get("finish_reason")
        reasons.append(reason if isinstance(reason, str) else None)
    if not texts:
        raise MalformedResponse("response has no usable choices")
    raw_usage = data.get("usage")
    usage: dict[str, Any] = raw_usage if isinstance(raw_usage, dict) else {}
    model = data.get("model")
    return ChatResponse(
        texts=tuple(texts),
        finish_reasons=tuple(reasons),
        prompt_tokens=_opt_int(usage.get("prompt_tokens")),
        completion_tokens=_opt_int(usage.get("completion_tokens")),
        model=model if isinstance(model, str) else None,
    )


@dataclass
class ChatOutcome:
    """The end of one logical request: a response or an error, with what it took.

    ``attempts`` counts HTTP requests sent; ``unparsed_ok`` counts 200 responses that could not be
    parsed (they may have been billed, so callers charge their upper bound); ``cached`` means no
    request was sent at all.
    """

    request: ChatRequest
    response: ChatResponse | None = None
    error: str | None = None
    status: int | None = None
    fatal: bool = False
    attempts: int = 0
    unparsed_ok: int = 0
    latency: float = 0.0
    seconds: float = 0.0
    cached: bool = False
    cost: float = 0.0
    cost_estimated: bool = False
    history: list[str] = field(default_factory=list)


def parse_retry_after(headers: Mapping[str, str], now: float | None = None) -> float | None:
    """Seconds to wait from ``retry-after-ms`` or ``Retry-After`` (seconds or an HTTP date)."""
    ms = headers.get("retry-after-ms")
    if ms is not None:
        try:
            return max(0.0, float(ms) / 1000.0)
        except ValueError:
            pass
    value = headers.get("retry-after")
    if value is None:
        return None
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError, IndexError):
        return None
    if when is None:
        return None
    return max(0.0, when.timestamp() - (time.time() if now is None else now))


class ChatClient:
    """Sends :class:`ChatRequest` s to ``<base_url>/chat/completions`` with the configured retry policy."""

    def __init__(self, cfg: ClientConfig, api_key: str | None, rng: random.Random | None = None) -> None:
        import httpx

        self.cfg = cfg
        self._secret = api_key
        headers = {"Content-Type": "application/json", "Accept": "application/json"}
        if api_key:
            headers["Authorization"] = f"Bearer {api_key}"
        self._http = httpx.Client(
            headers=headers,
            timeout=httpx.Timeout(cfg.timeout),
            limits=httpx.Limits(max_connections=cfg.concurrency, max_keepalive_connections=cfg.concurrency),
            follow_redirects=False,
        )
        self._url = cfg.base_url.rstrip("/") + "/chat/completions"
        self._rng = rng or random.Random()
        self._rng_lock = threading.Lock()

    def close(self) -> None:
        self._http.close()

    def redact(self, text: str) -> str:
        """``text`` with the API key replaced by ``***``."""
        if self._secret:
            text = text.replace(self._secret, "***")
        return text

    def backoff(self, attempt: int, retry_after: float | None) -> float:
        """Seconds to wait after failed ``attempt`` (1-based)."""
        cfg = self.cfg
        delay = min(cfg.backoff_max, cfg.backoff_initial * cfg.backoff_multiplier ** (attempt - 1))
        with self._rng_lock:
            delay *= 1.0 - cfg.backoff_jitter * self._rng.random()
        if retry_after is not None:
            delay = max(delay, min(retry_after, cfg.retry_after_max))
        return delay

    def complete(self, request: ChatRequest, cancel: threading.Event | None = None) -> ChatOutcome:
        """Run ``request`` to success or final failure (never raises for HTTP or transport problems)."""
        import httpx

        cancel = cancel or threading.Event()
        out = ChatOutcome(request=request)
        body = request.payload(self.cfg)
        started = time.monotonic()
        for attempt in range(1, self.cfg.max_attempts + 1):
            if cancel.is_set():
                out.error = out.error or "cancelled before sending"
                break
            retry_after: float | None = None
            retryable = True
            t0 = time.monotonic()
            out.attempts = attempt
            try:
                resp = self._http.post(self._url, json=body)
            except httpx.TimeoutException:
                error = f"timeout after {self.cfg.timeout:g}s"
                out.status = None
            except httpx.TransportError as exc:
                error = f"connection error: {type(exc).__name__}: {exc}"
                out.status = None
            else:
                out.status = resp.status_code
                if resp.status_code == 200:
                    try:
                        out.response = parse_response(self.redact(resp.text))
                    except MalformedResponse as exc:
                        out.unparsed_ok += 1
                        error = str(exc)
                    else:
                        out.error = None
                        out.latency += time.monotonic() - t0
                        break
                else:
                    error = f"HTTP {resp.status_code}: {_excerpt(resp.text)}"
                    retry_after = parse_retry_after({k.lower(): v for k, v in resp.headers.items()})
                    code = resp.status_code
                    retryable = code in RETRYABLE_STATUS or code >= 500
                    out.fatal = code in FATAL_STATUS
            out.latency += time.monotonic() - t0
            out.error = self.redact(error)
            out.history.append(out.error)
            if not retryable or attempt == self.cfg.max_attempts:
                break
            if cancel.wait(self.backoff(attempt, retry_after)):
                break
        out.seconds = time.monotonic() - started
        if out.response is None and out.error is None:
            out.error = "no response"
        return out


def _excerpt(text: str, limit: int = 300) -> str:
    try:
        data = json.loads(text)
        if isinstance(data, dict) and isinstance(data.get("error"), dict) and "message" in data["error"]:
            text = str(data["error"]["message"])
    except ValueError:
        pass
    text = " ".join(text.split())
    return text if len(text) <= limit else text[:limit] + "..."
