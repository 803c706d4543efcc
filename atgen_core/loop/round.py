"""What a round is, and which model each of its steps uses.

Round ``r`` scores its candidates with the model after round ``r - 1`` (the base model for round 0),
trains the adapter of round ``r`` from that same model, and evaluates the model after round ``r``. A
round whose training is not in the store serves the latest model trained before it; ``BASE_ROUND``
(-1) names the untrained model and its evaluation.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from atgen_core.errors import StoreError
from atgen_core.rundir import stored_adapter_path
from atgen_core.store import RunStore

__all__ = ["BASE_ROUND", "ModelPlan", "Round", "RoundModels"]

BASE_ROUND = -1
"""Round index under which the untrained model's evaluation is stored."""


@dataclass(frozen=True)
class Round:
    """One round of the loop (``BASE_ROUND``: the untrained model's evaluation)."""

    index: int

    @property
    def is_base(self) -> bool:
        """True for the untrained model's evaluation."""
        return self.index == BASE_ROUND

    @property
    def model_before(self) -> int:
        """The round whose model scores this round's candidates and seeds its training (-1: base)."""
        return self.index - 1

    @property
    def label(self) -> str:
        """``base`` or the round number, as shown in logs and tables."""
        return "base" if self.is_base else str(self.index)

    @property
    def file_stem(self) -> str:
        """``base`` or ``round-N``: the name of this round's generations file and adapter folder."""
        return "base" if self.is_base else f"round-{self.index}"

    def adapter_dir(self, run_dir: Path) -> Path:
        """Where this round's adapter is trained."""
        return run_dir / "adapters" / self.file_stem

    def rng(self, seed: int, purpose: int) -> np.random.Generator:
        """The random generator of this round for one purpose (a pure function of seed, round, purpose)."""
        return np.random.default_rng([seed & 0xFFFFFFFF, self.index + 1, purpose])


@dataclass(frozen=True)
class ModelPlan:
    """For one round: which trained round's model each step uses (``BASE_ROUND``: the base model)."""

    round: Round
    scoring: int
    """The model that scores the candidates and that training starts from."""
    evaluation: int
    """The model this round's evaluation generates with (this round's when trained)."""


class RoundModels:
    """Reads from the run store which adapter serves which round, with the fallbacks in one place."""

    def __init__(self, store: RunStore, run_dir: Path) -> None:
        self.store = store
        self.run_dir = run_dir

    def trained_round(self, round_: int) -> int:
        """The latest round ``<= round_`` whose training is stored, or ``BASE_ROUND``."""
        for r in range(round_, -1, -1):
            if self.store.step_done(r, "train") is not None:
                return r
        return BASE_ROUND

    def plan(self, round_: Round) -> ModelPlan:
        """The models used by ``round_``'s scoring, training and evaluation."""
        return ModelPlan(round_, self.trained_round(round_.model_before), self.trained_round(round_.index))

    def adapter(self, round_: int) -> Path | None:
        """The adapter serving ``round_`` (``None``: the base model); a missing folder is an error."""
        trained = self.trained_round(round_)
        if trained == BASE_ROUND:
            return None
        info = self.store.step_done(trained, "train") or {}
        path = stored_adapter_path(self.run_dir, info.get("adapter"))
        if path is not None and not path.exists():
            raise StoreError(
                f"the model trained in round {trained} is missing: {path} does not exist (deleted or moved?). "
                "Restore that folder; atgen retrains only the latest round by itself (when no later label exists)"
            )
        return path

    def stored_adapter(self, round_: int) -> Path | None:
        """The adapter path stored by ``round_``'s own training (no fallback, no existence check)."""
        info = self.store.step_done(round_, "train")
        return None if info is None else stored_adapter_path(self.run_dir, info.get("adapter"))
