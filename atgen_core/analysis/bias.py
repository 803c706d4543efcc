"""Selection bias: what a strategy picked against the pool, and the inputs it picked unlike random.

Only the items a strategy chose itself count: the shared seeded first batch of a warm start (recorded as
``random-initial``) is the same for every strategy and is left out. The cluster histogram distance and
coverage need scikit-learn (``HashingVectorizer`` bag-of-words vectors, ``KMeans`` with a fixed seed);
without it those columns are left empty and the report says so.
"""

from __future__ import annotations

import warnings
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from atgen_core.analysis.runs import RunRecord

__all__ = ["CLUSTERS", "GeometryCache", "PoolGeometry", "picked_unlike_random", "selection_bias", "sklearn_available"]

CLUSTERS = 8


def sklearn_available() -> bool:
    """True when scikit-learn can be imported (cluster distance and coverage need it)."""
    try:
        import sklearn  # noqa: F401
    except ImportError:
        return False
    return True


@dataclass
class PoolGeometry:
    """Bag-of-words vectors (L2-normalised, sparse), cluster ids and distance to the centroid of one pool."""

    vectors: Any
    clusters: np.ndarray
    centroid_distance: np.ndarray

    @classmethod
    def build(cls, texts: Sequence[str], clusters: int = CLUSTERS, seed: int = 0) -> PoolGeometry | None:
        """None without scikit-learn or an empty pool."""
        if not texts or not sklearn_available():
            return None
        from sklearn.cluster import KMeans
        from sklearn.exceptions import ConvergenceWarning
        from sklearn.feature_extraction.text import HashingVectorizer

        vectors = HashingVectorizer(n_features=2**12, alternate_sign=False, norm="l2").transform(list(texts))
        k = max(1, min(clusters, len(set(texts))))
        with warnings.catch_warnings():  # fewer distinct vectors than clusters: fewer clusters, no noise
            warnings.simplefilter("ignore", ConvergenceWarning)
            assign = KMeans(n_clusters=k, n_init=10, random_state=seed).fit_predict(vectors)
        centroid = np.asarray(vectors.mean(axis=0)).ravel()
        norm = float(np.linalg.norm(centroid)) or 1.0
        distance = 1.0 - np.asarray(vectors @ (centroid / norm)).ravel()
        return cls(vectors, np.asarray(assign, dtype=int), distance)


class GeometryCache:
    """Strategies of a seed share their pool: cluster each distinct pool once."""

    def __init__(self) -> None:
        self._items: dict[tuple[tuple[str, str], ...], tuple[list[str], PoolGeometry | None]] = {}

    def get(self, run: RunRecord) -> tuple[list[str], PoolGeometry | None]:
        """Sorted pool ids and the pool's geometry (None without scikit-learn)."""
        ids = sorted(run.pool)
        key = tuple((i, run.pool[i]) for i in ids)
        if key not in self._items:
            texts = [run.pool[i] for i in ids]
            self._items[key] = (ids, PoolGeometry.build(texts))
        return self._items[key]


def selection_bias(run: RunRecord, cache: GeometryCache | None = None) -> dict[str, float]:
    """Mean words of pool and picked inputs; cluster TV distance and coverage when scikit-learn is present."""
    picked = sorted({i for _r, i in run.picked if i in run.pool})
    if not picked or not run.pool:
        return {}
    ids, geometry = (cache or GeometryCache()).get(run)
    out = {
        "pool_mean_words": float(np.mean([len(run.pool[i].split()) for i in ids])),
        "selected_mean_words": float(np.mean([len(run.pool[i].split()) for i in picked])),
    }
    if geometry is not None:
        position = {i: n for n, i in enumerate(ids)}
        rows = [position[i] for i in picked]
        k = int(geometry.clusters.max()) + 1
        pool_hist = np.bincount(geometry.clusters, minlength=k) / len(ids)
        sel_hist = np.bincount(geometry.clusters[rows], minlength=k) / len(rows)
        similarity = geometry.vectors @ geometry.vectors[rows].T
        out["cluster_tv_distance"] = float(0.5 * np.abs(pool_hist - sel_hist).sum())
        out["coverage"] = float(np.asarray(similarity.max(axis=1).todense()).mean())
    return out


def _pick_rates(runs: Sequence[RunRecord]) -> dict[str, int]:
    counts: dict[str, int] = {}
    for run in runs:
        for text in {run.pool[i] for _r, i in run.picked if i in run.pool}:
            counts[text] = counts.get(text, 0) + 1
    return counts


def _atypicality(runs: Sequence[RunRecord], cache: GeometryCache) -> dict[str, float]:
    """Distance of each input from its pool's centroid (word count when scikit-learn is absent)."""
    out: dict[str, float] = {}
    for run in runs:
        ids, geometry = cache.get(run)
        for n, i in enumerate(ids):
            text = run.pool[i]
            out[text] = float(geometry.centroid_distance[n]) if geometry else float(len(text.split()))
    return out


def picked_unlike_random(
    runs: Sequence[RunRecord], random_runs: Sequence[RunRecord], count: int = 3, cache: GeometryCache | None = None
) -> list[dict[str, Any]]:
    """The ``count`` inputs whose pick rate (share of runs that picked them) most exceeds random's.

    Ties are broken by distance from the pool centroid (most atypical first; input length without
    scikit-learn). The shared first batch is not counted.
    """
    cache = cache or GeometryCache()
    mine, theirs = _pick_rates(runs), _pick_rates(random_runs)
    far = _atypicality(runs, cache)
    n_mine, n_theirs = max(1, len(runs)), max(1, len(random_runs))

    def score(text: str) -> tuple[float, float, str]:
        rate = mine[text] / n_mine - (theirs.get(text, 0) / n_theirs if random_runs else 0.0)
        return (-rate, -far.get(text, 0.0), text)

    top = sorted(mine, key=score)[:count]
    return [
        {
            "input": text,
            "picked_runs": mine[text],
            "runs": len(runs),
            "random_picked_runs": theirs.get(text, 0),
            "random_runs": len(random_runs),
            "words": len(text.split()),
            "centroid_distance": far.get(text) if sklearn_available() else None,
        }
        for text in top
    ]
