"""Selection on arrays: cluster coverage, conditioning, duplicates, equality with brute-force greedy."""

from __future__ import annotations

import numpy as np
import pytest
from atgen_facility_location import FacilityLocationConfig, facility_location_value, select_facility_location
from atgen_facility_location.selection import tie_rule
from facility_location_testkit import brute_force_greedy, clusters
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

SIMILARITIES = ["shifted-cosine", "clipped-cosine"]
MODES = [
    {"mode": "exact"},
    {"mode": "exact", "kernel_memory_mb": 0, "cache_entries": 0},
    {"mode": "exact", "kernel_memory_mb": 0, "cache_entries": 64},
    {"mode": "sparse", "n_neighbors": 3, "knn": "exact"},
    {"mode": "sparse", "n_neighbors": 3, "knn": "ivf", "knn_backend": "numpy", "n_lists": 8, "n_probe": 2},
]


@pytest.mark.parametrize("similarity", SIMILARITIES)
@pytest.mark.parametrize("options", MODES)
def test_one_representative_per_cluster(similarity: str, options: dict) -> None:
    sizes = [30, 5, 12, 40, 8, 20, 3, 25]
    x, label = clusters(sizes, seed=1)
    cfg = FacilityLocationConfig(similarity=similarity, **options)
    result = select_facility_location(x, None, len(sizes), cfg)
    assert len(result.indices) == len(sizes)
    assert sorted(label[list(result.indices)].tolist()) == list(range(len(sizes)))
    assert result.n_greedy == len(sizes)
    assert all(g > 0 for g in result.gains)
    assert list(result.gains) == sorted(result.gains, reverse=True)


@pytest.mark.parametrize("similarity", SIMILARITIES)
@pytest.mark.parametrize("mode", ["exact", "sparse"])
def test_labelled_cluster_is_not_picked_again(similarity: str, mode: str) -> None:
    sizes = [20, 20, 20, 20, 20]
    x, label = clusters(sizes, seed=2)
    labelled = x[label == 2][:3]
    pool_mask = ~np.isin(np.arange(len(x)), np.flatnonzero(label == 2)[:3])
    pool, pool_label = x[pool_mask], label[pool_mask]
    cfg = FacilityLocationConfig(similarity=similarity, mode=mode, n_neighbors=5)
    result = select_facility_location(pool, labelled, 4, cfg)
    assert sorted(pool_label[list(result.indices)].tolist()) == [0, 1, 3, 4]
    # Without conditioning, cluster 2 (still 17 pool items) is as good a choice as any other.
    free = select_facility_location(
        pool, labelled, 5, FacilityLocationConfig(similarity=similarity, mode=mode, condition_on_labelled=False)
    )
    assert sorted(pool_label[list(free.indices)].tolist()) == [0, 1, 2, 3, 4]


def test_iterative_rounds_cover_new_clusters() -> None:
    sizes = [15, 15, 15, 15, 15, 15]
    x, label = clusters(sizes, seed=3)
    labelled_idx: list[int] = []
    seen: list[int] = []
    for _ in range(3):
        pool_idx = np.setdiff1d(np.arange(len(x)), labelled_idx)
        result = select_facility_location(x[pool_idx], x[labelled_idx] if labelled_idx else None, 2)
        picked = pool_idx[list(result.indices)].tolist()
        assert not set(picked) & set(labelled_idx)
        seen.extend(label[picked].tolist())
        labelled_idx.extend(picked)
    assert sorted(seen) == [0, 1, 2, 3, 4, 5]


@pytest.mark.parametrize("mode", ["exact", "sparse"])
def test_duplicates_add_nothing(mode: str) -> None:
    x, _ = clusters([10, 10, 10], seed=4)
    twins = np.concatenate([x, x[:12], 3.0 * x[:5]])  # exact copies and scaled copies (same direction)
    cfg = FacilityLocationConfig(mode=mode, n_neighbors=4)
    distinct = len(x)
    result = select_facility_location(twins, None, distinct, cfg)
    directions = twins[list(result.indices)] / np.linalg.norm(twins[list(result.indices)], axis=1, keepdims=True)
    assert len({row.tobytes() for row in np.round(directions, 5)}) == distinct
    assert result.n_greedy == distinct
    # Asking for more: every extra id is a duplicate, picked only after all distinct ones.
    more = select_facility_location(twins, None, len(twins), cfg)
    assert sorted(more.indices) == list(range(len(twins)))
    assert set(more.indices[:distinct]) == set(result.indices)
    assert all(i >= distinct for i in more.indices[distinct:])


def test_pool_copies_of_labelled_inputs_come_last() -> None:
    x, _ = clusters([6, 6], seed=5)
    labelled = x[:3]
    pool = np.concatenate([x[:3], x[3:]])  # the first three pool rows are labelled already
    result = select_facility_location(pool, labelled, len(pool))
    assert set(result.indices[-3:]) == {0, 1, 2}
    assert result.n_greedy == len(pool) - 3


def test_zero_gain_completion_by_id_or_random() -> None:
    x, _ = clusters([4], seed=6)
    pool = np.concatenate([x, x])  # 4 distinct directions, each twice
    by_id = select_facility_location(pool, None, 8, FacilityLocationConfig(fill_order="id"))
    assert by_id.n_greedy == 4
    assert list(by_id.indices[4:]) == [4, 5, 6, 7]
    cfg = FacilityLocationConfig(fill_order="random")
    rnd = [select_facility_location(pool, None, 8, cfg, rng=np.random.default_rng(s)) for s in (1, 1, 2)]
    assert rnd[0].indices == rnd[1].indices
    assert sorted(rnd[0].indices[4:]) == [4, 5, 6, 7]


def test_ties_are_broken_by_rank() -> None:
    pool = np.eye(4, dtype=np.float32)  # four orthogonal points: every gain ties
    assert select_facility_location(pool, None, 2).indices == (0, 1)
    ranks = np.array([3, 2, 1, 0])
    assert select_facility_location(pool, None, 2, ranks=ranks).indices == (3, 2)


def test_sizes_k_and_empty_inputs() -> None:
    x, _ = clusters([3, 3], seed=7)
    assert select_facility_location(x, None, 0).indices == ()
    assert sorted(select_facility_location(x, None, 100).indices) == list(range(6))
    assert select_facility_location(np.zeros((0, 8)), None, 3).indices == ()
    assert len(select_facility_location(x, np.zeros((0, x.shape[1])), 2).indices) == 2
    zero_rows = np.zeros((3, 4), dtype=np.float32)
    assert sorted(select_facility_location(zero_rows, None, 3).indices) == [0, 1, 2]


def test_bad_embeddings_are_reported_clearly() -> None:
    x, _ = clusters([3, 3], seed=8)
    x[4, 2] = np.nan
    with pytest.raises(ValueError, match=r"pool item 'e4' contains NaN"):
        select_facility_location(x, None, 2, pool_ids=[f"e{i}" for i in range(6)])
    good, _ = clusters([3, 3], seed=8)
    with pytest.raises(ValueError, match="dimension 5 but the pool's have 32"):
        select_facility_location(good, np.ones((2, 5)), 2)
    lab = good[:2].copy()
    lab[1, 0] = np.inf
    with pytest.raises(ValueError, match="labelled item #1"):
        select_facility_location(good, lab, 2)


@pytest.mark.parametrize("similarity", SIMILARITIES)
def test_include_labelled_as_clients(similarity: str) -> None:
    x, label = clusters([12, 8, 20], seed=9)
    labelled = x[label == 2][:19]
    near_labelled = int(np.flatnonzero(label == 2)[19])
    pool_idx = np.concatenate([np.flatnonzero(label != 2), [near_labelled]])
    pool = x[pool_idx]
    base = dict(similarity=similarity, condition_on_labelled=False)
    without = select_facility_location(pool, labelled, 2, FacilityLocationConfig(**base))
    with_l = select_facility_location(
        pool, labelled, 2, FacilityLocationConfig(include_labelled_as_clients=True, **base)
    )
    assert len(pool) - 1 not in without.indices  # a lone point is worth little to the pool alone
    assert len(pool) - 1 in with_l.indices  # but it represents the 19 labelled clients


def test_stochastic_greedy_is_reproducible_and_close() -> None:
    x, _ = clusters([40] * 10, seed=10, spread=0.3)
    cfg = FacilityLocationConfig(stochastic=True, epsilon=0.1)
    a = select_facility_location(x, None, 10, cfg, rng=np.random.default_rng(3))
    b = select_facility_location(x, None, 10, cfg, rng=np.random.default_rng(3))
    exact = select_facility_location(x, None, 10)
    assert a.indices == b.indices and len(set(a.indices)) == 10
    assert facility_location_value(x, a.indices) >= 0.97 * facility_location_value(x, exact.indices)


def test_sparse_mode_is_close_to_exact_on_larger_clusters() -> None:
    x, _ = clusters([60, 45, 30, 80, 25, 50, 35, 70], dim=48, seed=11, spread=0.35)
    exact = select_facility_location(x, None, 20, FacilityLocationConfig(mode="exact", similarity="clipped-cosine"))
    for options in MODES[3:]:
        sparse = select_facility_location(
            x, None, 20, FacilityLocationConfig(similarity="clipped-cosine", **options)
        )
        ratio = facility_location_value(x, sparse.indices, similarity="clipped-cosine") / facility_location_value(
            x, exact.indices, similarity="clipped-cosine"
        )
        assert ratio > 0.99


@st.composite
def instances(draw: st.DrawFn) -> tuple[np.ndarray, np.ndarray | None, int]:
    seed = draw(st.integers(0, 2**31 - 1))
    n = draw(st.integers(1, 40))
    dim = draw(st.integers(1, 8))
    rng = np.random.default_rng(seed)
    pool = rng.standard_normal((n, dim))
    copies = draw(st.integers(0, 3))
    if copies:
        pool = np.concatenate([pool, pool[rng.integers(0, n, copies)]])
    n_lab = draw(st.integers(0, 3))
    labelled = rng.standard_normal((n_lab, dim)) if n_lab else None
    if labelled is not None and draw(st.booleans()):
        labelled = np.concatenate([labelled, pool[:1]])  # a pool input that is already labelled
    k = draw(st.integers(1, len(pool) + 2))
    return pool, labelled, k


FLOAT64_CONFIGS = [
    {"mode": "exact"},
    {"mode": "exact", "block_size": 4096},
    {"mode": "exact", "kernel_memory_mb": 0},
    {"mode": "exact", "kernel_memory_mb": 0, "cache_entries": 0},
    {"mode": "exact", "kernel_memory_mb": 0, "cache_entries": 16},
    {"mode": "exact", "kernel_memory_mb": 0, "block_size": 4096, "cache_entries": 40},
    {"mode": "sparse", "n_neighbors": 50},
]


@settings(max_examples=80, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(instances(), st.sampled_from(SIMILARITIES), st.sampled_from(FLOAT64_CONFIGS))
def test_lazy_greedy_equals_brute_force(instance: tuple, similarity: str, options: dict) -> None:
    pool, labelled, k = instance
    cfg = FacilityLocationConfig(similarity=similarity, precision="float64", knn_backend="numpy", **options)
    result = select_facility_location(pool, labelled, k, cfg)
    rule = tie_rule("float64", reproducible=False)
    expected = brute_force_greedy(pool, labelled, k, similarity, rule.rel, rule.abs_)
    assert list(result.indices[: result.n_greedy]) == expected
    assert len(result.indices) == min(k, len(pool)) == len(set(result.indices))
    value = facility_location_value(pool, result.indices[: result.n_greedy], labelled, similarity=similarity)
    assert value == pytest.approx(facility_location_value(pool, expected, labelled, similarity=similarity), rel=1e-12)


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(instances(), st.sampled_from(SIMILARITIES))
def test_float32_matches_brute_force_objective(instance: tuple, similarity: str) -> None:
    pool, labelled, k = instance
    result = select_facility_location(pool, labelled, k, FacilityLocationConfig(similarity=similarity))
    rule = tie_rule("float32", reproducible=False)
    expected = brute_force_greedy(pool, labelled, k, similarity, rule.rel, rule.abs_)
    got = facility_location_value(pool, result.indices[: len(expected)], labelled, similarity=similarity)
    want = facility_location_value(pool, expected, labelled, similarity=similarity)
    assert got == pytest.approx(want, rel=1e-5)
    assert len(set(result.indices)) == min(k, len(pool))


def test_auto_mode_uses_sparse_above_the_threshold() -> None:
    x, label = clusters([20, 20, 20], seed=12)
    small = select_facility_location(x, None, 3)
    large = select_facility_location(x, None, 3, FacilityLocationConfig(auto_sparse_above=30, knn_backend="numpy"))
    assert (small.mode, small.knn) == ("exact", None)
    assert (large.mode, large.knn) == ("sparse", "numpy-exact")
    assert sorted(label[list(large.indices)].tolist()) == [0, 1, 2]
