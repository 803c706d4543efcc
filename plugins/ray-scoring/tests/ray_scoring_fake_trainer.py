"""A test plugin: the ``fake-counting`` trainer, whose model handle logs every prompt it scores, and two
embedders that log what they embed: ``fake-counting-embedder`` (fixed vectors) and
``fake-model-embedder`` (the round's model handle's vectors).

Registered through the backends' ``extra_plugin_modules`` (so Ray workers find it too). Outputs are a
pure function of (adapter text, prompt, seed): any worker computes the same values, and a new adapter
gives new outputs. Each process appends the prompts it scored to ``<counter_dir>/<pid>.log``.
"""

from __future__ import annotations

import hashlib
import os
import random
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any, ClassVar

from pydantic import Field

from atgen_core import (
    EmbedContext,
    Embedder,
    Generation,
    GenerationSettings,
    ModelContext,
    PluginConfig,
    TrainContext,
    Trainer,
    TrainResult,
    hookimpl,
)
from atgen_core.types import ProgressFn, no_progress

ADAPTER_FILE = "weights.txt"


class FakeConfig(PluginConfig):
    """Options of the fake trainer."""

    counter_dir: str | None = Field(None, description="Folder of the per-process logs of scored prompts.")
    delay: float = Field(0.0, ge=0, description="Seconds to sleep per generate/sample call (one shard).")


def _unit(*parts: object) -> float:
    digest = hashlib.sha256("|".join(map(str, parts)).encode()).digest()
    return int.from_bytes(digest[:8], "little") / 2**64


class FakeHandle:
    """Deterministic outputs with per-token scores; logs what it scores."""

    def __init__(self, tag: str, config: FakeConfig) -> None:
        self.tag = tag
        self.config = config

    def _log(self, prompts: Sequence[str]) -> None:
        if self.config.delay:
            time.sleep(self.config.delay)
        if self.config.counter_dir is not None:
            folder = Path(self.config.counter_dir)
            folder.mkdir(parents=True, exist_ok=True)
            with open(folder / f"{os.getpid()}.log", "a", encoding="utf-8") as fh:
                fh.write("".join(p + "\n" for p in prompts))
                fh.flush()

    def _gen(self, prompt: str, key: object) -> Generation:
        n = 1 + int(_unit(self.tag, prompt, key, "n") * 5)
        lps = tuple(-3.0 * _unit(self.tag, prompt, key, t) for t in range(n))
        ents = tuple(2.0 * _unit(self.tag, prompt, key, "e", t) for t in range(n))
        return Generation(text=f"{self.tag}:{prompt[::-1]}:{key}", token_logprobs=lps, token_entropies=ents)

    def generate(
        self, prompts: Sequence[str], settings: GenerationSettings, progress: ProgressFn = no_progress
    ) -> list[Generation]:
        self._log(prompts)
        key = settings.seed if settings.do_sample else "greedy"
        return [self._gen(p, key) for p in prompts]

    def sample(
        self, prompts: Sequence[str], n: int, settings: GenerationSettings, progress: ProgressFn = no_progress
    ) -> list[list[Generation]]:
        self._log(prompts)
        rng = random.Random(settings.seed)
        return [[self._gen(p, rng.random()) for _ in range(n)] for p in prompts]

    def embed(self, texts: Sequence[str], progress: ProgressFn = no_progress) -> Any:
        import numpy as np

        self._log(texts)
        return np.array([[_unit(self.tag, t, d) for d in range(4)] for t in texts], dtype=np.float32)


class FakeCountingTrainer(Trainer):
    """A fake trainer for scoring tests (outputs depend on the adapter file's text)."""

    name: ClassVar[str] = "fake-counting"
    Config = FakeConfig
    config: FakeConfig

    def load(self, ctx: ModelContext, adapter: Path | None = None) -> FakeHandle:
        tag = "base" if adapter is None else (Path(adapter) / ADAPTER_FILE).read_text(encoding="utf-8").strip()
        return FakeHandle(f"{ctx.model.path}/{tag}", self.config)

    def train(self, ctx: TrainContext) -> TrainResult:
        out = Path(ctx.output_dir) / "adapter"
        out.mkdir(parents=True, exist_ok=True)
        (out / ADAPTER_FILE).write_text(f"round{ctx.iteration}-{len(ctx.examples)}", encoding="utf-8")
        return TrainResult(model=self.load(ModelContext(model=ctx.model), out), adapter_path=out)


class FakeEmbedderConfig(PluginConfig):
    """Options of the fake embedders."""

    counter_dir: str | None = Field(None, description="Folder of the per-process logs of embedded texts.")
    dims: int = Field(3, ge=1, description="Vector width.")


class FakeCountingEmbedder(Embedder):
    """Fixed pseudo-random vectors per text; logs every text it embeds (prefixed with ``embed:``)."""

    name: ClassVar[str] = "fake-counting-embedder"
    Config = FakeEmbedderConfig
    config: FakeEmbedderConfig

    def embed(self, texts: Sequence[str], ctx: EmbedContext) -> Any:
        import numpy as np

        FakeHandle("embedder", FakeConfig(counter_dir=self.config.counter_dir))._log([f"embed:{t}" for t in texts])
        return np.array([[_unit("emb", t, d) for d in range(self.config.dims)] for t in texts], dtype=np.float32)


class FakeModelEmbedder(Embedder):
    """The round's model handle's vectors (needs the model)."""

    name: ClassVar[str] = "fake-model-embedder"
    needs_model: ClassVar[bool] = True

    def embed(self, texts: Sequence[str], ctx: EmbedContext) -> Any:
        assert ctx.model is not None
        return ctx.model.embed(list(texts), ctx.progress)


@hookimpl
def atgen_register_trainers() -> list[type[Trainer]]:
    return [FakeCountingTrainer]


@hookimpl
def atgen_register_embedders() -> list[type[Embedder]]:
    return [FakeCountingEmbedder, FakeModelEmbedder]
