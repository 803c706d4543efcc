"""Graph cut: equality with a brute-force marginal-gain greedy, and conditioning on the labelled set."""

from __future__ import annotations

import numpy as np
import pytest
from atgen_baselines.graph_cut import GraphCutStrategy
from atgen_baselines.similarity import BLOCK_ELEMENTS


def objective(s: np.ndarray, ground: list[int], chosen: list[int], lam: float) -> float:
    """f(A) = sum_{i in V} sum_{j in A} s_ij - lam * sum_{i,j in A} s_ij, straight from the definition."""
    cover = sum(s[i, j] for i in ground for j in chosen)
    redundancy = sum(s[i, j] for i in chosen for j in chosen)
    return float(cover - lam * redundancy)


def brute_force(pool: np.ndarray, labelled: np.ndarray, ids: list[str], k: int, lam: float,
                with_labelled: bool) -> list[str]:
    rows = np.concatenate([pool, labelled]) if len(labelled) else pool
    unit = rows / np.linalg.norm(rows, axis=1, keepdims=True)
    s = np.maximum(unit @ unit.T, 0.0)
    n = len(pool)
    lab = list(range(n, len(rows)))
    ground = list(range(len(rows))) if with_labelled else list(range(n))
    chosen: list[int] = []
    for _ in range(min(k, n)):
        base = objective(s, ground, lab + chosen, lam)
        gains = {j: objective(s, ground, [*lab, *chosen, j], lam) - base for j in range(n) if j not in chosen}
        best = min(gains, key=lambda j: (-gains[j], ids[j]))
        chosen.append(best)
    return [ids[j] for j in chosen]


@pytest.mark.parametrize("with_labelled", [False, True])
@pytest.mark.parametrize("trial", range(10))
def test_greedy_equals_brute_force(make_ctx, trial: int, with_labelled: bool) -> None:
    rng = np.random.default_rng(100 + trial)
    n, m, d = int(rng.integers(2, 14)), int(rng.integers(0, 4)), int(rng.integers(2, 5))
    pool, labelled = rng.normal(size=(n, d)), rng.normal(size=(m, d))
    ids = [f"u{i:02d}" for i in rng.permutation(n)]
    lam, k = float(rng.uniform(0, 1)), int(rng.integers(1, n + 2))
    expected = brute_force(pool, labelled, ids, k, lam, with_labelled)
    emb = {i: pool[j] for j, i in enumerate(ids)} | {f"l{j}": labelled[j] for j in range(m)}
    ctx = make_ctx(ids, k=k, labelled_ids=[f"l{j}" for j in range(m)], embeddings=emb)
    ground = "pool+labelled" if with_labelled else "pool"
    config = GraphCutStrategy.Config(lambda_=lam, ground_set=ground)  # type: ignore[arg-type]
    assert list(GraphCutStrategy(config).select(ctx)) == expected


def _two_clusters(
    rng: np.random.Generator, n_labelled: int
) -> tuple[dict[str, np.ndarray], list[str], list[str]]:
    emb = {f"A{i:02d}": np.array([1.0, 0.0, 0.0]) + rng.normal(scale=0.05, size=3) for i in range(20)}
    emb |= {f"B{i:02d}": np.array([0.0, 1.0, 0.0]) + rng.normal(scale=0.05, size=3) for i in range(25)}
    pool = list(emb)
    labelled = [f"L{i}" for i in range(n_labelled)]
    emb |= {lid: np.array([0.0, 1.0, 0.0]) + rng.normal(scale=0.05, size=3) for lid in labelled}
    return emb, pool, labelled


def test_conditioning_on_the_labelled_set_moves_the_pick(make_ctx) -> None:
    emb, pool, labelled = _two_clusters(np.random.default_rng(0), 10)
    strategy = GraphCutStrategy()
    cold = make_ctx(pool, k=1, embeddings=emb)
    assert GraphCutStrategy.cold_start and strategy.select(cold)[0].startswith("B")  # larger cluster
    warm = make_ctx(pool, k=1, labelled_ids=labelled, embeddings=emb)
    assert strategy.select(warm)[0].startswith("A")  # B is already covered by the labelled items
    picks = strategy.select(make_ctx(pool, k=5, labelled_ids=labelled, embeddings=emb))
    assert not set(picks) & set(labelled)


def test_blocked_similarity_sums_match_dense(make_ctx, monkeypatch: pytest.MonkeyPatch) -> None:
    rng = np.random.default_rng(5)
    emb = {f"x{i:02d}": rng.normal(size=4) for i in range(30)}
    ctx = make_ctx(list(emb), k=6, labelled_ids=[], embeddings=emb)
    dense = list(GraphCutStrategy().select(ctx))
    import atgen_baselines.similarity as sim

    monkeypatch.setattr(sim, "BLOCK_ELEMENTS", 7)  # 1 row per block: many blocks
    assert BLOCK_ELEMENTS != sim.BLOCK_ELEMENTS
    assert list(GraphCutStrategy().select(ctx)) == dense


def test_zero_embedding_has_no_similarity(make_ctx) -> None:
    emb = {"a": np.zeros(3), "b": np.array([1.0, 0.0, 0.0]), "c": np.array([0.9, 0.1, 0.0])}
    picks = list(GraphCutStrategy().select(make_ctx(["a", "b", "c"], k=3, embeddings=emb)))
    assert sorted(picks) == ["a", "b", "c"] and picks[-1] == "a"
