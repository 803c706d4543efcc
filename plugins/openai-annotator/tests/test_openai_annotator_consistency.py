"""Self-consistency quality control: majority vote with a threshold, both sampling modes."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from atgen_openai_annotator.annotator import OpenAIAnnotator
from atgen_openai_annotator.consistency import normalise_answer, vote
from atgen_openai_annotator.stub_server import OpenAIStub, StubReply
from pydantic import ValidationError

from atgen_core import AnnotationContext, AnnotationItem
from atgen_core.testing import MemoryCache

Build = Callable[..., OpenAIAnnotator]
Items = Callable[..., list[AnnotationItem]]


def sc(samples: int = 5, mode: str = "choices", threshold: float = 0.6) -> dict[str, object]:
    return {"samples": samples, "mode": mode, "threshold": threshold}


def test_normalise_and_vote() -> None:
    assert normalise_answer(" Paris. ") == normalise_answer("paris") == "paris"
    assert normalise_answer("42.0") == "42" and normalise_answer("1,000") == "1000"
    assert normalise_answer("Paris", case_sensitive=True) == "Paris"
    v = vote(["42", "42.0", "41", None, "42 "], total=5)
    assert v.answer == "42" and v.share == pytest.approx(0.6) and v.valid == 4
    assert v.accepted(0.6) and not v.accepted(0.61)
    tie = vote(["b", "a", "a", "b"], total=4)
    assert tie.answer == "b" and tie.share == 0.5  # ties go to the answer seen first
    assert vote([None, None], total=2).answer is None


def test_accept_majority_with_n_choices(openai_stub: OpenAIStub, make_annotator: Build, items: Items) -> None:
    usage = {"prompt_tokens": 100, "completion_tokens": 50}
    openai_stub.enqueue(StubReply.text(["#### 42", "#### 42.0", "#### 41", "#### 42", "nope"], usage=usage))
    ann = make_annotator(
        temperature=0.8,
        answer_regex=r"####\s*(.+)",
        self_consistency=sc(),
        output_price_per_1m=10.0,
        input_price_per_1m=1.0,
    )
    res = next(iter(ann.annotate(items(1), AnnotationContext())))
    assert res.status == "ok" and res.text == "42"
    assert openai_stub.count() == 1 and openai_stub.requests[0].n == 5
    info = res.meta["self_consistency"]
    assert info["share"] == pytest.approx(0.6) and info["counts"] == {"42": 3, "41": 1}
    assert info["valid"] == 4 and info["samples"] == 5
    assert res.cost == pytest.approx(100 * 1.0 / 1e6 + 50 * 10.0 / 1e6)  # usage covers all choices


def test_reject_without_clear_majority(openai_stub: OpenAIStub, make_annotator: Build, items: Items) -> None:
    openai_stub.enqueue(StubReply.text(["A", "B", "A", "C", "B"]))
    ann = make_annotator(temperature=0.8, self_consistency=sc(threshold=0.6))
    res = next(iter(ann.annotate(items(1), AnnotationContext())))
    assert res.status == "rejected" and res.text == ""
    assert "share 0.40 < threshold 0.60" in res.meta["rejected_reason"]
    assert res.error == res.meta["rejected_reason"]
    assert res.cost > 0  # rejected samples were paid for


def test_requests_mode_sends_one_request_per_sample(
    openai_stub: OpenAIStub, make_annotator: Build, items: Items
) -> None:
    usage = {"prompt_tokens": 10, "completion_tokens": 5}
    openai_stub.enqueue(*[StubReply.text(t, usage=usage) for t in ("yes", "Yes", "no", "yes.")])
    ann = make_annotator(
        temperature=1.0,
        self_consistency=sc(samples=4, mode="requests", threshold=0.75),
        input_price_per_1m=1.0,
        output_price_per_1m=1.0,
        concurrency=1,
    )
    cache = MemoryCache()
    res = next(iter(ann.annotate(items(1), AnnotationContext(cache=cache))))
    assert res.status == "ok" and res.text == "yes"
    assert openai_stub.count() == 4 and all(r.n == 1 for r in openai_stub.requests)
    assert res.cost == pytest.approx(4 * 15 / 1e6)  # every sample is counted
    assert res.meta["tokens_in"] == 40 and res.meta["attempts"] == 4
    assert len(cache.data) == 4  # identical requests still get one cache entry per sample
    again = next(iter(ann.annotate(items(1), AnnotationContext(cache=cache))))
    assert again.text == "yes" and again.cost == 0 and openai_stub.count() == 4


def test_all_samples_failing_is_failed_not_rejected(
    openai_stub: OpenAIStub, make_annotator: Build, items: Items
) -> None:
    openai_stub.enqueue(StubReply.text(["", " ", "<think>x</think>"]))
    ann = make_annotator(temperature=0.7, self_consistency=sc(samples=3))
    res = next(iter(ann.annotate(items(1), AnnotationContext())))
    assert res.status == "failed" and "no sample gave a usable answer" in (res.error or "")


def test_max_cost_counts_every_sample(make_annotator: Build, items: Items) -> None:
    it = items(1)[0]
    single = make_annotator(temperature=0.7).max_cost(it)
    choices = make_annotator(temperature=0.7, self_consistency=sc(samples=4)).max_cost(it)
    requests = make_annotator(temperature=0.7, self_consistency=sc(samples=4, mode="requests")).max_cost(it)
    assert requests == pytest.approx(4 * single)
    assert single < choices < requests  # n choices: the prompt is paid once


def test_self_consistency_needs_temperature() -> None:
    with pytest.raises(ValidationError, match="temperature > 0"):
        OpenAIAnnotator.Config.model_validate({"self_consistency": {"samples": 3}})
