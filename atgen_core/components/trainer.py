"""The ``trainer`` kind: load a (base or adapted) model and fine-tune it on the labelled set."""

from __future__ import annotations

from abc import abstractmethod
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import ClassVar

from atgen_core.components.base import Component, ConfigT, ModelSpec
from atgen_core.types import ModelHandle, ProgressFn, TrainExample, TrainResult, no_progress

__all__ = ["ModelContext", "TrainContext", "Trainer"]


@dataclass(frozen=True)
class ModelContext:
    """Where and how to load a model: the spec's model section, the run and cache directories, the seed."""

    model: ModelSpec
    seed: int = 0
    run_dir: Path | None = None
    cache_dir: Path | None = None
    progress: ProgressFn = no_progress


@dataclass(frozen=True)
class TrainContext:
    """One training round: the labelled pairs, where to save, and the previous round's adapter."""

    examples: Sequence[TrainExample]
    model: ModelSpec
    output_dir: Path
    iteration: int = 0
    seed: int = 0
    previous_adapter: Path | None = None
    cache_dir: Path | None = None
    progress: ProgressFn = no_progress


class Trainer(Component[ConfigT]):
    """Base class of trainers: load a (base or adapted) model, and fine-tune on the labelled set."""

    kind: ClassVar[str] = "trainer"

    @abstractmethod
    def load(self, ctx: ModelContext, adapter: Path | None = None) -> ModelHandle:
        """Load the base model, with the adapter saved at ``adapter`` applied when given."""

    @abstractmethod
    def train(self, ctx: TrainContext) -> TrainResult:
        """Fine-tune on ``ctx.examples``, save the result under ``ctx.output_dir`` and return it."""
