"""atgen: active learning for text generation (the core).

Plugin authors need ``hookimpl`` and the base classes re-exported here. Importing this package never
imports torch or any other heavy library.
"""

from __future__ import annotations

import pluggy

from atgen_core.components import (
    KINDS,
    AnnotationContext,
    Annotator,
    Budget,
    Component,
    DataContext,
    DataSource,
    EmbedContext,
    Embedder,
    EmbedderRecipe,
    EmptyConfig,
    Metric,
    MetricContext,
    ModelContext,
    ModelSpec,
    PluginConfig,
    PreflightContext,
    ScoringBackend,
    ScoringRequest,
    SelectionContext,
    Strategy,
    TrainContext,
    Trainer,
)
from atgen_core.errors import Problem
from atgen_core.tracker import TrackedRun, Tracker
from atgen_core.types import (
    AnnotationItem,
    AnnotationResult,
    Embeddings,
    Example,
    Generation,
    GenerationSettings,
    LabelledView,
    MetricKey,
    MetricResult,
    ModelHandle,
    PoolView,
    Requirements,
    SamplingRequest,
    Signals,
    TrainExample,
    TrainResult,
)

__version__ = "0.1.0"

hookimpl = pluggy.HookimplMarker("atgen")
"""Marker for hook implementations in plugins: ``@hookimpl def atgen_register_strategies(): ...``."""

__all__ = [
    "KINDS",
    "AnnotationContext",
    "AnnotationItem",
    "AnnotationResult",
    "Annotator",
    "Budget",
    "Component",
    "DataContext",
    "DataSource",
    "EmbedContext",
    "Embedder",
    "EmbedderRecipe",
    "Embeddings",
    "EmptyConfig",
    "Example",
    "Generation",
    "GenerationSettings",
    "LabelledView",
    "Metric",
    "MetricContext",
    "MetricKey",
    "MetricResult",
    "ModelContext",
    "ModelHandle",
    "ModelSpec",
    "PluginConfig",
    "PoolView",
    "PreflightContext",
    "Problem",
    "Requirements",
    "SamplingRequest",
    "ScoringBackend",
    "ScoringRequest",
    "SelectionContext",
    "Signals",
    "Strategy",
    "TrackedRun",
    "Tracker",
    "TrainContext",
    "TrainExample",
    "TrainResult",
    "Trainer",
    "__version__",
    "hookimpl",
]
