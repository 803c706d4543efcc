"""The ``strategy`` kind: pick the next ids to label, from the pool and the model's signals."""

from __future__ import annotations

from abc import abstractmethod
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, ClassVar

from atgen_core.components.base import Component, ConfigT
from atgen_core.types import LabelledView, ModelHandle, PoolView, ProgressFn, Requirements, Signals, no_progress

if TYPE_CHECKING:
    import numpy as np

__all__ = ["SelectionContext", "Strategy"]


@dataclass(frozen=True)
class SelectionContext:
    """Everything a strategy may use to pick ``k`` ids.

    ``pool`` holds the unlabelled candidates (possibly a seeded subsample of the whole pool);
    ``labelled`` the labelled set; ``signals`` what the strategy's ``requirements()`` asked for;
    ``rng`` a generator derived from (seed, iteration) so that selection is reproducible.
    """

    pool: PoolView
    labelled: LabelledView
    k: int
    rng: np.random.Generator
    iteration: int = 0
    seed: int = 0
    signals: Signals = field(default_factory=Signals)
    model: ModelHandle | None = None
    run_dir: Path | None = None
    progress: ProgressFn = no_progress


class Strategy(Component[ConfigT]):
    """Base class of selection strategies.

    ``select`` returns exactly ``min(k, len(pool))`` distinct ids from ``ctx.pool`` (the loop checks).
    Set ``cold_start = True`` when the strategy can pick the first batch with no labelled data. It is
    the one declaration of needing labels: without it the spec refuses a cold start (or design mode)
    and the loop stops with a clear error when no label exists yet.
    """

    kind: ClassVar[str] = "strategy"
    cold_start: ClassVar[bool] = False

    def requirements(self) -> Requirements:
        """The signals this strategy needs (default: none)."""
        return Requirements()

    @abstractmethod
    def select(self, ctx: SelectionContext) -> Sequence[str]:
        """Return the ids to label next."""
