"""The ``annotator`` kind (oracle, LLM, human), its context and the annotation budget."""

from __future__ import annotations

from abc import abstractmethod
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, ClassVar

from pydantic import BaseModel, ConfigDict, Field

from atgen_core.components.base import Component, ConfigT
from atgen_core.components.cache import NullCache
from atgen_core.types import AnnotationItem, AnnotationResult, KeyValueCache, LabelledView, ProgressFn, no_progress

if TYPE_CHECKING:
    from atgen_core.annotation import AnnotationStore

__all__ = ["AnnotationContext", "Annotator", "Budget"]


class Budget(BaseModel):
    """Annotation budget; the loop stops before it would be exceeded.

    In a spec (``loop.budget``) it is the limit of the run; in an :class:`AnnotationContext` it is what
    is left before the batch. ``None`` means unlimited.
    """

    model_config = ConfigDict(
        extra="forbid",
        frozen=True,
        allow_inf_nan=False,
        json_schema_extra={"description": "Annotation budget; the loop stops before it would be exceeded."},
    )

    labels: int | None = Field(None, ge=0, description="Maximum number of labels (None: unlimited).")
    money: float | None = Field(None, ge=0, description="Maximum annotation spend (None: unlimited).")
    currency: str = Field("USD", description="Unit of `money` and of annotator prices.")


@dataclass(frozen=True)
class AnnotationContext:
    """Context of one annotation batch.

    ``labelled`` serves few-shot prompts; ``cache`` is a persistent key-value store in the run store
    (so a resumed run never pays twice); ``budget`` is what is left before this batch.
    """

    iteration: int = 0
    labelled: LabelledView = field(default_factory=LabelledView)
    budget: Budget = field(default_factory=Budget)
    cache: KeyValueCache = field(default_factory=NullCache)
    run_dir: Path | None = None
    progress: ProgressFn = no_progress
    guidelines: str | None = None
    store: AnnotationStore | None = None
    """What the annotator may read and write in the run store, for annotators that keep their own state
    (e.g. a web page): see :class:`atgen_core.annotation.AnnotationStore`. ``None`` outside the loop."""


class Annotator(Component[ConfigT]):
    """Base class of annotators (oracle, LLM, human).

    ``annotate`` yields one ``AnnotationResult`` per item *as soon as it is known*; the loop commits
    each result to the run store the moment it arrives. Failed items must be yielded with
    ``status="failed"`` (they stay unlabelled), never with an empty ``ok`` text.
    """

    kind: ClassVar[str] = "annotator"

    def max_cost(self, item: AnnotationItem) -> float:
        """An upper bound of what labelling ``item`` may cost; the loop never sends an item that could
        take the spend past the money budget. Free annotators return 0."""
        del item
        return 0.0

    @abstractmethod
    def annotate(self, items: Sequence[AnnotationItem], ctx: AnnotationContext) -> Iterable[AnnotationResult]:
        """Label ``items``, yielding results in any order."""
