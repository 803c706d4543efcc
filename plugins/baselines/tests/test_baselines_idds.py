"""IDDS: behaviour on clustered pools and equality with a naive O(k N^2) implementation of the formula."""

from __future__ import annotations

import numpy as np
import pytest
from atgen_baselines.idds import IDDSStrategy, idds_greedy

from atgen_core.ranking import NaNScoreWarning, id_ranks


def naive_idds(
    pool: np.ndarray, labelled: np.ndarray, ids: list[str], k: int, lam: float, cosine: bool
) -> list[str]:
    """The IDDS score recomputed from scratch at every step with explicit means over a dense matrix."""
    if cosine:
        def norm(m: np.ndarray) -> np.ndarray:
            n = np.linalg.norm(m, axis=1, keepdims=True)
            return np.divide(m, n, out=np.zeros_like(m), where=n > 0)
        pool, labelled = norm(pool), norm(labelled)
    sim_uu = pool @ pool.T
    sim_ul = pool @ labelled.T if len(labelled) else np.zeros((len(pool), 0))
    chosen: list[int] = []
    for _ in range(min(k, len(pool))):
        best, best_key = None, None
        for x in range(len(pool)):
            if x in chosen:
                continue
            rest = [u for u in range(len(pool)) if u not in chosen and u != x]
            density = float(np.mean(sim_uu[x, rest])) if rest else 0.0
            lab_sims = list(sim_ul[x]) + [sim_uu[x, q] for q in chosen]
            coverage = float(np.mean(lab_sims)) if lab_sims else 0.0
            score = lam * density - (1 - lam) * coverage
            key = (-score, ids[x])
            if best_key is None or key < best_key:
                best, best_key = x, key
        assert best is not None
        chosen.append(best)
    return [ids[i] for i in chosen]


@pytest.mark.parametrize("cosine", [False, True])
@pytest.mark.parametrize("trial", range(20))
def test_incremental_equals_naive_reference(make_ctx, trial: int, cosine: bool) -> None:
    rng = np.random.default_rng(trial)
    # d >= 2: with d = 1 cosine similarities are all +-1 and exact ties depend on rounding.
    n, m, d = int(rng.integers(2, 25)), int(rng.integers(0, 6)), int(rng.integers(2, 6))
    # Non-normalised rows of varied norms, so the self-similarity is not 1.
    pool = rng.normal(size=(n, d)) * rng.uniform(0.2, 3.0, size=(n, 1))
    labelled = rng.normal(size=(m, d))
    ids = [f"u{i:02d}" for i in rng.permutation(n)]
    lam = float(rng.uniform(0, 1))
    k = int(rng.integers(1, n + 2))
    expected = naive_idds(pool, labelled, ids, k, lam, cosine)
    emb = {i: pool[j] for j, i in enumerate(ids)} | {f"l{j}": labelled[j] for j in range(m)}
    ctx = make_ctx(ids, k=k, labelled_ids=[f"l{j}" for j in range(m)], embeddings=emb)
    config = IDDSStrategy.Config(lambda_=lam, similarity="cosine" if cosine else "dot")
    assert list(IDDSStrategy(config).select(ctx)) == expected


def test_greedy_function_ties_are_broken_by_id() -> None:
    pool = np.ones((4, 2))  # every item identical: every score ties at every step
    ids = ["d", "b", "a", "c"]
    order = idds_greedy(pool, np.zeros((0, 2)), 4, 0.667, id_ranks(ids))
    assert [ids[i] for i in order] == ["a", "b", "c", "d"]


def _clusters(rng: np.random.Generator) -> tuple[dict[str, np.ndarray], list[str], list[str]]:
    centres = {"A": np.array([5.0, 0.0, 0.0]), "B": np.array([0.0, 5.0, 0.0]), "O": np.array([0.0, 0.0, 5.0])}
    emb: dict[str, np.ndarray] = {}
    pool: list[str] = []
    for name, size in (("A", 30), ("B", 30)):
        for i in range(size):
            emb[f"{name}{i:02d}"] = centres[name] + rng.normal(scale=0.3, size=3)
            pool.append(f"{name}{i:02d}")
    # Outliers: few and spread out, far from both clusters.
    for i in range(4):
        emb[f"O{i}"] = rng.normal(scale=4.0, size=3) - 6.0
        pool.append(f"O{i}")
    labelled = [f"L{i}" for i in range(5)]
    for lid in labelled:
        emb[lid] = centres["B"] + rng.normal(scale=0.3, size=3)
    return emb, pool, labelled


@pytest.mark.parametrize("similarity", ["dot", "cosine"])
def test_prefers_dense_unlabelled_region_and_avoids_the_labelled_one(make_ctx, similarity: str) -> None:
    emb, pool, labelled = _clusters(np.random.default_rng(0))
    ctx = make_ctx(pool, k=6, labelled_ids=labelled, embeddings=emb)
    picks = list(IDDSStrategy(IDDSStrategy.Config(similarity=similarity)).select(ctx))  # type: ignore[arg-type]
    assert picks[0].startswith("A")
    assert sum(p.startswith("A") for p in picks) >= 4
    assert not any(p.startswith("O") for p in picks)


def test_cold_start_picks_the_densest_region(make_ctx) -> None:
    rng = np.random.default_rng(1)
    emb = {f"A{i:02d}": np.array([1.0, 0.0]) + rng.normal(scale=0.05, size=2) for i in range(20)}
    emb |= {f"B{i:02d}": np.array([0.0, 1.0]) + rng.normal(scale=0.05, size=2) for i in range(5)}
    ctx = make_ctx(list(emb), k=1, embeddings=emb)
    assert IDDSStrategy.cold_start
    assert IDDSStrategy(IDDSStrategy.Config(similarity="cosine")).select(ctx)[0].startswith("A")


def test_non_finite_embeddings_are_ranked_last_and_reported(make_ctx) -> None:
    emb = {"a": np.array([1.0, 0.0]), "b": np.array([np.nan, 1.0]), "c": np.array([0.9, 0.1])}
    ctx = make_ctx(["a", "b", "c"], k=3, embeddings=emb)
    with pytest.warns(NaNScoreWarning, match="'b'"):
        picks = list(IDDSStrategy().select(ctx))
    assert picks[2] == "b" and sorted(picks) == ["a", "b", "c"]
