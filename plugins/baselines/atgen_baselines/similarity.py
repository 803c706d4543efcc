"""Similarity arithmetic on embedding matrices without ever materialising an N x N matrix.

Matrices are kept in a *working dtype*: float32 stays float32 (the usual embedder output, twice as fast
in BLAS), anything else becomes float64. Products are formed block by block (at most
``BLOCK_ELEMENTS`` similarity entries alive at once) and every sum is accumulated in float64.
"""

from __future__ import annotations

from typing import Literal

import numpy as np

__all__ = [
    "BLOCK_ELEMENTS",
    "Similarity",
    "clipped_similarity_sums",
    "finite_row_mask",
    "matvec",
    "prepare",
    "working_dtype",
]

Similarity = Literal["dot", "cosine"]

BLOCK_ELEMENTS = 1 << 22
"""Maximum number of similarity entries computed at once (32 MiB in float64)."""


def working_dtype(matrix: np.ndarray) -> type[np.floating]:
    """float32 for float32 input, float64 otherwise."""
    return np.float32 if matrix.dtype == np.float32 else np.float64


def finite_row_mask(matrix: np.ndarray) -> np.ndarray:
    """True for rows whose entries are all finite."""
    if matrix.shape[0] == 0:
        return np.zeros(0, dtype=bool)
    return np.asarray(np.isfinite(matrix).all(axis=1))


def prepare(matrix: np.ndarray, similarity: Similarity, dtype: type[np.floating]) -> np.ndarray:
    """Rows in ``dtype``, L2-normalised for ``cosine`` (an all-zero row stays zero: similarity 0)."""
    rows = np.asarray(matrix, dtype=dtype)
    if similarity == "dot":
        return rows
    norms = np.sqrt(np.einsum("ij,ij->i", rows, rows, dtype=np.float64))
    scale = np.divide(1.0, norms, out=np.zeros_like(norms), where=norms > 0)
    return (rows * scale[:, None]).astype(dtype, copy=False)


def _rows_per_block(columns: int) -> int:
    return max(1, BLOCK_ELEMENTS // max(1, columns))


def matvec(matrix: np.ndarray, vector: np.ndarray) -> np.ndarray:
    """``matrix @ vector`` as float64 (computed in the matrix's dtype, one matrix-vector product)."""
    if matrix.shape[0] == 0:
        return np.zeros(0, dtype=np.float64)
    return np.asarray(matrix @ vector.astype(matrix.dtype, copy=False), dtype=np.float64)


def clipped_similarity_sums(rows: np.ndarray, others: np.ndarray) -> np.ndarray:
    """For every row i: sum_j max(0, rows_i . others_j), in float64, blocked over ``rows``."""
    out = np.zeros(rows.shape[0], dtype=np.float64)
    if rows.shape[0] == 0 or others.shape[0] == 0:
        return out
    step = _rows_per_block(others.shape[0])
    others_t = np.ascontiguousarray(others.T)
    for start in range(0, rows.shape[0], step):
        block = rows[start : start + step] @ others_t
        np.maximum(block, 0, out=block)
        out[start : start + step] = block.sum(axis=1, dtype=np.float64)
    return out
