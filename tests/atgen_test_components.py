"""Deterministic fake components for the core's loop tests (no torch, no plugins).

The fake model learns a mapping *topic -> answer* from its training labels: for a prompt about topic
``c`` it answers ``answer c`` once a label for topic ``c`` was trained on, else ``unknown``. Test
accuracy therefore rises with the number of distinct topics labelled, which makes stopping rules and
learning curves checkable. Components can be told to SIGKILL their own process at a chosen point (once,
guarded by a marker file) so that tests can check resume after a crash.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import signal
from collections.abc import Iterable, Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any, ClassVar

import numpy as np
from pydantic import Field

from atgen_core import (
    AnnotationContext,
    AnnotationItem,
    AnnotationResult,
    Annotator,
    DataContext,
    DataSource,
    EmbedContext,
    Embedder,
    Generation,
    GenerationSettings,
    Metric,
    MetricContext,
    MetricKey,
    MetricResult,
    ModelContext,
    PluginConfig,
    PreflightContext,
    Problem,
    Requirements,
    ScoringBackend,
    ScoringRequest,
    SelectionContext,
    Strategy,
    TrainContext,
    Trainer,
    TrainResult,
    hookimpl,
)
from atgen_core.errors import AtgenError, DataError
from atgen_core.types import ProgressFn, no_progress

_TOPIC = re.compile(r"topic (\d+)")


def make_rows(n: int, topics: int = 10) -> list[dict[str, Any]]:
    """Rows ``topic c item i`` -> ``answer c``."""
    return [{"input": f"topic {i % topics} item {i}", "target": f"answer {i % topics}"} for i in range(n)]


def _crash_once(marker: str | None) -> None:
    if marker and not os.path.exists(marker):
        Path(marker).write_text("crashed", encoding="utf-8")
        os.kill(os.getpid(), signal.SIGKILL)


# ---------------------------------------------------------------------------------------------------


class MemoryConfig(PluginConfig):
    """Rows given inline or generated."""

    rows: list[dict[str, Any]] = Field(default_factory=list, description="Rows of the train split.")
    generate: int = Field(0, ge=0, description="Generate this many topic rows instead.")
    topics: int = Field(10, ge=1, description="Topics of generated rows.")
    require_env: str | None = Field(None, description="An environment variable the rows need (as a data path would).")


class MemorySource(DataSource):
    """Rows from the spec itself (tests)."""

    name: ClassVar[str] = "memory"
    Config = MemoryConfig

    def splits(self, ctx: DataContext) -> Sequence[str]:
        return ["train"]

    def preflight(self, ctx: PreflightContext) -> list[Problem]:
        assert isinstance(self.config, MemoryConfig)
        name = self.config.require_env
        if name and name not in ctx.environ:
            return [Problem(ctx.field("require_env"), f"environment variable {name} is not set",
                            hint=f"export {name}")]
        return []

    def load(self, split: str, ctx: DataContext) -> Iterable[Mapping[str, Any]]:
        assert isinstance(self.config, MemoryConfig)
        name = self.config.require_env
        if name and name not in os.environ:
            raise DataError(f"data.source.config.require_env: environment variable {name} is not set")
        if self.config.generate:
            return make_rows(self.config.generate, self.config.topics)
        return self.config.rows


class FakeModel:
    """Answers ``answer c`` for topics it was trained on; scores are a deterministic function of text."""

    def __init__(self, known: Mapping[str, str]) -> None:
        self.known = dict(known)

    def _answer(self, prompt: str) -> str:
        match = _TOPIC.search(prompt)
        return self.known.get(match.group(1), "unknown") if match else "unknown"

    def generate(
        self, prompts: Sequence[str], settings: GenerationSettings, progress: ProgressFn = no_progress
    ) -> list[Generation]:
        out = []
        for prompt in prompts:
            text = self._answer(prompt)
            h = int(hashlib.sha256(prompt.encode()).hexdigest()[:8], 16) / 0xFFFFFFFF
            lp = -0.1 if text != "unknown" else -1.0 - h
            out.append(Generation(text=text, token_logprobs=(lp, lp), token_entropies=(-lp, -lp)))
        return out

    def sample(
        self, prompts: Sequence[str], n: int, settings: GenerationSettings, progress: ProgressFn = no_progress
    ) -> list[list[Generation]]:
        return [[g] * n for g in self.generate(prompts, settings)]

    def embed(self, texts: Sequence[str], progress: ProgressFn = no_progress) -> np.ndarray:
        return _hash_vectors(texts)


def _hash_vectors(texts: Sequence[str]) -> np.ndarray:
    rows = []
    for text in texts:
        seed = int(hashlib.sha256(text.encode()).hexdigest()[:8], 16)
        rows.append(np.random.default_rng(seed).normal(size=8))
    return np.asarray(rows, dtype=np.float32).reshape(len(texts), 8)


class FakeTrainerConfig(PluginConfig):
    """Fake trainer settings."""

    crash_marker: str | None = Field(None, description="SIGKILL once during training (marker file path).")
    crash_round: int = Field(1, description="Round whose training crashes.")
    log_file: str | None = Field(None, description="Append one JSON line per training call.")
    user_error: str | None = Field(None, description="Fail every training with this user error (exit 2).")


class FakeTrainer(Trainer):
    """Memorises topic -> answer pairs from the labels (tests)."""

    name: ClassVar[str] = "fake-trainer"
    Config = FakeTrainerConfig

    def load(self, ctx: ModelContext, adapter: Path | None = None) -> FakeModel:
        if adapter is None:
            return FakeModel({})
        return FakeModel(json.loads((adapter / "known.json").read_text(encoding="utf-8")))

    def train(self, ctx: TrainContext) -> TrainResult:
        assert isinstance(self.config, FakeTrainerConfig)
        if self.config.log_file:
            with open(self.config.log_file, "a", encoding="utf-8") as handle:
                handle.write(json.dumps({"round": ctx.iteration, "n": len(ctx.examples), "pid": os.getpid(),
                                         "threads": os.environ.get("OMP_NUM_THREADS")}) + "\n")
        if self.config.user_error:
            raise AtgenError(self.config.user_error)
        ctx.output_dir.mkdir(parents=True, exist_ok=True)
        if ctx.iteration == self.config.crash_round:
            (ctx.output_dir / "partial").write_text("half-written", encoding="utf-8")
            _crash_once(self.config.crash_marker)
        known: dict[str, str] = {}
        for example in ctx.examples:
            match = _TOPIC.search(example.prompt)
            if match:
                known[match.group(1)] = example.target
        (ctx.output_dir / "known.json").write_text(json.dumps(known, sort_keys=True), encoding="utf-8")
        return TrainResult(model=FakeModel(known), adapter_path=ctx.output_dir, train_loss=1.0 / (1 + len(known)),
                           steps=len(ctx.examples))


class CountingOracleConfig(PluginConfig):
    """Oracle that logs every request and may crash."""

    log_file: str | None = Field(None, description="Append one line per labelled id.")
    crash_marker: str | None = Field(None, description="SIGKILL once after crash_after items.")
    crash_after: int = Field(3, description="Items labelled before the crash.")
    crash_round: int = Field(1, description="Round of the crash.")
    price: float = Field(0.0, ge=0, description="Cost per label.")
    fail_ids: list[str] = Field(default_factory=list, description="Ids reported as failed.")


class CountingOracle(Annotator):
    """Gold labels, with a request log (tests)."""

    name: ClassVar[str] = "counting-oracle"
    Config = CountingOracleConfig

    def max_cost(self, item: AnnotationItem) -> float:
        assert isinstance(self.config, CountingOracleConfig)
        return self.config.price

    def annotate(self, items: Sequence[AnnotationItem], ctx: AnnotationContext) -> Iterator[AnnotationResult]:
        assert isinstance(self.config, CountingOracleConfig)
        for done, item in enumerate(items):
            if ctx.iteration == self.config.crash_round and done == self.config.crash_after:
                _crash_once(self.config.crash_marker)
            if self.config.log_file:
                with open(self.config.log_file, "a", encoding="utf-8") as handle:
                    handle.write(item.id + "\n")
            if item.id in self.config.fail_ids:
                yield AnnotationResult(id=item.id, status="failed", error="told to fail")
                continue
            yield AnnotationResult(id=item.id, status="ok", text=item.example.target or "", cost=self.config.price)


class TestRandomConfig(PluginConfig):
    """Options of the test strategy."""

    crash_marker: str | None = Field(None, description="SIGKILL once during selection.")
    crash_round: int = Field(2, description="Round of the crash.")
    positions: bool = Field(False, description="Misbehave: return positions instead of ids.")
    embeddings: bool = Field(False, description="Ask for embeddings.")


class TestRandom(Strategy):
    """Seeded random choice that can also misbehave (tests)."""

    name: ClassVar[str] = "test-random"
    cold_start: ClassVar[bool] = True
    Config = TestRandomConfig

    def requirements(self) -> Requirements:
        assert isinstance(self.config, TestRandomConfig)
        return Requirements(generations=True, embeddings=self.config.embeddings)

    def select(self, ctx: SelectionContext) -> Sequence[Any]:
        assert isinstance(self.config, TestRandomConfig)
        if ctx.iteration == self.config.crash_round:
            _crash_once(self.config.crash_marker)
        assert ctx.signals.generations is not None and set(ctx.signals.generations) == set(ctx.pool.ids)
        if self.config.embeddings:
            assert ctx.signals.embeddings is not None
            ctx.signals.embeddings.take(list(ctx.pool.ids) + list(ctx.labelled.ids))
        order = ctx.rng.permutation(len(ctx.pool))[: ctx.k]
        if self.config.positions:
            return [int(i) for i in order]
        return [ctx.pool.ids[int(i)] for i in order]


class WarmOnly(Strategy):
    """Needs labelled data (tests)."""

    name: ClassVar[str] = "warm-only"

    def select(self, ctx: SelectionContext) -> Sequence[str]:
        return list(ctx.pool.ids[: ctx.k])


class AccuracyMetric(Metric):
    """Exact-match accuracy against any reference (tests)."""

    name: ClassVar[str] = "accuracy"

    def keys(self) -> Mapping[str, MetricKey]:
        return {"accuracy": MetricKey(0.0, 1.0)}

    def compute(self, ctx: MetricContext) -> MetricResult:
        scores = [float(p in refs) for p, refs in zip(ctx.predictions, ctx.references)]
        return MetricResult({"accuracy": sum(scores) / len(scores)}, {"accuracy": scores})


class CountingEmbedder(Embedder):
    """Hash vectors; counts how many texts it embedded (tests)."""

    name: ClassVar[str] = "hash-embedder"
    calls: ClassVar[list[int]] = []

    def embed(self, texts: Sequence[str], ctx: EmbedContext) -> np.ndarray:
        CountingEmbedder.calls.append(len(texts))
        return _hash_vectors(texts)


class InProcessScoring(ScoringBackend):
    """Scores with the loop's own model and cannot embed (tests: the loop must embed in-process)."""

    name: ClassVar[str] = "in-process-scoring"
    calls: ClassVar[list[str]] = []

    def generate(self, request: ScoringRequest) -> list[Generation]:
        assert request.local_model is not None
        InProcessScoring.calls.append("generate")
        return request.local_model().generate(list(request.prompts), request.settings)


class EmbeddingScoring(InProcessScoring):
    """Also embeds, by building the requested embedder itself (tests: the loop must route through it)."""

    name: ClassVar[str] = "embedding-scoring"
    can_embed: ClassVar[bool] = True

    def embed(self, request: ScoringRequest) -> np.ndarray:
        assert request.embedder is not None and request.embedder.name == CountingEmbedder.name
        InProcessScoring.calls.append(f"embed:{len(request.ids)}")
        return CountingEmbedder().embed(list(request.prompts), EmbedContext())


@hookimpl
def atgen_register_scoring_backends() -> list[type[ScoringBackend]]:
    return [InProcessScoring, EmbeddingScoring]


@hookimpl
def atgen_register_strategies() -> list[type[Strategy]]:
    return [TestRandom, WarmOnly]


@hookimpl
def atgen_register_annotators() -> list[type[Annotator]]:
    return [CountingOracle]


@hookimpl
def atgen_register_trainers() -> type[Trainer]:
    return FakeTrainer


@hookimpl
def atgen_register_metrics() -> type[Metric]:
    return AccuracyMetric


@hookimpl
def atgen_register_data_sources() -> type[DataSource]:
    return MemorySource


@hookimpl
def atgen_register_embedders() -> type[Embedder]:
    return CountingEmbedder
