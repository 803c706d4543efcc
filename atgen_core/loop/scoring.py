"""Scoring requests: what a scoring backend needs to score with a round's model."""

from __future__ import annotations

from collections.abc import Sequence

from atgen_core.components import EmbedderRecipe, ScoringRequest, Trainer
from atgen_core.loop.models import ModelSlot
from atgen_core.loop.round import Round
from atgen_core.loop.run import Run

__all__ = ["ScoringRequests"]


class ScoringRequests:
    """Builds the scoring requests of a round: its candidates scored with the model before it."""

    def __init__(self, run: Run, trainer: Trainer, slot: ModelSlot) -> None:
        self.run = run
        self.trainer = trainer
        self.slot = slot

    def request(
        self, round_: Round, ids: Sequence[str], prompts: Sequence[str], embedder: EmbedderRecipe | None = None
    ) -> ScoringRequest:
        """A request for ``round_`` (which scores with the model trained in the round before it)."""
        run = self.run
        before = round_.model_before
        return ScoringRequest(
            round=round_.index,
            ids=list(ids),
            prompts=list(prompts),
            settings=run.spec.model.generation.with_seed(run.spec.seed + round_.index),
            trainer_name=self.trainer.name,
            trainer_config=self.trainer.config.model_dump(mode="json"),
            model=run.spec.model,
            adapter=run.rounds.adapter(before),
            seed=run.spec.seed,
            run_dir=run.run_dir,
            cache_dir=run.cache_dir,
            progress=run.progress,
            local_model=lambda: self.slot.for_round(before),
            embedder=embedder,
        )
