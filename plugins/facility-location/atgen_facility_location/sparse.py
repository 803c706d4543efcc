"""Facility-location gains over a sparse kernel: each client keeps only its top-n candidates.

The similarity of a client to a candidate outside its neighbour list is taken as zero (the usual
sparse approximation, as in apricot's ``n_neighbors``); with n at least the number of candidates the
kernel is complete and the gains equal the exact ones. Gains use the threshold form of
``dense.py``: gain(j) = scale * sum over clients i listing j of w_i max(0, c_ij - T_i).

The kernel is stored by candidate (compressed columns): a gain is a gather and a sum over the
clients that list the candidate, computed with ``np.bincount`` in a fixed order so the same
candidate always gets bit-identical gains.
"""

from __future__ import annotations

import numpy as np

__all__ = ["SparseOracle"]


class SparseOracle:
    """Gains from neighbour lists ``neighbours`` (clients x n candidate indices, -1 = none) and
    their cosines ``cosines``; ``weights`` are client multiplicities, ``thresholds`` initial T_i."""

    def __init__(
        self,
        neighbours: np.ndarray,
        cosines: np.ndarray,
        weights: np.ndarray,
        n_candidates: int,
        thresholds: np.ndarray,
        *,
        scale: float,
        floor: float,
        clients: np.ndarray | None = None,
    ) -> None:
        self.clients = clients
        self.n_candidates = n_candidates
        self.scale = scale
        self.thresholds = thresholds.astype(np.float64).copy()
        self.weights = weights.astype(np.float64)
        rows: np.ndarray = np.repeat(np.arange(neighbours.shape[0], dtype=np.int64), neighbours.shape[1])
        cands: np.ndarray = neighbours.ravel()
        sims: np.ndarray = cosines.ravel().astype(np.float64)
        keep = (cands >= 0) & (sims > floor)
        rows, cands, sims = rows[keep], cands[keep], sims[keep]
        order = np.lexsort((rows, cands))
        self.entry_client = rows[order]
        self.entry_cosine = sims[order]
        self.indptr = np.concatenate([[0], np.cumsum(np.bincount(cands, minlength=n_candidates))])

    @property
    def nnz(self) -> int:
        """Stored similarities."""
        return int(self.entry_client.size)

    def _entries(self, candidates: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        starts = self.indptr[candidates]
        lengths = self.indptr[candidates + 1] - starts
        total = int(lengths.sum())
        owner = np.repeat(np.arange(candidates.size, dtype=np.int64), lengths)
        offsets = np.cumsum(lengths) - lengths
        positions = np.arange(total, dtype=np.int64) - np.repeat(offsets - starts, lengths)
        return positions, owner

    def gains(self, candidates: np.ndarray) -> np.ndarray:
        """Gains of ``candidates`` over the sparse kernel, float64."""
        if candidates.size == 0:
            return np.zeros(0, dtype=np.float64)
        positions, owner = self._entries(candidates)
        clients = self.entry_client[positions]
        values = self.entry_cosine[positions] - self.thresholds[clients]
        np.maximum(values, 0.0, out=values)
        values *= self.weights[clients]
        return np.bincount(owner, weights=values, minlength=candidates.size) * self.scale

    def initial_bounds(self) -> np.ndarray:
        """The exact initial gains (one pass over the kernel)."""
        return self.gains(np.arange(self.n_candidates, dtype=np.int64))

    def add(self, candidate: int) -> None:
        """Raise the thresholds of the clients covered by ``candidate``.

        With ``clients`` given, coverage is exact: every client's threshold rises to its true cosine
        with the new pick (one matrix-vector product), not only the clients that list the pick.
        """
        if self.clients is not None:
            column = np.einsum("ij,j->i", self.clients, self.clients[candidate])  # faster than BLAS gemv here
            np.maximum(self.thresholds, column, out=self.thresholds)
            return
        seg = slice(int(self.indptr[candidate]), int(self.indptr[candidate + 1]))
        clients = self.entry_client[seg]
        self.thresholds[clients] = np.maximum(self.thresholds[clients], self.entry_cosine[seg])
