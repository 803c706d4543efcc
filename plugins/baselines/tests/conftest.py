"""Factories for synthetic selection contexts (exposed as fixtures: conftest modules are not importable)."""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence

import numpy as np
import pytest

from atgen_core import (
    Embeddings,
    Example,
    Generation,
    LabelledView,
    PoolView,
    SelectionContext,
    Signals,
)


def _example(id_: str, text: str | None = None) -> Example:
    text = text if text is not None else f"input {id_}"
    return Example(id=id_, input=text, prompt=f"Q: {text}\nA:")


def build_ctx(
    pool_ids: Sequence[str],
    *,
    k: int,
    labelled_ids: Sequence[str] = (),
    texts: Mapping[str, str] | None = None,
    generations: Mapping[str, Generation] | None = None,
    samples: Mapping[str, Sequence[Generation]] | None = None,
    embeddings: Mapping[str, np.ndarray] | None = None,
    seed: int = 0,
) -> SelectionContext:
    """A SelectionContext over the given ids; ``embeddings`` maps id -> vector (pool and labelled)."""
    texts = texts or {}
    pool = PoolView(tuple(_example(i, texts.get(i)) for i in pool_ids))
    labelled = LabelledView(
        tuple(_example(i, texts.get(i)) for i in labelled_ids), tuple(f"label {i}" for i in labelled_ids)
    )
    emb = None
    if embeddings is not None:
        ids = list(embeddings)
        emb = Embeddings(ids, np.stack([np.asarray(embeddings[i]) for i in ids]) if ids else np.zeros((0, 2)))
    return SelectionContext(
        pool=pool,
        labelled=labelled,
        k=k,
        rng=np.random.default_rng(seed),
        seed=seed,
        signals=Signals(generations=generations, samples=samples, embeddings=emb),
    )


def generation(
    entropies: Sequence[float] = (), logprobs: Sequence[float] | None = None, text: str = "x"
) -> Generation:
    """A fabricated greedy output (log-probs default to -entropy per token)."""
    lp = tuple(logprobs) if logprobs is not None else tuple(-e for e in entropies)
    return Generation(text=text, token_logprobs=lp, token_entropies=tuple(entropies))


def full_ctx(n: int, k: int, n_labelled: int = 0, seed: int = 0, dim: int = 8) -> SelectionContext:
    """A pool of ``n`` items (plus ``n_labelled`` labelled ones) with every signal fabricated at random
    from a fixed generator (the data does not depend on ``seed``, only ``ctx.rng`` does)."""
    data = np.random.default_rng(1234)
    pool_ids = [f"p{i:04d}" for i in range(n)]
    labelled_ids = [f"l{i:03d}" for i in range(n_labelled)]
    words = ["alpha", "beta", "gamma", "delta", "running", "runs", "river", "stone", "cloud", "light"]
    texts = {i: " ".join(data.choice(words, size=int(data.integers(1, 9)))) for i in pool_ids + labelled_ids}
    generations = {
        i: generation(data.uniform(0, 3, size=int(data.integers(1, 6))).tolist()) for i in pool_ids
    }
    samples = {
        i: [Generation(text=" ".join(data.choice(words, size=4))) for _ in range(4)] for i in pool_ids
    }
    embeddings = {i: data.normal(size=dim) for i in pool_ids + labelled_ids}
    return build_ctx(
        pool_ids,
        k=k,
        labelled_ids=labelled_ids,
        texts=texts,
        generations=generations,
        samples=samples,
        embeddings=embeddings,
        seed=seed,
    )


@pytest.fixture
def make_ctx() -> Callable[..., SelectionContext]:
    """``make_ctx(pool_ids, k=..., labelled_ids=..., texts=..., generations=..., samples=...,
    embeddings=..., seed=0)``: see :func:`build_ctx`."""
    return build_ctx


@pytest.fixture
def make_generation() -> Callable[..., Generation]:
    """``make_generation(entropies, logprobs=None, text="x")``."""
    return generation


@pytest.fixture
def make_full_ctx() -> Callable[..., SelectionContext]:
    """``make_full_ctx(n, k, n_labelled=0, seed=0)``: every signal present."""
    return full_ctx
