"""Neighbour searches and the memory-bounded blocks."""

from __future__ import annotations

import numpy as np
import pytest
from atgen_facility_location.dense import DenseOracle, max_similarity
from atgen_facility_location.knn import exact_knn, faiss_available, faiss_knn, ivf_knn
from atgen_facility_location.selection import unit_rows
from facility_location_testkit import clusters


def _truth(q: np.ndarray, k: np.ndarray, n: int) -> np.ndarray:
    return np.argsort(-(q.astype(np.float64) @ k.T.astype(np.float64)), axis=1, kind="stable")[:, :n]


@pytest.mark.parametrize("block_size", [4096, 1 << 22])
def test_exact_knn_is_exact_in_any_blocking(block_size: int) -> None:
    rng = np.random.default_rng(0)
    keys = unit_rows(rng.standard_normal((700, 16)))
    queries = unit_rows(rng.standard_normal((300, 16)))
    idx, sims = exact_knn(queries, keys, 7, block_size)
    order = np.argsort(-sims, axis=1)
    assert np.array_equal(np.take_along_axis(idx, order, axis=1), _truth(queries, keys, 7))
    assert np.allclose(sims, np.take_along_axis(queries @ keys.T, idx, axis=1))


def test_ivf_knn_recall_on_clusters() -> None:
    x, _ = clusters([150, 200, 90, 260, 120, 180], dim=24, seed=1, spread=0.3)
    keys = unit_rows(x)
    idx, _ = ivf_knn(keys, keys, 10, block_size=1 << 20, n_lists=10, n_probe=4)
    truth = _truth(keys, keys, 10)
    recall = np.mean([len(set(a) & set(b)) / 10 for a, b in zip(idx.tolist(), truth.tolist())])
    assert recall > 0.9
    assert (idx[:, 0] >= 0).all()


@pytest.mark.skipif(not faiss_available(), reason="faiss is not installed (optional extra)")
@pytest.mark.parametrize("approximate", [False, True])
def test_faiss_search(approximate: bool) -> None:
    x, _ = clusters([150, 200, 90, 260], dim=24, seed=2, spread=0.3)
    keys = unit_rows(x)
    idx, _ = faiss_knn(keys, keys, 5, approximate=approximate, n_lists=16, n_probe=4)
    truth = _truth(keys, keys, 5)
    recall = np.mean([len(set(a) & set(b)) / 5 for a, b in zip(idx.tolist(), truth.tolist())])
    assert recall == 1.0 if not approximate else recall > 0.9


def test_dense_gains_do_not_depend_on_block_size() -> None:
    rng = np.random.default_rng(3)
    clients = unit_rows(rng.standard_normal((500, 12)), "float64")
    thresholds = max_similarity(clients, clients[:5], -1.0, 4096)
    cands = np.arange(0, 400, 3)
    values = []
    for block in (4096, 50_000, 1 << 22):
        oracle = DenseOracle(clients, np.ones(500), 400, thresholds, scale=0.5, floor=-1.0, block_size=block)
        values.append(oracle.gains(cands))
    brute = 0.5 * np.maximum(clients @ clients[cands].T - thresholds[:, None], 0).sum(axis=0)
    for v in values:
        assert np.allclose(v, brute, rtol=1e-12, atol=1e-12)
