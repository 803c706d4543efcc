"""The ``llm-judge`` metric: score parsing, rubric prompts, failures, cost and the on-disk cache."""

from __future__ import annotations

import math
from typing import Any

import pytest
from atgen_openai_annotator.judge import LLMJudge
from atgen_openai_annotator.scores import parse_score
from atgen_openai_annotator.stub_server import OpenAIStub, StubReply
from atgen_openai_annotator.testing import STUB_API_KEY
from pydantic import ValidationError

from atgen_core import MetricContext
from atgen_core.testing import MemoryCache

FAST = {"timeout": 5.0}


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("Score: 4", 0.75),
        ("The output is mostly faithful.\nScore: 4/5", 0.75),
        ("score = 5 out of 5", 1.0),
        ("**Score:** 2", 0.25),
        ("4", 0.75),
        (" 3/5 ", 0.5),
        ('{"score": 4, "reason": "minor {omission}"}', 0.75),
        ('Here you go: {"Score": "1"}', 0.0),
        ("<think>Score: 1 maybe</think>Final score: 5", 1.0),
        ("I would rate it 8/10.", 0.8),
        ("Score: 4.5", 0.875),
        ("Score: 9", None),  # outside 1..5
        ("Score: 0", None),
        ("It has 3 issues and 2 strengths", None),
        ("no number", None),
        ("", None),
    ],
)
def test_parse_score(text: str, expected: float | None) -> None:
    from atgen_openai_annotator.postprocess import strip_reasoning

    value = parse_score(strip_reasoning(text, ("think",)), 1, 5)
    if expected is None:
        assert value is None
    else:
        assert value == pytest.approx(expected)


def judge(stub: OpenAIStub, env: str, **overrides: Any) -> LLMJudge:
    cfg: dict[str, Any] = {"base_url": stub.base_url, "model": "judge-model", "api_key_env": env, **FAST}
    cfg.update(overrides)
    return LLMJudge(LLMJudge.Config.model_validate(cfg))


def ctx(n: int, cache: MemoryCache | None = None) -> MetricContext:
    extra: dict[str, Any] = {} if cache is None else {"cache": cache}
    return MetricContext(
        ids=[f"e{i}" for i in range(n)],
        predictions=[f"prediction {i}" for i in range(n)],
        references=[[f"reference {i}"] if i % 2 == 0 else [] for i in range(n)],
        sources=[f"source {i} {{braces}}" for i in range(n)],
        **extra,
    )


def test_judge_scores_normalises_and_counts_failures(openai_stub: OpenAIStub, openai_env: str) -> None:
    usage = {"prompt_tokens": 100, "completion_tokens": 10}
    openai_stub.enqueue(StubReply.text("Good.\nScore: 5", usage=usage), match="prediction 0")
    openai_stub.enqueue(StubReply.text('{"score": 2}', usage=usage), match="prediction 1")
    openai_stub.enqueue(StubReply.text("I cannot decide", usage=usage), match="prediction 2")
    openai_stub.enqueue(*[StubReply.error(500)] * 2, match="prediction 3")
    metric = judge(openai_stub, openai_env, max_attempts=2, input_price_per_1m=1.0, output_price_per_1m=2.0)
    result = metric.compute(ctx(4))
    scores = result.per_example["llm_judge"]
    assert scores[0] == 1.0 and scores[1] == 0.25
    assert math.isnan(scores[2]) and math.isnan(scores[3])
    assert result.values["llm_judge"] == pytest.approx(0.625)
    assert result.values["llm_judge_failed"] == 2.0
    assert result.values["llm_judge_cost"] == pytest.approx(3 * (100 * 1.0 + 10 * 2.0) / 1e6)
    assert set(result.values) == set(metric.keys())
    assert openai_stub.count("prediction 3") == 2


def test_rubric_prompt_content(openai_stub: OpenAIStub, openai_env: str) -> None:
    openai_stub.responder = lambda req: StubReply.text("Score: 3")
    judge(openai_stub, openai_env, rubric="fluency", score_min=1, score_max=10).compute(ctx(2))
    by_pred = {("prediction 0" in r.user_text): r for r in openai_stub.requests}
    first, second = by_pred[True], by_pred[False]
    system, user = first.messages[0]["content"], first.user_text
    assert "integer from 1 to 10" in system
    assert user.startswith("Criterion: Fluency")
    assert "SOURCE:\nsource 0 {braces}" in user and "REFERENCE:\nreference 0" in user
    assert "OUTPUT:\nprediction 0" in user
    assert "REFERENCE" not in second.user_text  # example 1 has no reference
    openai_stub.reset()
    openai_stub.responder = lambda req: StubReply.text("7")
    custom = judge(
        openai_stub,
        openai_env,
        rubric="custom",
        custom_rubric="Politeness of the reply.",
        prompt_template="[{criterion}] {prediction} vs {reference} ({score_min}-{score_max}) {{json}}",
        include_reference=False,
        score_min=0,
        score_max=10,
        key="llm_judge_polite",
    )
    result = custom.compute(ctx(1))
    assert openai_stub.requests[0].user_text == "[Politeness of the reply.] prediction 0 vs reference 0 (0-10) {json}"
    assert result.values["llm_judge_polite"] == pytest.approx(0.7)
    assert set(custom.keys()) == {"llm_judge_polite", "llm_judge_polite_failed", "llm_judge_polite_cost"}


def test_judge_cache_in_the_metric_context(openai_stub: OpenAIStub, openai_env: str) -> None:
    openai_stub.responder = lambda req: StubReply.text("Score: 4", usage={"prompt_tokens": 50, "completion_tokens": 5})
    cache = MemoryCache()
    metric = judge(openai_stub, openai_env)
    first = metric.compute(ctx(3, cache=cache))
    assert openai_stub.count() == 3 and first.values["llm_judge_cost"] > 0
    assert len(cache.data) == 3
    second = judge(openai_stub, openai_env).compute(ctx(3, cache=cache))
    assert openai_stub.count() == 3  # served from the cache
    assert second.values["llm_judge"] == first.values["llm_judge"] == pytest.approx(0.75)
    assert second.values["llm_judge_cost"] == 0.0
    assert STUB_API_KEY not in repr(cache.data)
    judge(openai_stub, openai_env).compute(ctx(3))  # no cache outside a run
    assert openai_stub.count() == 6
    judge(openai_stub, openai_env, cache=False).compute(ctx(3, cache=cache))  # cache: false ignores it
    assert openai_stub.count() == 9


def test_judge_max_cost(openai_stub: OpenAIStub, openai_env: str) -> None:
    openai_stub.responder = lambda req: StubReply.text("Score: 5", usage={"prompt_tokens": 1, "completion_tokens": 1})
    metric = judge(openai_stub, openai_env, max_cost=0.0)
    result = metric.compute(ctx(3))
    assert openai_stub.count() == 0
    assert math.isnan(result.values["llm_judge"]) and result.values["llm_judge_failed"] == 3.0


def test_judge_edge_cases(openai_stub: OpenAIStub, openai_env: str) -> None:
    empty = judge(openai_stub, openai_env).compute(ctx(0))
    assert math.isnan(empty.values["llm_judge"]) and empty.values["llm_judge_failed"] == 0
    bad = MetricContext(ids=["a"], predictions=["p"], references=[], sources=["s"])
    with pytest.raises(ValueError, match="1 predictions, 1 sources and 0 references"):
        judge(openai_stub, openai_env).compute(bad)
    with pytest.raises(ValidationError, match="custom_rubric"):
        LLMJudge.Config.model_validate({"rubric": "custom"})
    with pytest.raises(ValidationError, match="score_min must be smaller"):
        LLMJudge.Config.model_validate({"score_min": 5, "score_max": 5})
