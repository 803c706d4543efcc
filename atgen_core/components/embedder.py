"""The ``embedder`` kind: input embeddings for diversity strategies (cached per run by the loop)."""

from __future__ import annotations

from abc import abstractmethod
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, ClassVar

from atgen_core.components.base import Component, ConfigT
from atgen_core.types import ModelHandle, ProgressFn, no_progress

if TYPE_CHECKING:
    import numpy as np

__all__ = ["EmbedContext", "Embedder"]


@dataclass(frozen=True)
class EmbedContext:
    """Context for embedding: the current model (for hidden-state embedders) and a progress function."""

    model: ModelHandle | None = None
    progress: ProgressFn = no_progress


class Embedder(Component[ConfigT]):
    """Base class of input embedders (used by diversity strategies; results cached per run)."""

    kind: ClassVar[str] = "embedder"
    needs_model: ClassVar[bool] = False
    """True when embeddings depend on the current model (they are then recomputed per iteration)."""

    @abstractmethod
    def embed(self, texts: Sequence[str], ctx: EmbedContext) -> np.ndarray:
        """A float32 matrix with one row per text."""
