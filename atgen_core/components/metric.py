"""The ``metric`` kind: score predictions against references; ``keys()`` names every value reported."""

from __future__ import annotations

from abc import abstractmethod
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import ClassVar

from atgen_core.components.base import Component, ConfigT
from atgen_core.components.cache import NullCache
from atgen_core.types import KeyValueCache, MetricKey, MetricResult, ProgressFn, no_progress

__all__ = ["Metric", "MetricContext"]


@dataclass(frozen=True)
class MetricContext:
    """Predictions to score, with all references per example and the source inputs, in one order.

    ``cache`` is the metric's persistent key-value store in the run store (namespace
    ``metric:<name>``), for metrics that pay per call (e.g. an LLM judge): a resumed run or a later
    evaluation of the same predictions reuses it. Outside a run it caches nothing.
    """

    ids: Sequence[str]
    predictions: Sequence[str]
    references: Sequence[Sequence[str]]
    sources: Sequence[str]
    run_dir: Path | None = None
    progress: ProgressFn = no_progress
    cache: KeyValueCache = field(default_factory=NullCache)

    def example_id(self, index: int) -> str:
        """The id of example ``index`` (``#index`` when ids are missing), for error messages."""
        return str(self.ids[index]) if index < len(self.ids) else f"#{index}"

    def checked_references(self, metric: str, *, required: bool = True) -> list[list[str]]:
        """Validate the context and return one list of reference strings per prediction.

        Raises ``ValueError`` naming the metric when there are no predictions, when the number of
        reference lists differs from the number of predictions, or (with ``required``) when an
        example has no reference. A plain string counts as a single reference.
        """
        n = len(self.predictions)
        if n == 0:
            raise ValueError(
                f"metric {metric!r}: there are no predictions to score (MetricContext.predictions is empty); "
                "evaluate on a non-empty split"
            )
        if len(self.references) != n:
            raise ValueError(
                f"metric {metric!r}: {n} predictions but {len(self.references)} reference lists; "
                "MetricContext.references needs one sequence of references per prediction"
            )
        out: list[list[str]] = []
        for i, refs in enumerate(self.references):
            ref_list = [refs] if isinstance(refs, str) else [str(r) for r in refs]
            if required and not ref_list:
                raise ValueError(
                    f"metric {metric!r}: example {self.example_id(i)!r} has no reference text; this metric "
                    "needs gold references (remove it from the spec's metrics or add references to the data)"
                )
            out.append(ref_list)
        return out


class Metric(Component[ConfigT]):
    """Base class of metrics. ``keys()`` names every value reported, with its scale and direction."""

    kind: ClassVar[str] = "metric"

    @abstractmethod
    def keys(self) -> Mapping[str, MetricKey]:
        """The values this metric reports (used to validate stopping thresholds before a run)."""

    @abstractmethod
    def compute(self, ctx: MetricContext) -> MetricResult:
        """Score ``ctx.predictions`` against ``ctx.references``."""
