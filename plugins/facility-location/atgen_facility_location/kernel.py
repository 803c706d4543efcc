"""Exact gains from a precomputed float32 kernel, for pools whose kernel fits a memory budget.

The kernel holds the cosine of every candidate (row) with every client (column); candidates are the
first clients, so the candidate x candidate part is symmetric and only its upper blocks are
multiplied (the lower ones are copies). A gain is then one row gather, a subtraction, a clamp and a
weighted sum: O(N) memory reads instead of an O(N d) product, which makes the many re-evaluations of
lazy greedy cheap. Used by exact mode when ``n_candidates x n_clients x 4`` bytes is at most
``kernel_memory_mb``; above that, ``DenseOracle`` recomputes similarities in bounded blocks.
"""

from __future__ import annotations

import numpy as np

from atgen_facility_location.threads import single_blas_thread

__all__ = ["KernelOracle", "build_kernel"]


def build_kernel(clients: np.ndarray, n_candidates: int, rows: int = 4096) -> np.ndarray:
    """Cosines of the first ``n_candidates`` clients with all clients, (n_candidates, n_clients).

    Row blocks of ``rows`` candidates are multiplied straight into the kernel, only from their own
    diagonal block rightwards; the part left of the diagonal is then copied from its transpose. Tall
    blocks keep BLAS efficient (2048-row blocks were twice as slow here as 4096-row ones).
    """
    n_clients = clients.shape[0]
    kernel = np.empty((n_candidates, n_clients), dtype=clients.dtype)
    right = np.ascontiguousarray(clients.T)
    for r0 in range(0, n_candidates, rows):
        r1 = min(n_candidates, r0 + rows)
        np.matmul(clients[r0:r1], right[:, r0:], out=kernel[r0:r1, r0:])
    for r0 in range(0, n_candidates, rows):
        r1 = min(n_candidates, r0 + rows)
        kernel[r1:, r0:r1] = kernel[r0:r1, r1:n_candidates].T
    return kernel


class KernelOracle:
    """Exact gains from ``kernel`` (see ``build_kernel``); same interface as ``DenseOracle``.

    Its products are matrix-vector ones (memory-bound): run the greedy under ``single_blas_thread``.
    """

    def __init__(
        self,
        kernel: np.ndarray,
        weights: np.ndarray,
        thresholds: np.ndarray,
        *,
        scale: float,
        floor: float,
        block_size: int,
    ) -> None:
        self.kernel = kernel
        self.n_candidates = kernel.shape[0]
        self.weights = weights.astype(kernel.dtype)
        self.thresholds = thresholds.astype(kernel.dtype).copy()
        self.scale = scale
        self.floor = floor
        self.block_size = block_size

    def initial_bounds(self) -> np.ndarray:
        """The same linear upper bound as ``DenseOracle.initial_bounds``, from kernel rows."""
        w = self.weights.astype(np.float64)
        out = np.empty(self.n_candidates, dtype=np.float64)
        rows = max(1, self.block_size // max(1, self.kernel.shape[1]))
        with single_blas_thread():
            for r0 in range(0, self.n_candidates, rows):
                out[r0 : r0 + rows] = self.kernel[r0 : r0 + rows] @ self.weights
        bounds = self.scale * (1.0 - self.floor) / 2.0 * (w.sum() + out)
        return np.asarray(bounds * (1.0 + 1e-6) + 1e-9, dtype=np.float64)

    def gains(self, candidates: np.ndarray) -> np.ndarray:
        """Exact gains of ``candidates``, float64."""
        out = np.empty(candidates.size, dtype=np.float64)
        rows = max(1, self.block_size // max(1, self.kernel.shape[1]))
        for r0 in range(0, candidates.size, rows):
            block = self.kernel[candidates[r0 : r0 + rows]]
            block -= self.thresholds
            np.maximum(block, 0.0, out=block)
            out[r0 : r0 + rows] = block @ self.weights
        return out * self.scale

    def add(self, candidate: int) -> None:
        """Raise every client's threshold to its cosine with ``candidate`` (a kernel row)."""
        np.maximum(self.thresholds, self.kernel[candidate], out=self.thresholds)
