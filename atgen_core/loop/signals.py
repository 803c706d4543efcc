"""Signals: what a strategy asked for (generations, samples, embeddings), computed for a round.

Generations and samples come from the model before the round, through the scoring backend when the
spec names one; the greedy generations are also the drafts handed to annotators.
"""

from __future__ import annotations

import logging
import time
from dataclasses import replace

from atgen_core.components import Embedder, ScoringBackend
from atgen_core.loop.embeddings import EmbeddingCache
from atgen_core.loop.models import ModelSlot
from atgen_core.loop.round import Round
from atgen_core.loop.run import ComponentError, Run
from atgen_core.loop.scoring import ScoringRequests
from atgen_core.types import Example, Generation, LabelledView, Requirements, Signals

__all__ = ["SignalRoom"]

log = logging.getLogger("atgen")


class SignalRoom:
    """Computes a round's signals for the scored candidates."""

    def __init__(
        self,
        run: Run,
        requests: ScoringRequests,
        slot: ModelSlot,
        scorer: ScoringBackend | None,
        embedder: Embedder | None,
    ) -> None:
        self.run = run
        self.requests = requests
        self.slot = slot
        self.scorer = scorer
        self.embeddings = EmbeddingCache(run, embedder, scorer, requests, slot) if embedder is not None else None

    def signals(
        self, round_: Round, req: Requirements, scored: list[Example], labelled: LabelledView, strategy: str
    ) -> Signals:
        """The signals ``req`` names, for ``scored`` (embeddings also for the labelled examples)."""
        generations = self._generations(round_, scored) if req.generations else None
        samples = self._samples(round_, req, scored) if req.samples is not None else None
        embeddings = None
        if req.embeddings:
            if self.embeddings is None:
                raise ComponentError(f"strategy {strategy!r} needs embeddings but no embedder is set")
            embeddings = self.embeddings.embeddings(round_, [*scored, *labelled.examples])
        return Signals(generations=generations, samples=samples, embeddings=embeddings)

    def _generations(self, round_: Round, scored: list[Example]) -> dict[str, Generation]:
        request = self.requests.request(round_, [e.id for e in scored], [e.prompt for e in scored])
        t0 = time.perf_counter()
        if self.scorer is not None:
            outs = self.scorer.generate(request)
        else:
            model = self.slot.for_round(round_.model_before)
            outs = model.generate(request.prompts, request.settings, self.run.progress)
        if len(outs) != len(scored):
            raise ComponentError(f"scoring returned {len(outs)} outputs for {len(scored)} prompts")
        log.info("round %d: generated for %d candidates in %.1fs", round_.index, len(scored), time.perf_counter() - t0)
        return {e.id: g for e, g in zip(scored, outs)}

    def _samples(self, round_: Round, req: Requirements, scored: list[Example]) -> dict[str, list[Generation]]:
        assert req.samples is not None
        request = self.requests.request(round_, [e.id for e in scored], [e.prompt for e in scored])
        settings = replace(
            request.settings, do_sample=True, temperature=req.samples.temperature, top_p=req.samples.top_p
        )
        sample_request = replace(request, settings=settings, n_samples=req.samples.n)
        if self.scorer is not None:
            outs_n = self.scorer.sample(sample_request)
        else:
            model = self.slot.for_round(round_.model_before)
            outs_n = model.sample(sample_request.prompts, req.samples.n, settings, self.run.progress)
        return {e.id: list(g) for e, g in zip(scored, outs_n)}
