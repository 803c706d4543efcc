"""The ``openai`` annotator against the stub: prompts, post-processing, cost, budget, cache, concurrency, secrets."""

from __future__ import annotations

import json
import math
import threading
from collections.abc import Callable
from typing import Any

import pytest
from atgen_openai_annotator.annotator import OpenAIAnnotator
from atgen_openai_annotator.client import MissingAPIKeyError
from atgen_openai_annotator.stub_server import OpenAIStub, StubReply
from atgen_openai_annotator.testing import STUB_API_KEY
from pydantic import ValidationError

from atgen_core import AnnotationContext, AnnotationItem, AnnotationResult, Budget, Example, LabelledView
from atgen_core.templates import TemplateError
from atgen_core.testing import MemoryCache

Build = Callable[..., OpenAIAnnotator]
Items = Callable[..., list[AnnotationItem]]


def run(annotator: OpenAIAnnotator, items: list[AnnotationItem], **ctx: Any) -> dict[str, AnnotationResult]:
    results = list(annotator.annotate(items, AnnotationContext(**ctx)))
    assert sorted(r.id for r in results) == sorted(i.id for i in items)
    return {r.id: r for r in results}


# ---------------------------------------------------------------------------------------------- prompts


def test_template_fields_and_literal_braces(openai_stub: OpenAIStub, make_annotator: Build) -> None:
    ex = Example(
        id="e1",
        input="f(x) = {x}; {{not a field}}",
        prompt="P",
        target="GOLD",
        fields={"topic": "sets {a, b}", "target": "GOLD"},
    )
    ann = make_annotator(
        prompt_template="In: {input} | topic={topic} | {{literal}} | {{ spaced }} | id={id}",
        system_prompt="Be brief {not a field}.",
    )
    res = run(ann, [AnnotationItem(ex)])["e1"]
    assert res.status == "ok"
    msgs = openai_stub.requests[0].messages
    assert msgs[0] == {"role": "system", "content": "Be brief {not a field}."}
    assert msgs[1]["content"] == (
        "In: f(x) = {x}; {{not a field}} | topic=sets {a, b} | {literal} | { spaced } | id=e1"
    )
    assert "GOLD" not in openai_stub.requests[0].raw.decode()


def test_unknown_template_field_fails_before_any_request(openai_stub: OpenAIStub, make_annotator: Build) -> None:
    ann = make_annotator(prompt_template="{question}")
    with pytest.raises(TemplateError, match=r"\{question\}.*available: draft, id, input, prompt"):
        list(ann.annotate([AnnotationItem(Example("a", "x", "y"))], AnnotationContext()))
    assert openai_stub.count() == 0
    with pytest.raises(ValidationError, match="prompt_template: unmatched '\\{'"):
        make_annotator(prompt_template="Reply as {input} {json")  # a lone brace is caught with the config


def test_few_shot_is_deterministic_and_capped(openai_stub: OpenAIStub, make_annotator: Build, items: Items) -> None:
    labelled = LabelledView(
        examples=tuple(Example(f"l{i}", f"in{i}", f"Solve {i}" + "!" * 50) for i in range(6)),
        labels=("A0", "A1", "", "A3", "A4", "A5"),
    )
    ann = make_annotator(few_shot=3, few_shot_max_bytes=20, system_prompt="sys")
    run(ann, items(2), labelled=labelled)
    first, second = (r.messages for r in openai_stub.requests)
    shots = [(m["role"], m["content"]) for m in first[1:-1]]
    assert [(m["role"], m["content"]) for m in second[1:-1]] == shots  # same shots for every item
    assert len(shots) == 6 and [r for r, _ in shots] == ["user", "assistant"] * 3
    assert all(len(c.encode()) <= 20 for _, c in shots)
    assert ("assistant", "") not in shots  # the example with an empty label is never a shot
    # the choice does not depend on the labelled set's order
    reordered = LabelledView(examples=labelled.examples[::-1], labels=labelled.labels[::-1])
    openai_stub.reset()
    run(make_annotator(few_shot=3, few_shot_max_bytes=20, system_prompt="sys"), items(1), labelled=reordered)
    assert [(m["role"], m["content"]) for m in openai_stub.requests[0].messages[1:-1]] == shots


# ---------------------------------------------------------------------------------------------- post-processing


def test_empty_reply_fails(openai_stub: OpenAIStub, make_annotator: Build, items: Items) -> None:
    openai_stub.enqueue(StubReply.empty(), match="q0")
    openai_stub.enqueue(StubReply.text("   \n\t "), match="q1")
    openai_stub.enqueue(StubReply(content=None), match="q2")
    res = run(make_annotator(), items(3))
    for i in range(3):
        assert res[f"q{i}"].status == "failed"
        assert res[f"q{i}"].text == ""
        assert "empty" in (res[f"q{i}"].error or "")
    assert res["q0"].cost > 0  # the empty reply was still paid for


def test_reasoning_is_stripped(openai_stub: OpenAIStub, make_annotator: Build, items: Items) -> None:
    openai_stub.enqueue(StubReply.text("<think>\nlet me see {x}\n</think>\n\nParis"), match="q0")
    openai_stub.enqueue(StubReply.text("no opening tag, thinking...</think> Rome"), match="q1")
    openai_stub.enqueue(StubReply.text("<think>cut off by max_tokens and never"), match="q2")
    openai_stub.enqueue(StubReply.text("<reasoning>r</reasoning>A<THINKING>t</THINKING>B"), match="q3")
    res = run(make_annotator(), items(4))
    assert res["q0"].text == "Paris"
    assert res["q1"].text == "Rome"
    assert res["q2"].status == "failed" and res["q2"].error == "empty reply after removing reasoning blocks"
    assert res["q3"].text == "AB"
    openai_stub.reset()
    openai_stub.enqueue(StubReply.text("<think>x</think>Y"))
    assert run(make_annotator(strip_reasoning=False), items(1))["q0"].text == "<think>x</think>Y"


def test_final_answer_extraction(openai_stub: OpenAIStub, make_annotator: Build, items: Items) -> None:
    openai_stub.enqueue(StubReply.text("3 + 4 = 7\n#### 7\nso also #### 42 \n"), match="q0")
    openai_stub.enqueue(StubReply.text("I do not know"), match="q1")
    openai_stub.enqueue(StubReply.text("<think>#### 1</think>#### 2"), match="q2")
    res = run(make_annotator(answer_regex=r"####\s*(.+)"), items(3))
    assert res["q0"].status == "ok" and res["q0"].text == "42"
    assert res["q1"].status == "failed" and "did not match" in (res["q1"].error or "")
    assert res["q1"].meta["raw"] == "I do not know"
    assert res["q2"].text == "2"
    openai_stub.reset()
    openai_stub.enqueue(StubReply.text("Answer: B (because)"))
    ann = make_annotator(answer_regex=r"Answer:\s*(?P<answer>[A-D])")
    assert run(ann, items(1))["q0"].text == "B"


def test_fail_truncated(openai_stub: OpenAIStub, make_annotator: Build, items: Items) -> None:
    openai_stub.enqueue(StubReply.text("half a sent", finish_reason="length"))
    res = run(make_annotator(fail_truncated=True, max_tokens=3), items(1))["q0"]
    assert res.status == "failed" and res.error == "reply truncated at max_tokens=3"
    openai_stub.enqueue(StubReply.text("half a sent", finish_reason="length"))
    res = run(make_annotator(max_tokens=3), items(1))["q0"]
    assert res.status == "ok" and res.meta["finish_reason"] == "length"


# ---------------------------------------------------------------------------------------------- cost


def test_cost_from_usage_and_prices(openai_stub: OpenAIStub, make_annotator: Build, items: Items) -> None:
    openai_stub.enqueue(StubReply.text("label", usage={"prompt_tokens": 1200, "completion_tokens": 300}))
    ann = make_annotator(input_price_per_1m=2.0, output_price_per_1m=8.0)
    res = run(ann, items(1))["q0"]
    assert res.cost == pytest.approx(1200 * 2.0 / 1e6 + 300 * 8.0 / 1e6)
    assert res.meta["tokens_in"] == 1200 and res.meta["tokens_out"] == 300
    assert res.meta["model"] == "stub-model"
    assert res.meta["attempts"] == 1 and res.meta["latency"] > 0
    assert "cost_estimated" not in res.meta


def test_missing_usage_is_charged_at_the_bound(openai_stub: OpenAIStub, make_annotator: Build, items: Items) -> None:
    openai_stub.enqueue(StubReply.text("label", omit_usage=True))
    ann = make_annotator()
    it = items(1)
    res = run(ann, it)["q0"]
    assert res.meta["cost_estimated"] is True
    assert res.cost == pytest.approx(ann.max_cost(it[0]))


def test_max_cost_bounds_the_real_cost(openai_stub: OpenAIStub, make_annotator: Build) -> None:
    # The stub's usage is realistic (about 4 characters per token); replies use all max_tokens.
    ann = make_annotator(max_tokens=50, system_prompt="You label data. " * 20, few_shot=2)
    texts = ["short", "ü" * 400 + " {x}", "word " * 300]
    its = [AnnotationItem(Example(f"m{i}", t, t)) for i, t in enumerate(texts)]
    labelled = LabelledView((Example("l0", "a" * 5000, "a" * 5000), Example("l1", "b", "b")), ("x" * 3000, "y"))
    openai_stub.responder = lambda req: StubReply.text("z" * 200)  # 50 tokens by the stub's count
    res = run(ann, its, labelled=labelled)
    for it in its:
        assert 0 < res[it.id].cost <= ann.max_cost(it)
    assert max(res[i.id].cost / ann.max_cost(i) for i in its) > 0.2  # a bound, but not absurdly loose


# ---------------------------------------------------------------------------------------------- budget


def test_items_beyond_the_money_budget_are_skipped_and_never_sent(
    openai_stub: OpenAIStub, make_annotator: Build, items: Items
) -> None:
    ann = make_annotator(concurrency=1, input_price_per_1m=1000.0, output_price_per_1m=1000.0, max_tokens=10)
    its = items(6)
    bound = ann.max_cost(its[0])
    money = 1.5 * bound  # room for one worst case and a half; actual replies are cheaper
    openai_stub.responder = lambda req: StubReply.text("ok", usage={"prompt_tokens": 10, "completion_tokens": 10})
    actual = 20 * 1000.0 / 1e6
    res = run(ann, its, budget=Budget(money=money))
    ok = [r for r in res.values() if r.status == "ok"]
    skipped = [r for r in res.values() if r.status == "skipped"]
    assert len(ok) + len(skipped) == 6 and skipped
    assert sum(r.cost for r in res.values()) <= money
    # every item sent still fitted in the worst case: spent_before + bound <= money
    assert len(ok) == 1 + math.floor((money - bound) / actual + 1e-9)
    assert openai_stub.count() == len(ok)
    sent = {r.user_text for r in openai_stub.requests}
    for r in skipped:
        assert f"Question {r.id}?" not in sent
        assert r.cost == 0 and "money budget" in (r.error or "")


def test_budget_accounts_for_requests_in_flight(openai_stub: OpenAIStub, make_annotator: Build, items: Items) -> None:
    ann = make_annotator(concurrency=8, input_price_per_1m=1000.0, output_price_per_1m=1000.0, max_tokens=10)
    its = items(8)
    bound = ann.max_cost(its[0])
    openai_stub.responder = lambda req: StubReply.slow(0.2, "ok", usage={"prompt_tokens": 1, "completion_tokens": 1})
    run(ann, its, budget=Budget(money=2.5 * bound))
    # only two worst cases fit at once, so never more than two requests were in flight
    assert openai_stub.max_in_flight <= 2
    assert openai_stub.count() == 8  # but actual costs are tiny, so all were sent eventually


def test_zero_budget_sends_nothing(openai_stub: OpenAIStub, make_annotator: Build, items: Items) -> None:
    res = run(make_annotator(), items(3), budget=Budget(money=0.0))
    assert {r.status for r in res.values()} == {"skipped"}
    assert openai_stub.count() == 0


# ---------------------------------------------------------------------------------------------- cache


def test_cache_hit_sends_no_request_and_costs_nothing(
    openai_stub: OpenAIStub, make_annotator: Build, items: Items
) -> None:
    cache = MemoryCache()
    openai_stub.responder = lambda req: StubReply.text(
        "A:" + req.user_text, usage={"prompt_tokens": 100, "completion_tokens": 10}
    )
    first = run(make_annotator(), items(4), cache=cache)
    assert openai_stub.count() == 4 and len(cache.data) == 4
    second = run(make_annotator(), items(4), cache=cache)
    assert openai_stub.count() == 4  # no new request
    for i in range(4):
        a, b = first[f"q{i}"], second[f"q{i}"]
        assert b.status == "ok" and b.text == a.text
        assert b.cost == 0.0 and a.cost > 0
        assert b.meta["cached"] is True and b.meta["cached_cost"] == pytest.approx(a.cost)
    # a resumed run with one new item pays only for that item; a changed parameter is a new key
    run(make_annotator(), items(5), cache=cache)
    assert openai_stub.count() == 5
    run(make_annotator(temperature=0.5), items(1), cache=cache)
    assert openai_stub.count() == 6


def test_failures_are_not_cached(openai_stub: OpenAIStub, make_annotator: Build, items: Items) -> None:
    cache = MemoryCache()
    openai_stub.enqueue(StubReply.error(400, "bad"))
    assert run(make_annotator(), items(1), cache=cache)["q0"].status == "failed"
    assert cache.data == {}
    assert run(make_annotator(), items(1), cache=cache)["q0"].status == "ok"
    assert openai_stub.count() == 2


def test_cache_is_ignored_when_disabled(openai_stub: OpenAIStub, make_annotator: Build, items: Items) -> None:
    cache = MemoryCache()
    run(make_annotator(cache=False), items(2), cache=cache)
    run(make_annotator(cache=False), items(2), cache=cache)
    assert cache.data == {} and openai_stub.count() == 4


def test_closing_early_keeps_paid_responses_in_the_cache(
    openai_stub: OpenAIStub, make_annotator: Build, items: Items
) -> None:
    cache = MemoryCache()
    openai_stub.responder = lambda req: StubReply.slow(0.1, "x")
    gen = make_annotator(concurrency=3).annotate(items(6), AnnotationContext(cache=cache))
    first = next(iter(gen))
    gen.close()  # the consumer stops (e.g. Ctrl-C); requests already sent still complete
    sent = openai_stub.count()
    assert first.status == "ok" and sent >= 3
    assert len(cache.data) == sent


# ---------------------------------------------------------------------------------------------- concurrency


def test_concurrency_limit_and_streaming(openai_stub: OpenAIStub, make_annotator: Build, items: Items) -> None:
    # No timing: the first three requests wait for each other at a barrier (so all three must be in
    # flight at once), and q0 is answered only after the consumer has received another result (so
    # results must stream out in completion order, not input order).
    first_three = threading.Barrier(3, timeout=10)
    release_q0 = threading.Event()

    def respond(req: Any) -> StubReply:
        if any(f"q{i}?" in req.user_text for i in range(3)):
            try:
                first_three.wait()
            except threading.BrokenBarrierError:
                return StubReply.error(400, "fewer than three requests were in flight at once")
            if "q0?" in req.user_text and not release_q0.wait(10):
                return StubReply.error(400, "q0 was needed before any other result was yielded")
        return StubReply.text("x")

    openai_stub.responder = respond
    order: list[str] = []
    for result in make_annotator(concurrency=3).annotate(items(9), AnnotationContext()):
        assert result.status == "ok", result.error
        order.append(result.id)
        release_q0.set()
    assert order[0] != "q0" and sorted(order) == sorted(f"q{i}" for i in range(9))
    assert openai_stub.max_in_flight == 3
    openai_stub.reset()
    list(make_annotator(concurrency=1).annotate(items(4), AnnotationContext()))
    assert openai_stub.max_in_flight == 1 and openai_stub.count() == 4


# ---------------------------------------------------------------------------------------------- secrets and config


def test_api_key_is_sent_but_never_stored(openai_stub: OpenAIStub, make_annotator: Build, items: Items) -> None:
    cache = MemoryCache()

    def echo_auth(req: Any) -> StubReply:
        if "q1" in req.user_text:
            return StubReply.error(500, f"server echoes {req.headers.get('authorization')}")
        return StubReply.text(f"reply with {req.headers.get('authorization')}")

    openai_stub.responder = echo_auth
    res = run(make_annotator(max_attempts=2), items(2), cache=cache)
    assert openai_stub.requests[0].headers["authorization"] == f"Bearer {STUB_API_KEY}"
    assert res["q1"].status == "failed"
    assert res["q1"].error == "HTTP 500: server echoes Bearer ***"
    dumped = json.dumps([[r.text, r.error, dict(r.meta)] for r in res.values()]) + json.dumps(cache.data)
    dumped += repr(make_annotator().config) + json.dumps(make_annotator().config.model_dump())
    assert STUB_API_KEY not in dumped
    assert res["q0"].text == "reply with Bearer ***"  # even a server echoing the key cannot leak it


def test_missing_env_var_names_the_variable(
    openai_stub: OpenAIStub, monkeypatch: pytest.MonkeyPatch, items: Items
) -> None:
    monkeypatch.delenv("MY_LLM_KEY", raising=False)
    ann = OpenAIAnnotator(OpenAIAnnotator.Config(base_url=openai_stub.base_url, api_key_env="MY_LLM_KEY"))
    with pytest.raises(MissingAPIKeyError, match="environment variable MY_LLM_KEY is not set"):
        list(ann.annotate(items(1), AnnotationContext()))
    assert openai_stub.count() == 0
    keyless = OpenAIAnnotator(OpenAIAnnotator.Config(base_url=openai_stub.base_url, api_key_env=None))
    assert [r.status for r in keyless.annotate(items(1), AnnotationContext())] == ["ok"]
    assert "authorization" not in openai_stub.requests[0].headers


def test_config_rejects_keys_without_echoing_them() -> None:
    secret = "sk-live-abcdef1234567890"
    with pytest.raises(ValidationError) as err:
        OpenAIAnnotator.Config.model_validate({"api_key": secret})
    assert "never put an API key in the spec" in str(err.value) and secret not in str(err.value)
    for pasted in (secret, "a3f9c2d4e5b6a7f8091a2b3c4d5e6f70"):
        with pytest.raises(ValidationError) as err:
            OpenAIAnnotator.Config.model_validate({"api_key_env": pasted})
        assert "NAME of an environment variable" in str(err.value) and pasted not in str(err.value)
    with pytest.raises(ValidationError, match="extra_params must not set model"):
        OpenAIAnnotator.Config.model_validate({"extra_params": {"model": "x"}})
    with pytest.raises(ValidationError, match="answer_regex is not a valid regular expression"):
        OpenAIAnnotator.Config.model_validate({"answer_regex": "(unclosed"})
    with pytest.raises(ValidationError, match="base_url must start with http"):
        OpenAIAnnotator.Config.model_validate({"base_url": "api.openai.com"})
    with pytest.raises(ValidationError, match="concurrency"):
        OpenAIAnnotator.Config.model_validate({"concurrency": 0})


def test_extra_params_and_max_tokens_param_are_sent(
    openai_stub: OpenAIStub, make_annotator: Build, items: Items
) -> None:
    ann = make_annotator(extra_params={"seed": 7, "top_p": 0.9}, max_tokens_param="max_completion_tokens")
    run(ann, items(1))
    body = openai_stub.requests[0].body or {}
    assert body["seed"] == 7 and body["top_p"] == 0.9
    assert body["max_completion_tokens"] == 512 and "max_tokens" not in body
    assert body["model"] == "stub-model" and "n" not in body


def test_empty_batch(openai_stub: OpenAIStub, make_annotator: Build) -> None:
    assert list(make_annotator().annotate([], AnnotationContext())) == []
    assert openai_stub.count() == 0
