"""Top-n most similar keys (by inner product of unit rows) for every query, in bounded memory.

Three searches:

- ``exact_knn``: brute force, blocks of queries x keys of at most ``block_size`` values, each block
  reduced to its top-n before the next one (O(N M d) time, O(block + N n) memory).
- ``ivf_knn``: approximate inverted-file search written with numpy: spherical k-means splits the keys
  into lists; the queries of a list scan the keys of the ``n_probe`` lists nearest to it.
  Deterministic (fixed seed).
- ``faiss_knn``: the same two searches with faiss (``IndexFlatIP`` / ``IndexIVFFlat``) when it is
  installed (the optional ``faiss`` extra).

Every function returns ``(indices, similarities)`` of shape (queries, min(n, keys)); a query that finds
fewer than n keys (possible with IVF) has index -1 and similarity -inf in the unused slots.
"""

from __future__ import annotations

import math
from contextlib import nullcontext
from typing import Any

import numpy as np

from atgen_facility_location.threads import single_blas_thread

SMALL_WORK = 1 << 31
"""Products with fewer multiply-adds than this run on one BLAS thread (see ``threads.py``)."""

__all__ = ["default_n_lists", "exact_knn", "faiss_available", "faiss_knn", "ivf_knn", "knn"]


def faiss_available() -> bool:
    """True when ``import faiss`` works."""
    try:
        import faiss  # noqa: F401
    except ImportError:
        return False
    return True


def default_n_lists(n_keys: int) -> int:
    """About sqrt(n) lists (at most 4096, at most one per key)."""
    return max(1, min(4096, n_keys, round(math.sqrt(n_keys))))


def _merge_top(
    best_idx: np.ndarray, best_sim: np.ndarray, new_idx: np.ndarray, new_sim: np.ndarray, n: int
) -> tuple[np.ndarray, np.ndarray]:
    """Row-wise top-n of the union of two candidate lists (n <= best width)."""
    sims = np.concatenate([best_sim, new_sim], axis=1)
    idx = np.concatenate([best_idx, new_idx], axis=1)
    if sims.shape[1] <= n:
        return idx, sims
    part = np.argpartition(-sims, n - 1, axis=1)[:, :n]
    return np.take_along_axis(idx, part, axis=1), np.take_along_axis(sims, part, axis=1)


def exact_knn(
    queries: np.ndarray, keys: np.ndarray, n: int, block_size: int
) -> tuple[np.ndarray, np.ndarray]:
    """Exact top-n keys per query by brute force in blocks."""
    nq, nk = queries.shape[0], keys.shape[0]
    width = min(n, nk)
    best_idx = np.full((nq, width), -1, dtype=np.int64)
    best_sim = np.full((nq, width), -np.inf, dtype=queries.dtype)
    if nq == 0 or width == 0:
        return best_idx, best_sim
    key_step = min(nk, max(4 * width, math.isqrt(block_size)))
    rows = max(1, block_size // key_step)
    for k0 in range(0, nk, key_step):
        kt = np.ascontiguousarray(keys[k0 : k0 + key_step].T)
        ids = np.arange(k0, k0 + kt.shape[1], dtype=np.int64)
        for r0 in range(0, nq, rows):
            sims = queries[r0 : r0 + rows] @ kt
            new_idx = np.broadcast_to(ids, sims.shape)
            if k0 == 0 and sims.shape[1] >= width:
                if sims.shape[1] == width:
                    best_idx[r0 : r0 + rows], best_sim[r0 : r0 + rows] = new_idx, sims
                    continue
                part = np.argpartition(-sims, width - 1, axis=1)[:, :width]
                best_idx[r0 : r0 + rows] = np.take_along_axis(new_idx, part, axis=1)
                best_sim[r0 : r0 + rows] = np.take_along_axis(sims, part, axis=1)
                continue
            merged = _merge_top(best_idx[r0 : r0 + rows], best_sim[r0 : r0 + rows], new_idx, sims, width)
            best_idx[r0 : r0 + rows], best_sim[r0 : r0 + rows] = merged
    return best_idx, best_sim


def _top_centroids(
    points: np.ndarray, centroids: np.ndarray, n: int, block_size: int
) -> np.ndarray:
    """Indices of the n most similar centroids per point (n = 1 gives the assignment)."""
    out = np.empty((points.shape[0], n), dtype=np.int64)
    rows = max(1, block_size // max(1, centroids.shape[0]))
    ct = np.ascontiguousarray(centroids.T)
    small = points.shape[0] * centroids.shape[0] * points.shape[1] < SMALL_WORK
    with single_blas_thread() if small else nullcontext():
        _fill_top(points, ct, n, rows, out)
    return out


def _fill_top(points: np.ndarray, ct: np.ndarray, n: int, rows: int, out: np.ndarray) -> None:
    for r0 in range(0, points.shape[0], rows):
        sims = points[r0 : r0 + rows] @ ct
        if n == 1:
            out[r0 : r0 + rows, 0] = sims.argmax(axis=1)
        elif n >= sims.shape[1]:
            out[r0 : r0 + rows] = np.argsort(-sims, axis=1)[:, :n]
        else:
            out[r0 : r0 + rows] = np.argpartition(-sims, n - 1, axis=1)[:, :n]


def spherical_kmeans(
    points: np.ndarray, n_lists: int, iterations: int, block_size: int, seed: int = 0
) -> np.ndarray:
    """Unit centroids of a spherical k-means (Lloyd on the sphere) of unit rows, deterministic in seed.

    Trains on at most 32 points per list (a seeded sample); empty lists are re-seeded with the
    sample points farthest from their centroid.
    """
    rng = np.random.default_rng(seed)
    n_lists = min(n_lists, points.shape[0])
    sample_size = min(points.shape[0], 32 * n_lists)
    if sample_size < points.shape[0]:
        sample = points[np.sort(rng.choice(points.shape[0], sample_size, replace=False))]
    else:
        sample = points
    centroids = sample[rng.choice(sample.shape[0], n_lists, replace=False)].copy()
    for _ in range(iterations):
        assign = _top_centroids(sample, centroids, 1, block_size)[:, 0]
        order = np.argsort(assign, kind="stable")
        counts = np.bincount(assign, minlength=n_lists)
        nonempty = np.flatnonzero(counts)
        starts = np.concatenate([[0], np.cumsum(counts)])[nonempty]
        sums = np.add.reduceat(sample[order], starts, axis=0)
        new = centroids.copy()
        new[nonempty] = sums
        empty = np.flatnonzero(counts == 0)
        if empty.size:
            fit = np.einsum("ij,ij->i", sample, centroids[assign])
            new[empty] = sample[np.argsort(fit, kind="stable")[: empty.size]]
        norms = np.linalg.norm(new, axis=1, keepdims=True)
        norms[norms == 0] = 1.0
        centroids = (new / norms).astype(points.dtype)
    return centroids


def ivf_knn(
    queries: np.ndarray,
    keys: np.ndarray,
    n: int,
    *,
    block_size: int,
    n_lists: int | None = None,
    n_probe: int = 4,
    iterations: int = 8,
    seed: int = 0,
) -> tuple[np.ndarray, np.ndarray]:
    """Approximate top-n keys per query from an inverted file built by spherical k-means.

    Every query goes to its nearest list; all queries of a list search the keys of the ``n_probe``
    lists nearest to that list's centroid (its own included) in one matrix product, so the search is
    a few hundred dense blocks instead of one small product per query.
    """
    nq, nk = queries.shape[0], keys.shape[0]
    width = min(n, nk)
    lists = min(n_lists or default_n_lists(nk), nk)
    if nq == 0 or width == 0 or n_probe >= lists:
        return exact_knn(queries, keys, n, block_size)
    centroids = spherical_kmeans(keys, lists, iterations, block_size, seed)
    key_list = _top_centroids(keys, centroids, 1, block_size)[:, 0]
    query_list = key_list if queries is keys else _top_centroids(queries, centroids, 1, block_size)[:, 0]
    probes = _top_centroids(centroids, centroids, n_probe, block_size)
    key_order = np.argsort(key_list, kind="stable")
    key_bounds = np.concatenate([[0], np.cumsum(np.bincount(key_list, minlength=lists))])
    query_order = np.argsort(query_list, kind="stable")
    query_bounds = np.concatenate([[0], np.cumsum(np.bincount(query_list, minlength=lists))])
    best_idx = np.full((nq, width), -1, dtype=np.int64)
    best_sim = np.full((nq, width), -np.inf, dtype=queries.dtype)
    with single_blas_thread():
        _search_lists(
            queries, keys, probes, (key_order, key_bounds), (query_order, query_bounds), best_idx, best_sim, block_size
        )
    return best_idx, best_sim


def _search_lists(
    queries: np.ndarray,
    keys: np.ndarray,
    probes: np.ndarray,
    key_lists: tuple[np.ndarray, np.ndarray],
    query_lists: tuple[np.ndarray, np.ndarray],
    best_idx: np.ndarray,
    best_sim: np.ndarray,
    block_size: int,
) -> None:
    """Fill ``best_idx`` / ``best_sim`` list by list (see ``ivf_knn``); lists are (order, bounds)."""
    width = best_idx.shape[1]
    key_order, key_bounds = key_lists
    query_order, query_bounds = query_lists
    for lst in range(probes.shape[0]):
        asking = query_order[query_bounds[lst] : query_bounds[lst + 1]]
        if asking.size == 0:
            continue
        members = np.concatenate([key_order[key_bounds[p] : key_bounds[p + 1]] for p in probes[lst]])
        if members.size == 0:
            continue
        found = min(width, members.size)
        kt = np.ascontiguousarray(keys[members].T)
        rows = max(1, block_size // members.size)
        for r0 in range(0, asking.size, rows):
            qs = asking[r0 : r0 + rows]
            sims = queries[qs] @ kt
            if found < members.size:
                part = np.argpartition(-sims, found - 1, axis=1)[:, :found]
                best_idx[qs, :found] = members[part]
                best_sim[qs, :found] = np.take_along_axis(sims, part, axis=1)
            else:
                best_idx[qs, :found] = members
                best_sim[qs, :found] = sims


def faiss_knn(
    queries: np.ndarray,
    keys: np.ndarray,
    n: int,
    *,
    approximate: bool,
    n_lists: int | None = None,
    n_probe: int = 4,
    batch: int = 16384,
) -> tuple[np.ndarray, np.ndarray]:
    """Top-n with faiss: exact ``IndexFlatIP`` or approximate ``IndexIVFFlat`` (inner product)."""
    import faiss

    nq, nk = queries.shape[0], keys.shape[0]
    width = min(n, nk)
    if nq == 0 or width == 0:
        return np.full((nq, width), -1, dtype=np.int64), np.full((nq, width), -np.inf, dtype=queries.dtype)
    d = keys.shape[1]
    k32 = np.ascontiguousarray(keys, dtype=np.float32)
    lists = min(n_lists or default_n_lists(nk), nk)
    index: Any
    if approximate and n_probe < lists:
        quantizer = faiss.IndexFlatIP(d)
        index = faiss.IndexIVFFlat(quantizer, d, lists, faiss.METRIC_INNER_PRODUCT)
        index.cp.seed = 0
        index.train(k32)
        index.nprobe = n_probe
    else:
        index = faiss.IndexFlatIP(d)
    index.add(k32)
    out_idx = np.empty((nq, width), dtype=np.int64)
    out_sim = np.empty((nq, width), dtype=np.float32)
    for r0 in range(0, nq, batch):
        q32 = np.ascontiguousarray(queries[r0 : r0 + batch], dtype=np.float32)
        sims, idx = index.search(q32, width)
        out_idx[r0 : r0 + batch], out_sim[r0 : r0 + batch] = idx, sims
    out_sim[out_idx < 0] = -np.inf
    return out_idx, out_sim.astype(queries.dtype)


def knn(
    queries: np.ndarray,
    keys: np.ndarray,
    n: int,
    *,
    approximate: bool,
    backend: str,
    block_size: int,
    n_lists: int | None = None,
    n_probe: int = 4,
    iterations: int = 8,
) -> tuple[np.ndarray, np.ndarray]:
    """Dispatch to the numpy or faiss search (``backend`` is 'numpy' or 'faiss')."""
    if backend == "faiss":
        return faiss_knn(queries, keys, n, approximate=approximate, n_lists=n_lists, n_probe=n_probe)
    if approximate:
        return ivf_knn(
            queries, keys, n, block_size=block_size, n_lists=n_lists, n_probe=n_probe, iterations=iterations
        )
    return exact_knn(queries, keys, n, block_size)
