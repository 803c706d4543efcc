"""The ``{{ cookiecutter.name }}`` {{ cookiecutter.kind }}.
{% if cookiecutter.kind == "strategy" %}
A strategy that needs no model: it picks the inputs with the most distinct words first (ties keep pool
order). Replace ``score`` with your own criterion; declare model signals in ``requirements()`` when
you need generations, samples or embeddings.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import ClassVar

from atgen_core import PluginConfig, SelectionContext, Strategy
from pydantic import Field


class {{ cookiecutter.class_name }}Config(PluginConfig):
    """Options of ``{{ cookiecutter.name }}``."""

    fewest_first: bool = Field(False, description="Pick the inputs with the fewest distinct words first instead.")


class {{ cookiecutter.class_name }}(Strategy):
    """Label the inputs with the most distinct words first (ties keep pool order)."""

    name: ClassVar[str] = "{{ cookiecutter.name }}"
    Config: ClassVar[type[PluginConfig]] = {{ cookiecutter.class_name }}Config
    cold_start: ClassVar[bool] = True

    def score(self, text: str) -> int:
        """How many distinct (lower-cased) words ``text`` has."""
        return len(set(text.lower().split()))

    def select(self, ctx: SelectionContext) -> Sequence[str]:
        """The ``k`` best-scored candidates of ``ctx.pool``, as ids."""
        assert isinstance(self.config, {{ cookiecutter.class_name }}Config)
        sign = 1 if self.config.fewest_first else -1
        ranked = sorted(
            (sign * self.score(text), position, id_)
            for position, (id_, text) in enumerate(zip(ctx.pool.ids, ctx.pool.inputs, strict=True))
        )
        return [id_ for _, _, id_ in ranked[: min(ctx.k, len(ranked))]]
{% elif cookiecutter.kind == "annotator" %}
An annotator that labels each item with the dataset's own target (a stand-in for a labelling service
or an LLM): replace ``label`` with the call to yours. Yield each result as soon as it is known (atgen
stores it at once), report failures with ``status="failed"``, and bound the cost in ``max_cost``.
"""

from __future__ import annotations

import time
from collections.abc import Iterator, Sequence
from typing import ClassVar

from atgen_core import AnnotationContext, AnnotationItem, AnnotationResult, Annotator, PluginConfig
from pydantic import Field


class {{ cookiecutter.class_name }}Config(PluginConfig):
    """Options of ``{{ cookiecutter.name }}``."""

    prefix: str = Field("", description="Text put before every label.")
    price: float = Field(0.0, ge=0, description="What one label costs (in the budget's currency).")


class {{ cookiecutter.class_name }}(Annotator):
    """Label each item with its dataset target (items without one fail)."""

    name: ClassVar[str] = "{{ cookiecutter.name }}"
    Config: ClassVar[type[PluginConfig]] = {{ cookiecutter.class_name }}Config

    def _options(self) -> {{ cookiecutter.class_name }}Config:
        assert isinstance(self.config, {{ cookiecutter.class_name }}Config)
        return self.config

    def max_cost(self, item: AnnotationItem) -> float:
        """The most one item may cost."""
        return self._options().price

    def label(self, item: AnnotationItem) -> str | None:
        """The label of one item, or None when there is none."""
        target = item.example.target
        return None if target is None else self._options().prefix + target

    def annotate(self, items: Sequence[AnnotationItem], ctx: AnnotationContext) -> Iterator[AnnotationResult]:
        """One result per item, yielded as soon as it is known."""
        for item in items:
            started = time.perf_counter()
            text = self.label(item)
            if text is None:
                yield AnnotationResult(id=item.id, status="failed", error="the example has no target")
                continue
            yield AnnotationResult(id=item.id, status="ok", text=text, cost=self._options().price,
                                   seconds=time.perf_counter() - started)
{% elif cookiecutter.kind == "metric" %}
A metric: the share of predictions that equal one of their references after lower-casing and
collapsing white space, with a per-example score. Replace ``score`` with your own; describe every value
you report in ``keys()`` (range and direction: atgen checks stopping thresholds against it).
"""

from __future__ import annotations

import time
from collections.abc import Mapping, Sequence
from typing import ClassVar

from atgen_core import Metric, MetricContext, MetricKey, MetricResult, PluginConfig
from pydantic import Field


class {{ cookiecutter.class_name }}Config(PluginConfig):
    """Options of ``{{ cookiecutter.name }}``."""

    case_sensitive: bool = Field(False, description="Compare with letter case kept.")


class {{ cookiecutter.class_name }}(Metric):
    """Share of predictions equal to a reference (white space normalised)."""

    name: ClassVar[str] = "{{ cookiecutter.name }}"
    Config: ClassVar[type[PluginConfig]] = {{ cookiecutter.class_name }}Config
    key: ClassVar[str] = "{{ cookiecutter.name.replace('-', '_') }}"

    def keys(self) -> Mapping[str, MetricKey]:
        """The one value reported: in [0, 1], higher is better."""
        return {self.key: MetricKey(low=0.0, high=1.0, higher_is_better=True)}

    def _normal(self, text: str) -> str:
        assert isinstance(self.config, {{ cookiecutter.class_name }}Config)
        text = " ".join(text.split())
        return text if self.config.case_sensitive else text.lower()

    def score(self, prediction: str, references: Sequence[str]) -> float:
        """1.0 when ``prediction`` equals one of ``references``, else 0.0."""
        return float(self._normal(prediction) in {self._normal(r) for r in references})

    def compute(self, ctx: MetricContext) -> MetricResult:
        """The mean score over the test set, and each example's score."""
        started = time.perf_counter()
        references = ctx.checked_references(self.name)
        scores = [self.score(p, refs) for p, refs in zip(ctx.predictions, references, strict=True)]
        mean = sum(scores) / len(scores) if scores else 0.0
        return MetricResult(values={self.key: mean}, per_example={self.key: scores},
                            seconds=time.perf_counter() - started)
{% elif cookiecutter.kind == "trainer" %}
A trainer whose "model" is a lookup table: training memorises the labelled pairs (saved as JSON in the
round's output directory, so a resumed run reloads it), and generation answers a memorised prompt with
its label and any other prompt with its last line. Replace it with real fine-tuning: import torch and
friends inside the methods, never at module level.
"""

from __future__ import annotations

import json
import zlib
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, ClassVar

from atgen_core import (
    Generation,
    GenerationSettings,
    ModelContext,
    ModelHandle,
    PluginConfig,
    TrainContext,
    Trainer,
    TrainResult,
)
from atgen_core.types import ProgressFn, no_progress
from pydantic import Field

if TYPE_CHECKING:
    import numpy as np

TABLE = "table.json"


class {{ cookiecutter.class_name }}Config(PluginConfig):
    """Options of ``{{ cookiecutter.name }}``."""

    embedding_dim: int = Field(32, ge=1, description="Size of the hashed bag-of-words embeddings.")


class LookupModel:
    """A ``ModelHandle`` over a prompt -> label table."""

    def __init__(self, table: Mapping[str, str], dim: int) -> None:
        self.table = dict(table)
        self.dim = dim

    def _one(self, prompt: str) -> Generation:
        known = prompt in self.table
        text = self.table[prompt] if known else prompt.strip().splitlines()[-1] if prompt.strip() else ""
        n = max(1, len(text.split()))
        logprob = 0.0 if known else -1.0
        return Generation(text, (logprob,) * n, (-logprob,) * n)

    def generate(
        self, prompts: Sequence[str], settings: GenerationSettings, progress: ProgressFn = no_progress
    ) -> list[Generation]:
        """One output per prompt."""
        return [self._one(p) for p in progress(prompts, total=len(prompts), desc="generate")]

    def sample(
        self, prompts: Sequence[str], n: int, settings: GenerationSettings, progress: ProgressFn = no_progress
    ) -> list[list[Generation]]:
        """``n`` outputs per prompt (all equal: the table is deterministic)."""
        return [[self._one(p)] * n for p in progress(prompts, total=len(prompts), desc="sample")]

    def embed(self, texts: Sequence[str], progress: ProgressFn = no_progress) -> np.ndarray:
        """Hashed bag-of-words vectors, L2-normalised."""
        import numpy as np

        matrix = np.zeros((len(texts), self.dim), dtype=np.float32)
        for row, text in enumerate(progress(texts, total=len(texts), desc="embed")):
            for word in text.lower().split():
                matrix[row, zlib.crc32(word.encode()) % self.dim] += 1.0
        return matrix / np.maximum(np.linalg.norm(matrix, axis=1, keepdims=True), 1e-12)


class {{ cookiecutter.class_name }}(Trainer):
    """Memorise the labelled pairs (a lookup-table model to replace with real fine-tuning)."""

    name: ClassVar[str] = "{{ cookiecutter.name }}"
    Config: ClassVar[type[PluginConfig]] = {{ cookiecutter.class_name }}Config

    def _dim(self) -> int:
        assert isinstance(self.config, {{ cookiecutter.class_name }}Config)
        return self.config.embedding_dim

    def load(self, ctx: ModelContext, adapter: Path | None = None) -> ModelHandle:
        """The base model (an empty table), or the table saved at ``adapter``."""
        table: dict[str, str] = {}
        if adapter is not None and (adapter / TABLE).is_file():
            table = json.loads((adapter / TABLE).read_text(encoding="utf-8"))
        return LookupModel(table, self._dim())

    def train(self, ctx: TrainContext) -> TrainResult:
        """Memorise every labelled pair and save the table under ``ctx.output_dir``."""
        table = {example.prompt: example.target for example in ctx.examples}
        ctx.output_dir.mkdir(parents=True, exist_ok=True)
        (ctx.output_dir / TABLE).write_text(json.dumps(table, sort_keys=True), encoding="utf-8")
        return TrainResult(model=LookupModel(table, self._dim()), adapter_path=ctx.output_dir, train_loss=0.0,
                           steps=len(table))
{% endif %}
