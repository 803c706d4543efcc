"""The vectorised diversity term equals a naive per-pair reference implementation."""

from __future__ import annotations

import numpy as np
import pytest
from atgen_hads import divergence
from atgen_hads.divergence import mean_js_divergence, to_distributions

jensenshannon = pytest.importorskip("scipy.spatial.distance").jensenshannon


def naive_mean_js(pool: np.ndarray, labelled: np.ndarray) -> np.ndarray:
    """Reference: a double Python loop of scipy JS distances, squared (zero rows made uniform first)."""

    def dist(v: np.ndarray) -> np.ndarray:
        return v / v.sum() if v.sum() > 0 else np.full(v.shape, 1.0 / v.size)

    out = []
    for x in pool:
        values = [float(jensenshannon(dist(x), dist(lab))) ** 2 for lab in labelled]
        out.append(sum(values) / len(values))
    return np.array(out)


@pytest.mark.parametrize("dims", [2, 3, 5])
def test_vectorised_equals_naive(dims: int) -> None:
    rng = np.random.default_rng(dims)
    pool = rng.uniform(0, 1, size=(23, dims))
    labelled = rng.uniform(0, 1, size=(9, dims))
    pool[3] = 0.0  # a perfectly faithful output: no hallucination signal at all
    pool[5, 0] = 0.0
    labelled[2] = 0.0
    np.testing.assert_allclose(mean_js_divergence(pool, labelled), naive_mean_js(pool, labelled), atol=1e-12)


def test_chunking_does_not_change_values(monkeypatch: pytest.MonkeyPatch) -> None:
    rng = np.random.default_rng(0)
    pool, labelled = rng.uniform(size=(50, 3)), rng.uniform(size=(11, 3))
    full = mean_js_divergence(pool, labelled)
    monkeypatch.setattr(divergence, "_CHUNK_ELEMENTS", 40)  # 1 pool row per chunk
    np.testing.assert_allclose(mean_js_divergence(pool, labelled), full, atol=1e-15)


def test_bounds_and_identity() -> None:
    same = np.array([[0.2, 0.3, 0.5]])
    assert mean_js_divergence(same, same * 4)[0] == pytest.approx(0.0, abs=1e-15)
    disjoint = mean_js_divergence(np.array([[1.0, 0.0]]), np.array([[0.0, 1.0]]))
    assert disjoint[0] == pytest.approx(np.log(2.0))


def test_input_errors() -> None:
    with pytest.raises(ValueError, match="labelled set is empty"):
        mean_js_divergence(np.ones((2, 3)), np.ones((0, 3)))
    with pytest.raises(ValueError, match="non-negative"):
        to_distributions(np.array([[0.5, -0.1]]))
    with pytest.raises(ValueError, match="dims"):
        mean_js_divergence(np.ones((2, 3)), np.ones((2, 2)))
