"""Retries, back-off, Retry-After, timeouts and errors, against the stub server."""

from __future__ import annotations

import time
from collections.abc import Callable

from atgen_openai_annotator.annotator import OpenAIAnnotator
from atgen_openai_annotator.stub_server import OpenAIStub, StubReply

from atgen_core import AnnotationContext, AnnotationItem, AnnotationResult

Build = Callable[..., OpenAIAnnotator]
Items = Callable[..., list[AnnotationItem]]


def run(annotator: OpenAIAnnotator, items: list[AnnotationItem]) -> dict[str, AnnotationResult]:
    results = list(annotator.annotate(items, AnnotationContext()))
    assert sorted(r.id for r in results) == sorted(i.id for i in items)
    return {r.id: r for r in results}


def test_429_with_retry_after_then_success(openai_stub: OpenAIStub, make_annotator: Build, items: Items) -> None:
    openai_stub.enqueue(StubReply.rate_limited(retry_after=1.2), StubReply.text("42"))
    start = time.monotonic()
    res = run(make_annotator(), items(1))["q0"]
    assert time.monotonic() - start >= 1.2  # the Retry-After was honoured (the client's first back-off is <= 0.5 s)
    assert res.status == "ok" and res.text == "42"
    assert res.meta["attempts"] == 2
    assert res.meta["errors"] == ["HTTP 429: rate limited"]
    assert openai_stub.count() == 2


def test_500s_exhaust_retries_and_fail(openai_stub: OpenAIStub, make_annotator: Build, items: Items) -> None:
    openai_stub.enqueue(*[StubReply.error(500, "boom")] * 3, match="q0")
    res = run(make_annotator(max_attempts=3), items(2))
    assert res["q0"].status == "failed"
    assert res["q0"].error == "HTTP 500: boom"
    assert res["q0"].text == "" and res["q0"].cost == 0.0
    assert res["q0"].meta["attempts"] == 3
    assert openai_stub.count("q0") == 3
    assert res["q1"].status == "ok" and res["q1"].text == "echo: Question q1?"


def test_malformed_json_is_retried_then_charged_conservatively(
    openai_stub: OpenAIStub, make_annotator: Build, items: Items
) -> None:
    usage = {"prompt_tokens": 10, "completion_tokens": 2}
    openai_stub.enqueue(StubReply.malformed(), StubReply.text("fine", usage=usage))
    ann = make_annotator(input_price_per_1m=1.0, output_price_per_1m=1.0)
    item = items(1)
    res = run(ann, item)["q0"]
    assert res.status == "ok" and res.text == "fine"
    assert res.meta["attempts"] == 2
    assert res.meta["errors"][0].startswith("malformed JSON in response")
    # the unparseable 200 may have been billed: it is charged at the upper bound
    assert res.meta["cost_estimated"] is True
    assert res.cost > 12 / 1e6
    assert res.cost <= ann.max_cost(item[0]) + 12 / 1e6 + 1e-12


def test_malformed_json_every_time_fails(openai_stub: OpenAIStub, make_annotator: Build, items: Items) -> None:
    openai_stub.enqueue(*[StubReply.malformed('{"choices": []}')] * 2)
    res = run(make_annotator(max_attempts=2), items(1))["q0"]
    assert res.status == "failed"
    assert res.error == "response has no choices"
    assert openai_stub.count() == 2


def test_timeout_is_retried(openai_stub: OpenAIStub, make_annotator: Build, items: Items) -> None:
    openai_stub.enqueue(StubReply.slow(2.0, "late"), StubReply.text("on time"))
    start = time.monotonic()
    res = run(make_annotator(timeout=0.3, max_attempts=2), items(1))["q0"]
    assert time.monotonic() - start < 1.5
    assert res.status == "ok" and res.text == "on time"
    assert res.meta["errors"] == ["timeout after 0.3s"]
    assert res.meta["cost_estimated"] is True  # a timed-out request may still be billed


def test_timeouts_exhaust(openai_stub: OpenAIStub, make_annotator: Build, items: Items) -> None:
    openai_stub.responder = lambda req: StubReply.slow(2.0, "late")
    res = run(make_annotator(timeout=0.2, max_attempts=2), items(1))["q0"]
    assert res.status == "failed" and res.error == "timeout after 0.2s"
    assert openai_stub.count() == 2


def test_dropped_connection_is_retried(openai_stub: OpenAIStub, make_annotator: Build, items: Items) -> None:
    openai_stub.enqueue(StubReply.dropped(), StubReply.text("back"))
    res = run(make_annotator(), items(1))["q0"]
    assert res.status == "ok" and res.text == "back"
    assert res.meta["errors"][0].startswith("connection error")


def test_400_is_not_retried(openai_stub: OpenAIStub, make_annotator: Build, items: Items) -> None:
    openai_stub.enqueue(StubReply.error(400, "context length exceeded"), match="q0")
    res = run(make_annotator(), items(2))
    assert res["q0"].status == "failed" and res["q0"].error == "HTTP 400: context length exceeded"
    assert openai_stub.count("q0") == 1
    assert res["q1"].status == "ok"


def test_401_stops_sending(openai_stub: OpenAIStub, make_annotator: Build, items: Items) -> None:
    openai_stub.responder = lambda req: StubReply.error(401, "bad key")
    res = run(make_annotator(concurrency=1), items(5))
    assert openai_stub.count() == 1
    assert [res[f"q{i}"].status for i in range(5)] == ["failed"] * 5
    assert res["q0"].error == "HTTP 401: bad key"
    assert "not sent" in (res["q4"].error or "")
