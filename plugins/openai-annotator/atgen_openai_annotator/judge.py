"""The ``llm-judge`` metric: an LLM scores each prediction on a rubric; the mean is normalised to 0-1."""

from __future__ import annotations

import math
import time
from collections.abc import Mapping
from typing import ClassVar

from atgen_core import Metric, MetricContext, MetricKey, MetricResult, PreflightContext, Problem
from atgen_core.templates import PromptTemplate
from atgen_openai_annotator.client import ChatRequest, endpoint_problems, read_api_key
from atgen_openai_annotator.config import JudgeConfig
from atgen_openai_annotator.postprocess import strip_reasoning
from atgen_openai_annotator.runner import RequestRunner
from atgen_openai_annotator.scores import parse_score

__all__ = ["RUBRICS", "LLMJudge"]

RUBRICS: dict[str, str] = {
    "faithfulness": (
        "Faithfulness: is every statement of the OUTPUT supported by the SOURCE? The highest score means "
        "fully supported with nothing invented or contradicted; the lowest means mostly unsupported or "
        "contradicting the source."
    ),
    "relevance": (
        "Relevance: does the OUTPUT do what the SOURCE asks and cover its important information (the "
        "REFERENCE, when shown, is one good answer)? The highest score means complete and on point; the "
        "lowest means off-topic or missing the essentials."
    ),
    "fluency": (
        "Fluency: is the OUTPUT well-formed, grammatical, natural text? Judge the language only, not the "
        "content. The highest score means flawless; the lowest means hard to read."
    ),
}

DEFAULT_SYSTEM = (
    "You are a strict, consistent evaluator of generated text. Apply the criterion exactly and end your "
    "reply with one line 'Score: N', where N is an integer from {score_min} to {score_max}."
)

DEFAULT_TEMPLATE = (
    "Criterion: {criterion}\n\n"
    "SOURCE:\n{source}\n\n"
    "{reference_block}"
    "OUTPUT:\n{prediction}\n\n"
    "Rate the OUTPUT from {score_min} (worst) to {score_max} (best). Reply with 'Score: N'."
)


class LLMJudge(Metric[JudgeConfig]):
    """LLM-as-a-judge on a rubric (faithfulness, relevance, fluency or custom), normalised to 0-1.

    Reports ``<key>`` (mean normalised score over the examples that could be scored), ``<key>_failed``
    (examples without a score: request failed, reply unparseable, or over ``max_cost``; their
    per-example value is NaN) and ``<key>_cost``. Responses are cached in ``ctx.cache`` (the run store's
    cache for this metric; nothing is cached outside a run); cached judgements cost 0.
    """

    name: ClassVar[str] = "llm-judge"
    Config = JudgeConfig

    def preflight(self, ctx: PreflightContext) -> list[Problem]:
        """The key variable set and the endpoint's host resolvable, before the run starts."""
        return endpoint_problems(self.config, ctx)

    def keys(self) -> Mapping[str, MetricKey]:
        key = self.config.key
        return {
            key: MetricKey(0.0, 1.0, True),
            f"{key}_failed": MetricKey(0.0, math.inf, False),
            f"{key}_cost": MetricKey(0.0, math.inf, False),
        }

    def build_messages(self, source: str, prediction: str, reference: str | None) -> list[tuple[str, str]]:
        """The chat messages of one judgement."""
        cfg = self.config
        criterion = cfg.custom_rubric if cfg.rubric == "custom" else RUBRICS[cfg.rubric]
        values = {
            "criterion": (criterion or "").strip(),
            "source": source,
            "prediction": prediction,
            "reference": reference or "",
            "score_min": cfg.score_min,
            "score_max": cfg.score_max,
        }
        show_reference = cfg.include_reference and bool(reference)
        values["reference_block"] = f"REFERENCE:\n{reference}\n\n" if show_reference else ""
        system = PromptTemplate(cfg.system_prompt or DEFAULT_SYSTEM, where="system_prompt").render(values)
        user = PromptTemplate(cfg.prompt_template or DEFAULT_TEMPLATE, where="prompt_template").render(values)
        return [("system", system), ("user", user)]

    def compute(self, ctx: MetricContext) -> MetricResult:
        """Judge every prediction (concurrently, with retries and caching)."""
        cfg = self.config
        start = time.monotonic()
        n = len(ctx.predictions)
        if not (len(ctx.sources) == len(ctx.references) == n):
            raise ValueError(
                f"llm-judge: {n} predictions, {len(ctx.sources)} sources and {len(ctx.references)} references"
            )
        key = cfg.key
        if n == 0:
            return MetricResult({key: math.nan, f"{key}_failed": 0.0, f"{key}_cost": 0.0}, {key: []})
        api_key = read_api_key(cfg.api_key_env)
        groups = [
            [ChatRequest(tuple(self.build_messages(src, pred, refs[0] if refs else None)))]
            for src, pred, refs in zip(ctx.sources, ctx.predictions, ctx.references)
        ]
        scores = [math.nan] * n
        runner = RequestRunner(cfg, api_key=api_key, cache=ctx.cache, money=cfg.max_cost)
        tags = cfg.reasoning_tags if cfg.strip_reasoning else ()
        for group in runner.run(groups):
            outcome = group.outcomes[0] if group.outcomes else None
            if group.status != "done" or outcome is None or outcome.response is None:
                continue
            value = parse_score(strip_reasoning(outcome.response.texts[0], tags), cfg.score_min, cfg.score_max)
            if value is not None:
                scores[group.index] = value
        ok = [s for s in scores if not math.isnan(s)]
        values = {
            key: sum(ok) / len(ok) if ok else math.nan,
            f"{key}_failed": float(n - len(ok)),
            f"{key}_cost": runner.spent,
        }
        return MetricResult(values, {key: scores}, seconds=time.monotonic() - start)
