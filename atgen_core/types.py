"""Plain data types shared by the loop and every component kind.

Everything here is a small frozen dataclass or protocol so that plugins can depend on it without
pulling in heavy libraries. New fields are only ever *added* (with defaults), never renamed, so a
plugin written against an older core keeps working.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any, Literal, Protocol, TypeVar, runtime_checkable

from pydantic import ConfigDict, Field
from pydantic.dataclasses import dataclass as pydantic_dataclass
from pydantic.json_schema import JsonDict, SkipJsonSchema

if TYPE_CHECKING:
    import numpy as np

T = TypeVar("T")

__all__ = [
    "AnnotationItem",
    "AnnotationResult",
    "AnnotationStatus",
    "Embeddings",
    "Example",
    "Generation",
    "GenerationSettings",
    "KeyValueCache",
    "LabelledView",
    "MemoryCache",
    "MetricKey",
    "MetricResult",
    "ModelHandle",
    "PoolView",
    "ProgressFn",
    "Requirements",
    "SamplingRequest",
    "Signals",
    "TrainExample",
    "TrainResult",
    "no_progress",
]


ProgressFn = Callable[..., Iterator[Any]]
"""``progress(iterable, total=None, desc=None)``: wraps an iterable in a progress bar (or not)."""


def no_progress(iterable: Iterable[T], total: int | None = None, desc: str | None = None) -> Iterator[T]:
    """A progress function that shows nothing (the default in tests and library use)."""
    del total, desc
    yield from iterable


# --------------------------------------------------------------------------------------------------
# Data
# --------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Example:
    """One row of the data after loading: a stable id, the raw input, the rendered prompt, gold texts.

    ``input`` is the raw input text (the value of the input column); ``prompt`` is the input rendered
    through the spec's prompt template and is what the model sees. ``references`` holds every accepted
    reference (``target`` is the first one); both are empty when the data has no gold labels.
    ``fields`` keeps the row's other columns for templates and annotators.
    """

    id: str
    input: str
    prompt: str
    target: str | None = None
    references: tuple[str, ...] = ()
    fields: Mapping[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class PoolView:
    """An immutable, ordered view of unlabelled examples handed to strategies.

    Strategies must return ids from ``ids``; positions are never accepted by the loop.
    """

    examples: tuple[Example, ...]

    @property
    def ids(self) -> tuple[str, ...]:
        return tuple(e.id for e in self.examples)

    @property
    def inputs(self) -> tuple[str, ...]:
        return tuple(e.input for e in self.examples)

    @property
    def prompts(self) -> tuple[str, ...]:
        return tuple(e.prompt for e in self.examples)

    def __len__(self) -> int:
        return len(self.examples)

    def __iter__(self) -> Iterator[Example]:
        return iter(self.examples)


@dataclass(frozen=True)
class LabelledView:
    """The labelled set so far: examples plus the label text each one received (not the gold text)."""

    examples: tuple[Example, ...] = ()
    labels: tuple[str, ...] = ()

    @property
    def ids(self) -> tuple[str, ...]:
        return tuple(e.id for e in self.examples)

    @property
    def inputs(self) -> tuple[str, ...]:
        return tuple(e.input for e in self.examples)

    def __len__(self) -> int:
        return len(self.examples)


# --------------------------------------------------------------------------------------------------
# Model outputs and signals
# --------------------------------------------------------------------------------------------------


_GENERATION_SCHEMA: JsonDict = {"description": "Decoding settings used for evaluation and for strategy signals."}


@pydantic_dataclass(
    frozen=True, config=ConfigDict(extra="forbid", allow_inf_nan=False, json_schema_extra=_GENERATION_SCHEMA)
)
class GenerationSettings:
    """Decoding settings used for evaluation and for strategy signals (the spec's ``model.generation``).

    Greedy unless ``do_sample``. Every value is checked when the settings are made, in a spec or in code
    (a ``pydantic.ValidationError`` names the field). ``seed`` makes sampling reproducible; it is not
    part of a spec: the loop sets it from the spec's ``seed`` and the round.
    """

    max_new_tokens: Annotated[int, Field(ge=1, description="Maximum number of generated tokens per output.")] = 64
    batch_size: Annotated[int, Field(ge=1, description="Prompts per generation batch (sorted by length).")] = 16
    do_sample: Annotated[
        bool, Field(description="Sample instead of greedy decoding (evaluation is greedy by default).")
    ] = False
    temperature: Annotated[float, Field(gt=0, description="Sampling temperature (only with do_sample).")] = 1.0
    top_p: Annotated[float, Field(gt=0, le=1, description="Nucleus sampling mass (only with do_sample).")] = 1.0
    seed: Annotated[SkipJsonSchema[int], Field(exclude=True, description="Seed of sampling (set by the loop).")] = 0

    def with_seed(self, seed: int) -> GenerationSettings:
        """These settings with ``seed`` (the loop's per-round seed)."""
        return replace(self, seed=seed)


@dataclass(frozen=True)
class Generation:
    """One generated output with per-token scores of the generated tokens only (no prompt, no padding).

    ``token_logprobs[t]`` is log p(y_t | y_<t, x) of the chosen token under the model's distribution
    (before any sampling warpers); ``token_entropies[t]`` is the entropy of that distribution in nats.
    Both have one entry per generated token, up to and including the end-of-sequence token if one was
    produced.
    """

    text: str
    token_logprobs: tuple[float, ...] = ()
    token_entropies: tuple[float, ...] = ()

    @property
    def num_tokens(self) -> int:
        return len(self.token_logprobs)

    @property
    def mean_logprob(self) -> float:
        """Mean log-probability per generated token (``nan`` for an empty output)."""
        if not self.token_logprobs:
            return float("nan")
        return sum(self.token_logprobs) / len(self.token_logprobs)

    @property
    def nnll(self) -> float:
        """Length-normalised negative log-likelihood, -mean log p (``nan`` for an empty output)."""
        return -self.mean_logprob

    @property
    def mean_entropy(self) -> float:
        """Mean per-token entropy (``nan`` for an empty output)."""
        if not self.token_entropies:
            return float("nan")
        return sum(self.token_entropies) / len(self.token_entropies)


@runtime_checkable
class ModelHandle(Protocol):
    """What a trainer hands back: a model that can generate, sample and embed.

    Implementations batch internally, run without gradients and keep prompt rendering identical to
    training. ``embed`` may raise ``NotImplementedError`` when the backend cannot embed.
    """

    def generate(
        self, prompts: Sequence[str], settings: GenerationSettings, progress: ProgressFn = no_progress
    ) -> list[Generation]: ...

    def sample(
        self, prompts: Sequence[str], n: int, settings: GenerationSettings, progress: ProgressFn = no_progress
    ) -> list[list[Generation]]: ...

    def embed(self, texts: Sequence[str], progress: ProgressFn = no_progress) -> np.ndarray: ...


@dataclass(frozen=True)
class SamplingRequest:
    """A request for ``n`` sampled outputs per pool item (e.g. for BLEUVar)."""

    n: int = 10
    temperature: float = 1.0
    top_p: float = 0.95


@dataclass(frozen=True)
class Requirements:
    """What a strategy needs the loop to compute before ``select`` (each computed once per iteration).

    Whether it needs labelled data is not a requirement but the strategy's ``cold_start`` flag.

    - ``generations``: one greedy output per candidate with token log-probs and entropies.
    - ``samples``: sampled outputs per candidate.
    - ``embeddings``: input embeddings of the candidates and of the labelled set (cached per run).
    - ``model``: the strategy calls the model handle itself.
    """

    generations: bool = False
    samples: SamplingRequest | None = None
    embeddings: bool = False
    model: bool = False


class Embeddings:
    """A matrix of row vectors addressed by id (rows are float32, not necessarily normalised)."""

    def __init__(self, ids: Sequence[str], matrix: np.ndarray) -> None:
        if len(ids) != int(matrix.shape[0]):
            raise ValueError(f"Embeddings: {len(ids)} ids but {matrix.shape[0]} rows")
        self.ids: tuple[str, ...] = tuple(ids)
        self.matrix = matrix
        self._index = {id_: i for i, id_ in enumerate(self.ids)}

    def __len__(self) -> int:
        return len(self.ids)

    def __contains__(self, id_: object) -> bool:
        return id_ in self._index

    @property
    def dim(self) -> int:
        return int(self.matrix.shape[1]) if self.matrix.ndim == 2 else 0

    def take(self, ids: Sequence[str]) -> np.ndarray:
        """Rows for ``ids`` in that order; raises ``KeyError`` naming the first missing id."""
        import numpy as np

        missing = [i for i in ids if i not in self._index]
        if missing:
            raise KeyError(f"no embedding for id {missing[0]!r} ({len(missing)} missing)")
        if not ids:
            return np.zeros((0, self.dim), dtype=self.matrix.dtype)
        return self.matrix[[self._index[i] for i in ids]]


@dataclass(frozen=True)
class Signals:
    """Model signals computed once per iteration and shared by every consumer, keyed by example id.

    A field is ``None`` when no component asked for it. ``embeddings`` covers the candidates and the
    labelled set.
    """

    generations: Mapping[str, Generation] | None = None
    samples: Mapping[str, Sequence[Generation]] | None = None
    embeddings: Embeddings | None = None


# --------------------------------------------------------------------------------------------------
# Annotation
# --------------------------------------------------------------------------------------------------

AnnotationStatus = Literal["ok", "failed", "skipped", "rejected"]


@dataclass(frozen=True)
class AnnotationItem:
    """An item to label: the example plus, when available, the current model's draft output."""

    example: Example
    draft: str | None = None

    @property
    def id(self) -> str:
        return self.example.id


@dataclass(frozen=True)
class AnnotationResult:
    """The outcome for one item. Only ``status == "ok"`` with a non-empty ``text`` becomes training data.

    ``cost`` is money spent on this item (in the spec's currency unit, 0 for free annotators);
    ``meta`` holds annotator-specific details (tokens, model, attempts) and is stored as JSON.
    """

    id: str
    status: AnnotationStatus
    text: str = ""
    cost: float = 0.0
    seconds: float = 0.0
    error: str | None = None
    meta: Mapping[str, Any] = field(default_factory=dict)


class KeyValueCache(Protocol):
    """A persistent string cache in the run store (e.g. API request -> response)."""

    def get(self, key: str) -> str | None: ...

    def put(self, key: str, value: str) -> None: ...


class MemoryCache:
    """An in-memory ``KeyValueCache`` (tests, notebooks, benchmarks); ``data`` holds every entry."""

    def __init__(self) -> None:
        self.data: dict[str, str] = {}

    def get(self, key: str) -> str | None:
        return self.data.get(key)

    def put(self, key: str, value: str) -> None:
        self.data[key] = value


# --------------------------------------------------------------------------------------------------
# Training and metrics
# --------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class TrainExample:
    """A training pair: rendered prompt and the label text (the annotator's, not necessarily gold)."""

    id: str
    prompt: str
    target: str


@dataclass(frozen=True)
class TrainResult:
    """What a trainer reports. ``adapter_path`` is where the weights of this iteration were saved."""

    model: ModelHandle
    adapter_path: Path | None = None
    train_loss: float | None = None
    steps: int = 0
    seconds: float = 0.0
    extra: Mapping[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class MetricKey:
    """Describes one value a metric reports: its range and direction (thresholds are checked against it)."""

    low: float = 0.0
    high: float = 1.0
    higher_is_better: bool = True


@dataclass(frozen=True)
class MetricResult:
    """Corpus-level values, optional per-example scores (same order as the inputs) and the time taken."""

    values: Mapping[str, float]
    per_example: Mapping[str, Sequence[float]] = field(default_factory=dict)
    seconds: float = 0.0
