"""The model in memory: loaded for a round once, replaced when training makes a new one."""

from __future__ import annotations

from atgen_core.components import ModelContext, Trainer
from atgen_core.loop.run import Run
from atgen_core.types import ModelHandle

__all__ = ["ModelSlot"]


class ModelSlot:
    """Holds at most one model handle: the model serving one trained round (or the base model)."""

    def __init__(self, run: Run, trainer: Trainer) -> None:
        self.run = run
        self.trainer = trainer
        self._model: ModelHandle | None = None
        self._round: int | None = None

    def for_round(self, round_: int) -> ModelHandle:
        """The model after round ``round_`` (``-1``: the base model), loaded once."""
        trained = self.run.rounds.trained_round(round_)
        if self._model is not None and self._round == trained:
            return self._model
        run = self.run
        ctx = ModelContext(
            model=run.spec.model,
            seed=run.spec.seed,
            run_dir=run.run_dir,
            cache_dir=run.cache_dir,
            progress=run.progress,
        )
        self._model = None
        self._model = self.trainer.load(ctx, run.rounds.adapter(trained))
        self._round = trained
        return self._model

    def drop(self) -> None:
        """Free the model (before training makes a new one)."""
        self._model = None

    def put(self, model: ModelHandle, round_: int) -> None:
        """Keep the model that training ``round_`` returned."""
        self._model, self._round = model, round_
