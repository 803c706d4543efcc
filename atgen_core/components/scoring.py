"""The ``scoring_backend`` kind: where the loop's per-iteration generation (or embedding) pass runs."""

from __future__ import annotations

from abc import abstractmethod
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, ClassVar

from atgen_core.components.base import Component, ConfigT, ModelSpec
from atgen_core.types import Generation, GenerationSettings, ModelHandle, ProgressFn, no_progress

if TYPE_CHECKING:
    import numpy as np

__all__ = ["EmbedderRecipe", "ScoringBackend", "ScoringRequest"]


@dataclass(frozen=True)
class EmbedderRecipe:
    """Which embedder component a scoring backend runs for an ``embed`` request (rebuilt on workers)."""

    name: str
    config: Mapping[str, Any]
    needs_model: bool = False
    """True when the embedder reads the round's model (then the model and adapter are part of the job)."""


@dataclass(frozen=True)
class ScoringRequest:
    """One scoring pass: generate (or sample, or embed) for ``ids`` with the model of a given round.

    Remote backends rebuild the model on their workers from ``trainer_name`` / ``trainer_config``
    (looked up in the registry) plus ``model`` and ``adapter``; ``local_model`` loads the in-process
    model when a backend wants to fall back to it. For ``embed``, ``prompts`` are the texts to embed
    and ``embedder`` names the embedder component (``None``: the model handle's own ``embed``).
    """

    round: int
    ids: Sequence[str]
    prompts: Sequence[str]
    settings: GenerationSettings
    trainer_name: str
    trainer_config: Mapping[str, Any]
    model: ModelSpec
    adapter: Path | None = None
    n_samples: int = 0
    seed: int = 0
    run_dir: Path | None = None
    cache_dir: Path | None = None
    progress: ProgressFn = no_progress
    local_model: Callable[[], ModelHandle] | None = None
    embedder: EmbedderRecipe | None = None


class ScoringBackend(Component[ConfigT]):
    """Base class of scoring backends: where the loop's per-iteration generation pass runs.

    Without a backend in the spec the loop scores in-process with the trainer's model handle.
    """

    kind: ClassVar[str] = "scoring_backend"
    can_embed: ClassVar[bool] = False
    """True when :meth:`embed` is implemented; the loop then computes embeddings through the backend."""

    @abstractmethod
    def generate(self, request: ScoringRequest) -> list[Generation]:
        """One greedy (or configured) output per id, in the order of ``request.ids``."""

    def sample(self, request: ScoringRequest) -> list[list[Generation]]:
        """``request.n_samples`` sampled outputs per id; the default runs in-process."""
        if request.local_model is None:
            raise NotImplementedError(f"scoring backend {self.name!r} cannot sample")
        return request.local_model().sample(request.prompts, request.n_samples, request.settings, request.progress)

    def embed(self, request: ScoringRequest) -> np.ndarray:
        """A float32 matrix, one row per id, computed by ``request.embedder`` (when ``can_embed``)."""
        raise NotImplementedError(f"scoring backend {self.name!r} does not embed")
