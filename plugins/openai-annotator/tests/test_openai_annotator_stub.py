"""The stub server itself: routing, logging, concurrency peak, error modes."""

from __future__ import annotations

import json
import threading
import urllib.error
import urllib.request
from typing import Any

import pytest
from atgen_openai_annotator.stub_server import OpenAIStub, StubReply


def post(stub: OpenAIStub, text: str, n: int = 1, timeout: float = 5.0) -> tuple[int, dict[str, str], bytes]:
    body = json.dumps({"model": "m", "messages": [{"role": "user", "content": text}], "n": n}).encode()
    req = urllib.request.Request(
        stub.base_url + "/chat/completions", data=body, headers={"Content-Type": "application/json"}
    )
    try:
        with urllib.request.urlopen(req, timeout=timeout) as resp:
            return resp.status, dict(resp.headers), resp.read()
    except urllib.error.HTTPError as err:
        return err.code, dict(err.headers), err.read()


def content(raw: bytes) -> list[Any]:
    return [c["message"]["content"] for c in json.loads(raw)["choices"]]


def test_default_echo_and_log(openai_stub: OpenAIStub) -> None:
    status, _, raw = post(openai_stub, "hello {x}")
    assert status == 200
    assert content(raw) == ["echo: hello {x}"]
    usage = json.loads(raw)["usage"]
    assert usage["prompt_tokens"] > 0 and usage["completion_tokens"] > 0
    assert openai_stub.count() == 1
    assert openai_stub.requests[0].user_text == "hello {x}"
    assert openai_stub.requests[0].path == "/v1/chat/completions"


def test_queues_match_before_catch_all(openai_stub: OpenAIStub) -> None:
    openai_stub.enqueue(StubReply.text("general"))
    openai_stub.enqueue(StubReply.text("special"), match="item-7")
    assert content(post(openai_stub, "about item-7")[2]) == ["special"]
    assert content(post(openai_stub, "about item-7")[2]) == ["general"]
    assert content(post(openai_stub, "about item-7")[2]) == ["echo: about item-7"]
    assert openai_stub.count("item-7") == 3


def test_error_modes(openai_stub: OpenAIStub) -> None:
    openai_stub.enqueue(
        StubReply.error(503),
        StubReply.rate_limited(retry_after=3),
        StubReply.malformed(),
        StubReply.empty(),
        StubReply.text(["a", "b", "c"]),
    )
    assert post(openai_stub, "x")[0] == 503
    status, headers, _ = post(openai_stub, "x")
    assert status == 429 and headers["Retry-After"] == "3"
    status, _, raw = post(openai_stub, "x")
    assert status == 200
    with pytest.raises(ValueError):
        json.loads(raw)
    assert content(post(openai_stub, "x")[2]) == [""]
    assert content(post(openai_stub, "x", n=3)[2]) == ["a", "b", "c"]
    assert content(post(openai_stub, "x", n=2)[2]) == ["echo: x", "echo: x"]


def test_max_in_flight_counts_concurrent_requests(openai_stub: OpenAIStub) -> None:
    openai_stub.responder = lambda req: StubReply.slow(0.3, "done")
    threads = [threading.Thread(target=post, args=(openai_stub, f"t{i}")) for i in range(3)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert openai_stub.count() == 3
    assert openai_stub.max_in_flight == 3


def test_require_key_and_stop_releases_delays() -> None:
    stub = OpenAIStub(require_key="k1").start()
    try:
        assert post(stub, "x")[0] == 401
        assert stub.requests[0].status == 401
    finally:
        stub.stop()
    with pytest.raises(RuntimeError, match="not running"):
        _ = stub.base_url
