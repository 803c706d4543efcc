"""The state every room of the loop shares: the spec, the store, the data, the built components.

Views of the store that several rooms read (the labelled set, the unlabelled pool, the budget left)
live here, so that each room reads them the same way.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from atgen_core.components import Annotator, Embedder, Metric, ScoringBackend, Strategy, Trainer
from atgen_core.errors import AtgenError
from atgen_core.loop.round import RoundModels
from atgen_core.spec import ExperimentSpec, ResolvedSpec
from atgen_core.store import RunStore
from atgen_core.types import Example, LabelledView, ProgressFn

__all__ = ["ComponentError", "Parts", "Run"]


class ComponentError(AtgenError):
    """A component broke its contract (e.g. a strategy returned positions instead of ids)."""


@dataclass
class Parts:
    """The components a spec names, built once per experiment."""

    strategy: Strategy
    annotator: Annotator
    trainer: Trainer
    metrics: list[Metric]
    embedder: Embedder | None
    scorer: ScoringBackend | None

    @classmethod
    def build(cls, resolved: ResolvedSpec) -> Parts:
        """Build every component; those already built are closed again when a later one fails."""
        built: list[Any] = []

        def make(ref: Any) -> Any:
            component = ref.build()
            built.append(component)
            return component

        try:
            return cls(
                strategy=make(resolved.strategy),
                annotator=make(resolved.annotator),
                trainer=make(resolved.trainer),
                metrics=[make(m) for m in resolved.metrics],
                embedder=make(resolved.embedder) if resolved.embedder is not None else None,
                scorer=make(resolved.scoring) if resolved.scoring is not None else None,
            )
        except BaseException:
            for component in built:
                component.close()
            raise

    def close(self) -> None:
        """Release every component."""
        for component in (self.strategy, self.annotator, self.trainer, self.embedder, self.scorer, *self.metrics):
            if component is not None:
                component.close()


@dataclass
class Run:
    """One run's spec, store and data (the pool and the test set as stored at its start)."""

    resolved: ResolvedSpec
    run_dir: Path
    store: RunStore
    pool: tuple[Example, ...]
    test: tuple[Example, ...]
    progress: ProgressFn
    cache_dir: Path | None = None
    by_id: dict[str, Example] = field(init=False)
    rounds: RoundModels = field(init=False)

    def __post_init__(self) -> None:
        self.by_id = {e.id: e for e in (*self.pool, *self.test)}
        self.rounds = RoundModels(self.store, self.run_dir)

    @property
    def spec(self) -> ExperimentSpec:
        """The run's spec."""
        return self.resolved.spec

    def labelled(self) -> LabelledView:
        """The labelled set: examples and the label each received, in labelling order."""
        records = self.store.labels()
        return LabelledView(examples=tuple(self.by_id[r.id] for r in records), labels=tuple(r.text for r in records))

    def unlabelled(self) -> list[Example]:
        """Pool examples never selected so far (failed items are not offered again)."""
        taken = self.store.selected_ids()
        return [e for e in self.pool if e.id not in taken]

    def rounds_selected(self) -> int:
        """How many rounds have a stored selection."""
        r = 0
        while self.store.selection(r) is not None:
            r += 1
        return r

    def current_round(self) -> int:
        """The latest round with a selection."""
        round_ = self.rounds_selected() - 1
        if round_ < 0:
            raise AtgenError("nothing selected yet: call query() first")
        return round_

    def labels_left(self) -> int | None:
        """Labels the budget still allows (``None``: no label budget)."""
        limit = self.spec.loop.budget.labels
        return None if limit is None else max(0, limit - self.store.spent()[0])

    def money_left(self) -> float | None:
        """Money the budget still allows (``None``: no money budget)."""
        limit = self.spec.loop.budget.money
        return None if limit is None else max(0.0, limit - self.store.spent()[1])

    def n_labels(self, round_: int) -> int:
        """The label count stored with ``round_``'s evaluation (0 for the untrained model)."""
        return self.store.spent()[0] if round_ >= 0 else 0
