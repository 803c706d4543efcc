"""Base classes of the component kinds and their context objects, one module per kind.

A component is a class with a ``name`` (what specs refer to), a one-line summary (its docstring's
first line) and a pydantic ``Config`` model (:mod:`atgen_core.components.base`). Every kind has one
small abstract method that takes a *context object*: new context fields can be added later without
breaking plugins.

Kinds: ``strategy``, ``annotator``, ``trainer``, ``metric``, ``data_source``, ``embedder``,
``scoring_backend`` and ``tracker`` (whose base class lives in ``atgen_core.tracker``).
Heavy libraries (torch, transformers, ...) must be imported inside methods, never at module import.
"""

from __future__ import annotations

from atgen_core.components.annotator import AnnotationContext, Annotator, Budget
from atgen_core.components.base import (
    NAME_PATTERN,
    Component,
    ConfigT,
    EmptyConfig,
    ModelSpec,
    PluginConfig,
    PreflightContext,
)
from atgen_core.components.data_source import DataContext, DataSource
from atgen_core.components.embedder import EmbedContext, Embedder
from atgen_core.components.metric import Metric, MetricContext
from atgen_core.components.scoring import EmbedderRecipe, ScoringBackend, ScoringRequest
from atgen_core.components.strategy import SelectionContext, Strategy
from atgen_core.components.trainer import ModelContext, TrainContext, Trainer
from atgen_core.tracker import Tracker

__all__ = [
    "KINDS",
    "NAME_PATTERN",
    "AnnotationContext",
    "Annotator",
    "Budget",
    "Component",
    "ConfigT",
    "DataContext",
    "DataSource",
    "EmbedContext",
    "Embedder",
    "EmbedderRecipe",
    "EmptyConfig",
    "Metric",
    "MetricContext",
    "ModelContext",
    "ModelSpec",
    "PluginConfig",
    "PreflightContext",
    "ScoringBackend",
    "ScoringRequest",
    "SelectionContext",
    "Strategy",
    "TrainContext",
    "Trainer",
]

KINDS: dict[str, type[Component]] = {
    "strategy": Strategy,
    "annotator": Annotator,
    "trainer": Trainer,
    "metric": Metric,
    "data_source": DataSource,
    "embedder": Embedder,
    "scoring_backend": ScoringBackend,
    "tracker": Tracker,
}
"""Component kind -> base class."""
