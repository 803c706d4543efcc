"""Exact facility-location gains, with similarities computed in memory-bounded blocks.

Every similarity used here has the form s_ij = scale * max(0, c_ij - t0) with c_ij the cosine of two
unit vectors: (1 + cos)/2 is scale 1/2, t0 = -1 and max(0, cos) is scale 1, t0 = 0. Keeping, per
client, T_i = max(t0, max_{j in S} c_ij) instead of m_i = max_{j in S} s_ij turns the marginal gain
into one threshold per client:

    gain(j | S) = sum_i w_i max(0, s_ij - m_i) = scale * sum_i w_i max(0, c_ij - T_i).

So a block of gains is one matrix product, one subtraction, one clamp and one weighted column sum.
No N x N matrix is ever held: blocks of at most ``block_size`` values are computed and discarded.
"""

from __future__ import annotations

import math
from contextlib import nullcontext

import numpy as np

from atgen_facility_location.threads import single_blas_thread

__all__ = ["DenseOracle", "block_rows", "max_similarity"]

SMALL_BATCH = 64
"""Gain evaluations of at most this many candidates run their products on one BLAS thread."""

NEAR_FRACTION = 1.0
"""At most this fraction of all (client, candidate) pairs goes into near lists (the budget decides:
long lists cost memory, short ones leave loose far parts and more matrix products)."""


def block_rows(n_columns: int, block_size: int) -> int:
    """Rows per block so that a block of ``n_columns`` columns holds at most ``block_size`` values."""
    return max(1, block_size // max(1, n_columns))


def max_similarity(queries: np.ndarray, keys: np.ndarray, floor: float, block_size: int) -> np.ndarray:
    """max(floor, max_j cos(q_i, k_j)) for every query row (unit rows), in bounded blocks."""
    out = np.full(queries.shape[0], floor, dtype=queries.dtype)
    if keys.shape[0] == 0 or queries.shape[0] == 0:
        return out
    key_step = min(keys.shape[0], max(1, block_size // 64))
    rows = block_rows(key_step, block_size)
    for k0 in range(0, keys.shape[0], key_step):
        kt = np.ascontiguousarray(keys[k0 : k0 + key_step].T)
        for r0 in range(0, queries.shape[0], rows):
            sims = queries[r0 : r0 + rows] @ kt
            np.maximum(out[r0 : r0 + rows], sims.max(axis=1), out=out[r0 : r0 + rows])
    return out


class DenseOracle:
    """Exact gains over all clients; candidates are the first ``n_candidates`` client rows.

    ``clients`` are unit rows (float32 or float64), ``weights`` the multiplicity of each client,
    ``thresholds`` the initial T_i (t0, or the best similarity to the labelled set). Memory is
    O(N d) plus a few blocks of ``block_size`` values plus the near lists (``cache_entries`` pairs).

    Near lists and cheap bounds. Each dense evaluation of candidate j splits its gain at a cosine
    level theta: the near part comes from the clients with c_ij > theta, which are stored (client,
    cosine) so the near part can be recomputed exactly at any time without a matrix product; the far
    part (clients with c_ij <= theta) is stored as a number, an upper bound of its later values since
    thresholds only rise. ``refine`` returns near(now) + far(then): a tight upper bound, and the exact
    gain when the far part was zero. theta is the smallest level whose near lists fit the budget
    (estimated from a sample of cosines), so memory stays bounded for any pool size.
    """

    def __init__(
        self,
        clients: np.ndarray,
        weights: np.ndarray,
        n_candidates: int,
        thresholds: np.ndarray,
        *,
        scale: float,
        floor: float,
        block_size: int,
        cache_entries: int = 0,
        seed: int = 0,
    ) -> None:
        self.clients = clients
        self.weights = weights.astype(clients.dtype)
        self.weights64 = weights.astype(np.float64)
        self.n_candidates = n_candidates
        self.thresholds = thresholds.astype(clients.dtype).copy()
        self.scale = scale
        self.floor = floor
        self.block_size = block_size
        self.cache_entries = cache_entries
        self.cache_used = 0
        self.near: dict[int, tuple[np.ndarray, np.ndarray]] = {}
        self.far = np.full(n_candidates, np.inf)
        self.theta = self._choose_theta(seed) if cache_entries > 0 else np.inf

    def _choose_theta(self, seed: int) -> float:
        """The cosine level above which about ``cache_entries`` pairs lie (from a sampled block)."""
        n_clients = self.clients.shape[0]
        total = float(n_clients) * float(self.n_candidates)
        if total <= self.cache_entries or self.n_candidates == 0:
            return self.floor
        rng = np.random.default_rng(seed)
        cols = rng.choice(self.n_candidates, size=min(self.n_candidates, 256), replace=False)
        rows = rng.choice(n_clients, size=min(n_clients, max(1, self.block_size // cols.size)), replace=False)
        sample = (self.clients[rows] @ self.clients[cols].T).ravel()
        keep = 1.0 - min(self.cache_entries / total, NEAR_FRACTION)
        return max(self.floor, float(np.quantile(sample, keep)))

    def initial_bounds(self) -> np.ndarray:
        """Upper bounds from the linear relaxation: gain(j) <= scale * sum_i w_i (1 + c_ij)(1 - t0)/2.

        max(0, c - T) <= max(0, c - t0) <= (1 + c)(1 - t0)/2 for c in [-1, 1] and T >= t0 >= -1 (the
        chord of a convex function). For (1 + cos)/2 with nothing covered yet the bound is the gain
        itself; it costs one matrix-vector product.
        """
        w = self.weights64
        centre = np.einsum("i,ij->j", w, self.clients.astype(np.float64))
        cands = self.clients[: self.n_candidates].astype(np.float64)
        bounds = self.scale * (1.0 - self.floor) / 2.0 * (w.sum() + np.einsum("ij,j->i", cands, centre))
        # Headroom for rounding: the greedy treats bounds as safe, so never let one undercut a gain.
        return np.asarray(bounds * (1.0 + 1e-6) + 1e-9, dtype=np.float64)

    def refine(self, candidates: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Cheap (bound, exact) per candidate: near part now + stored far part; inf when unknown."""
        bounds = np.full(candidates.size, np.inf)
        exact = np.zeros(candidates.size, dtype=bool)
        cand_list = candidates.tolist()
        known = [p for p, c in enumerate(cand_list) if c in self.near]
        if not known:
            return bounds, exact
        cands = [cand_list[p] for p in known]
        lists = [self.near[c] for c in cands]
        sizes = np.fromiter((r.size for r, _ in lists), dtype=np.int64, count=len(lists))
        rows = np.concatenate([r for r, _ in lists])
        diff = np.concatenate([c for _, c in lists])
        diff -= self.thresholds[rows]
        np.maximum(diff, 0.0, out=diff)
        owner = np.repeat(np.arange(len(cands)), sizes)
        near = np.bincount(owner, weights=diff * self.weights[rows], minlength=len(cands))
        alive = np.bincount(owner, weights=diff > 0, minlength=len(cands))
        for pos in np.flatnonzero(alive * 2 < sizes).tolist():
            cand_rows, cos = lists[pos]
            keep = cos > self.thresholds[cand_rows]
            self.cache_used -= int(cand_rows.size - keep.sum())
            self.near[cands[pos]] = (cand_rows[keep], cos[keep])
        far = self.far[cands]
        idx = np.asarray(known)
        bounds[idx] = (near + far) * self.scale
        exact[idx] = far == 0.0
        return bounds, exact

    def gains(self, candidates: np.ndarray) -> np.ndarray:
        """Exact gains of ``candidates`` (candidate indices) by matrix products, float64.

        Also refreshes their near lists and far parts (within the memory budget).
        """
        out = np.zeros(candidates.size, dtype=np.float64)
        if candidates.size == 0:
            return out
        col_step = min(candidates.size, max(1, math.isqrt(self.block_size)))
        rows = block_rows(col_step, self.block_size)
        keep_lists = self.cache_entries > 0
        cut = np.maximum(self.thresholds, self.theta) if keep_lists else self.thresholds
        small = candidates.size <= SMALL_BATCH
        with single_blas_thread() if small else nullcontext():
            self._blocks(candidates, col_step, rows, keep_lists, cut, out)
        return out * self.scale

    def _blocks(
        self,
        candidates: np.ndarray,
        col_step: int,
        rows: int,
        keep_lists: bool,
        cut: np.ndarray,
        out: np.ndarray,
    ) -> None:
        """The blocked products of ``gains``: fills ``out`` with unscaled gains."""
        n_clients = self.clients.shape[0]
        for c0 in range(0, candidates.size, col_step):
            cols = candidates[c0 : c0 + col_step]
            cand_rows = self.clients[cols]
            total = np.zeros(cols.size, dtype=np.float64)
            positive = np.zeros(cols.size, dtype=np.int64)
            pieces: list[tuple[np.ndarray, np.ndarray, np.ndarray]] = []
            for r0 in range(0, n_clients, rows):
                raw = cand_rows @ self.clients[r0 : r0 + rows].T
                diff = raw - self.thresholds[r0 : r0 + rows]
                np.maximum(diff, 0.0, out=diff)
                total += diff @ self.weights[r0 : r0 + rows]
                if keep_lists:
                    positive += np.count_nonzero(diff, axis=1)
                    which, where = np.nonzero(raw > cut[r0 : r0 + rows])
                    pieces.append((which, where + r0, raw[which, where]))
            out[c0 : c0 + cols.size] = total
            if keep_lists:
                self._store(cols, pieces, total, positive)

    def _store(
        self,
        cols: np.ndarray,
        pieces: list[tuple[np.ndarray, np.ndarray, np.ndarray]],
        total: np.ndarray,
        positive: np.ndarray,
    ) -> None:
        """Keep the near lists of ``cols`` (budget permitting) and their far parts."""
        which = np.concatenate([p[0] for p in pieces])
        where = np.concatenate([p[1] for p in pieces]).astype(np.int32)
        cos = np.concatenate([p[2] for p in pieces])
        if len(pieces) > 1:  # one piece per row block; each is already grouped by candidate
            order = np.argsort(which, kind="stable")
            which, where, cos = which[order], where[order], cos[order]
        starts = np.searchsorted(which, np.arange(cols.size + 1))
        diff = np.maximum(cos.astype(np.float64) - self.thresholds[where], 0.0) * self.weights64[where]
        near = np.bincount(which, weights=diff, minlength=cols.size)
        for pos, cand in enumerate(cols.tolist()):
            lo, hi = int(starts[pos]), int(starts[pos + 1])
            old = self.near.pop(cand, None)
            if old is not None:
                self.cache_used -= int(old[0].size)
            if self.cache_used + (hi - lo) > self.cache_entries:
                self.far[cand] = np.inf
                continue
            self.near[cand] = (where[lo:hi].copy(), cos[lo:hi].copy())
            self.cache_used += hi - lo
            if positive[pos] == hi - lo:
                self.far[cand] = 0.0  # every contributing client is in the near list
            else:
                # total - near loses digits to cancellation: pad by a margin relative to the total.
                self.far[cand] = max(float(total[pos] - near[pos]), 0.0) + 1e-6 * float(total[pos]) + 1e-9

    def add(self, candidate: int) -> None:
        """Raise every client's threshold to its cosine with ``candidate``."""
        # einsum: measured faster than a BLAS matrix-vector product (threaded or not) on this machine.
        column = np.einsum("ij,j->i", self.clients, self.clients[candidate])
        np.maximum(self.thresholds, column, out=self.thresholds)
        dropped = self.near.pop(candidate, None)
        if dropped is not None:
            self.cache_used -= int(dropped[0].size)
        if self.theta != np.inf and float(self.thresholds.min()) >= self.theta:
            self.far[np.isfinite(self.far)] = 0.0  # no client can gain from a cosine <= theta any more
