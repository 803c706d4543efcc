"""The ``openai`` annotator: label items with any OpenAI-compatible chat endpoint."""

from __future__ import annotations

import re
from collections.abc import Generator, Sequence
from typing import Any, ClassVar

from atgen_core import (
    AnnotationContext,
    AnnotationItem,
    AnnotationResult,
    Annotator,
    LabelledView,
    PreflightContext,
    Problem,
)
from atgen_core.templates import PromptTemplate
from atgen_openai_annotator.client import ChatOutcome, ChatRequest, endpoint_problems, read_api_key
from atgen_openai_annotator.config import AnnotatorConfig
from atgen_openai_annotator.consistency import vote
from atgen_openai_annotator.postprocess import Processed, postprocess
from atgen_openai_annotator.prompts import choose_few_shot, cut_bytes, item_fields
from atgen_openai_annotator.runner import GroupResult, RequestRunner

__all__ = ["OpenAIAnnotator"]

_RAW_LIMIT = 2000


class OpenAIAnnotator(Annotator[AnnotatorConfig]):
    """Label items with an OpenAI-compatible chat API (retries, caching, cost budget, self-consistency).

    Prompts come from ``prompt_template`` (optional system prompt and few-shot turns drawn from the
    labelled set); replies are post-processed (reasoning stripped, answer extracted, trimmed) and an
    empty result is a failure. Every successful response is cached in ``ctx.cache``: a cache hit
    sends no request and costs 0 (``meta.cached_cost`` keeps the original price). Items that would
    take the spend past ``ctx.budget.money`` are skipped, never sent.
    """

    name: ClassVar[str] = "openai"
    Config = AnnotatorConfig

    def __init__(self, config: AnnotatorConfig | None = None) -> None:
        super().__init__(config)
        regex = self.config.answer_regex
        self._answer_regex = re.compile(regex) if regex is not None else None
        self._template = PromptTemplate(self.config.prompt_template, where="prompt_template")

    # ------------------------------------------------------------------ prompts

    def build_messages(self, item: AnnotationItem, labelled: LabelledView | None = None) -> list[tuple[str, str]]:
        """The chat messages sent for ``item`` (system, few-shot turns, then the item's user message)."""
        cfg = self.config
        messages: list[tuple[str, str]] = []
        if cfg.system_prompt:
            messages.append(("system", cfg.system_prompt))
        labelled = labelled if labelled is not None else LabelledView()
        for pos, label in choose_few_shot(labelled, cfg.few_shot, cfg.few_shot_seed):
            shot = AnnotationItem(labelled.examples[pos])
            user = self._template.render(item_fields(shot))
            messages.append(("user", cut_bytes(user, cfg.few_shot_max_bytes)))
            messages.append(("assistant", cut_bytes(label, cfg.few_shot_max_bytes)))
        messages.append(("user", self._template.render(item_fields(item))))
        return messages

    def _requests(self, messages: list[tuple[str, str]]) -> list[ChatRequest]:
        sc = self.config.self_consistency
        msgs = tuple(messages)
        if sc is None:
            return [ChatRequest(msgs)]
        if sc.mode == "choices":
            return [ChatRequest(msgs, n=sc.samples)]
        return [ChatRequest(msgs, sample=i) for i in range(sc.samples)]

    def _runner(self, api_key: str | None, ctx: AnnotationContext | None = None) -> RequestRunner:
        return RequestRunner(
            self.config,
            api_key=api_key,
            cache=ctx.cache if ctx is not None else None,
            money=ctx.budget.money if ctx is not None else None,
        )

    # ------------------------------------------------------------------ money

    def preflight(self, ctx: PreflightContext) -> list[Problem]:
        """The key variable set and the endpoint's host resolvable, before the run starts."""
        return endpoint_problems(self.config, ctx)

    def max_cost(self, item: AnnotationItem) -> float:
        """Upper bound of the cost of ``item``: prompt tokens from UTF-8 bytes (system prompt, item, and
        ``few_shot`` turns at their ``few_shot_max_bytes`` cap) plus ``max_tokens`` per sample, priced."""
        cfg = self.config
        messages = self.build_messages(item)
        filler = "x" * cfg.few_shot_max_bytes
        shots = [("user", filler), ("assistant", filler)] * cfg.few_shot
        messages = messages[:-1] + shots + messages[-1:]
        runner = self._runner(None)
        return sum(runner.bound(r) for r in self._requests(messages))

    # ------------------------------------------------------------------ annotation

    def annotate(
        self, items: Sequence[AnnotationItem], ctx: AnnotationContext
    ) -> Generator[AnnotationResult, None, None]:
        """Label ``items``, yielding each result as soon as it is known (cached ones first)."""
        if not items:
            return
        api_key = read_api_key(self.config.api_key_env)
        groups = [self._requests(self.build_messages(item, ctx.labelled)) for item in items]
        runner = self._runner(api_key, ctx)
        results = runner.run(groups)
        try:
            for group in results:
                yield self._result(items[group.index], group, runner)
        finally:
            results.close()  # on early exit: stop retries, cache what was already paid for

    def _result(self, item: AnnotationItem, group: GroupResult, runner: RequestRunner) -> AnnotationResult:
        meta = self._meta(group, runner)
        if group.status == "skipped":
            return AnnotationResult(item.id, "skipped", error=group.reason, meta=meta)
        if group.status == "aborted":
            return AnnotationResult(item.id, "failed", error=group.reason, meta=meta)
        cost, seconds = group.cost, group.seconds
        if self.config.self_consistency is None:
            outcome = group.outcomes[0]
            if outcome.response is None:
                return AnnotationResult(item.id, "failed", cost=cost, seconds=seconds, error=outcome.error, meta=meta)
            raw = outcome.response.texts[0]
            reason = outcome.response.finish_reasons[0] if outcome.response.finish_reasons else None
            processed = self._process(raw, reason)
            if processed.text is None:
                meta["raw"] = raw[:_RAW_LIMIT]
                return AnnotationResult(item.id, "failed", cost=cost, seconds=seconds, error=processed.error, meta=meta)
            return AnnotationResult(item.id, "ok", text=processed.text, cost=cost, seconds=seconds, meta=meta)
        return self._vote(item, group, meta)

    def _process(self, raw: str, finish_reason: str | None) -> Processed:
        cfg = self.config
        if cfg.fail_truncated and finish_reason == "length":
            return Processed(None, f"reply truncated at max_tokens={cfg.max_tokens}")
        return postprocess(
            raw,
            reasoning_tags=cfg.reasoning_tags if cfg.strip_reasoning else (),
            answer_regex=self._answer_regex,
            strip_whitespace=cfg.strip_whitespace,
        )

    def _vote(self, item: AnnotationItem, group: GroupResult, meta: dict[str, Any]) -> AnnotationResult:
        sc = self.config.self_consistency
        assert sc is not None
        cost, seconds = group.cost, group.seconds
        processed: list[Processed] = []
        errors: list[str] = []
        for outcome in group.outcomes:
            if outcome.response is None:
                errors.append(outcome.error or "request failed")
                continue
            texts = outcome.response.texts if sc.mode == "choices" else outcome.response.texts[:1]
            reasons = outcome.response.finish_reasons
            for i, raw in enumerate(texts):
                p = self._process(raw, reasons[i] if i < len(reasons) else None)
                processed.append(p)
                if p.error:
                    errors.append(p.error)
        result = vote([p.text for p in processed], total=sc.samples, case_sensitive=sc.case_sensitive)
        meta["self_consistency"] = {
            "samples": result.total,
            "valid": result.valid,
            "counts": result.counts,
            "share": result.share,
            "threshold": sc.threshold,
        }
        if result.answer is None:
            error = f"no sample gave a usable answer ({errors[0] if errors else 'no samples'})"
            return AnnotationResult(item.id, "failed", cost=cost, seconds=seconds, error=error, meta=meta)
        if not result.accepted(sc.threshold):
            why = (
                f"self-consistency: majority answer {result.answer!r} has share {result.share:.2f} "
                f"< threshold {sc.threshold:.2f} ({result.valid} usable of {result.total} samples)"
            )
            meta["rejected_reason"] = why
            return AnnotationResult(item.id, "rejected", cost=cost, seconds=seconds, error=why, meta=meta)
        return AnnotationResult(item.id, "ok", text=result.answer, cost=cost, seconds=seconds, meta=meta)

    def _meta(self, group: GroupResult, runner: RequestRunner) -> dict[str, Any]:
        outs: list[ChatOutcome] = group.outcomes
        responses = [o.response for o in outs if o.response is not None]
        meta: dict[str, Any] = {
            "model": next((r.model for r in responses if r.model), self.config.model),
            "tokens_in": sum(r.prompt_tokens or 0 for r in responses),
            "tokens_out": sum(r.completion_tokens or 0 for r in responses),
            "attempts": sum(len(o.attempts) for o in outs),
            "latency": round(sum(o.latency for o in outs), 6),
            "cached": bool(outs) and all(o.cached for o in outs),
        }
        if any(o.cached for o in outs):
            meta["cached_cost"] = sum(runner.cached_cost(o.response) for o in outs if o.cached and o.response)
        if any(o.cost_estimated for o in outs):
            meta["cost_estimated"] = True
        reasons = [fr for r in responses for fr in r.finish_reasons if fr]
        if reasons:
            meta["finish_reason"] = reasons[0]
        errors = [e for o in outs for e in o.history]
        if errors:
            meta["errors"] = errors[-10:]
        return meta
