"""Vectorised Jensen–Shannon divergence between hallucination vectors (natural log, values in [0, ln 2])."""

from __future__ import annotations

import numpy as np

__all__ = ["mean_js_divergence", "to_distributions"]

_CHUNK_ELEMENTS = 4_000_000
"""Upper bound of pool rows x labelled rows x dims held at once (about 32 MB of float64)."""


def to_distributions(vectors: np.ndarray) -> np.ndarray:
    """Rows rescaled to sum 1; a row summing to 0 (no hallucination signal at all) becomes uniform."""
    v = np.asarray(vectors, dtype=np.float64)
    if v.ndim != 2:
        raise ValueError(f"expected a 2-D matrix of vectors, got shape {v.shape}")
    if (v < 0).any() or not np.isfinite(v).all():
        raise ValueError("hallucination vectors must be finite and non-negative")
    sums = v.sum(axis=1, keepdims=True)
    uniform = np.full_like(v, 1.0 / max(v.shape[1], 1))
    return np.where(sums > 0, v / np.where(sums > 0, sums, 1.0), uniform)


def _entropy(p: np.ndarray) -> np.ndarray:
    """Shannon entropy (nats) over the last axis, with 0 log 0 = 0."""
    logs = np.log(p, out=np.zeros_like(p), where=p > 0)
    return -(p * logs).sum(axis=-1)


def mean_js_divergence(pool: np.ndarray, labelled: np.ndarray) -> np.ndarray:
    """For each pool row x: the mean over labelled rows l of JS(x, l) = H((x + l) / 2) - (H(x) + H(l)) / 2.

    Rows are turned into distributions with :func:`to_distributions` first. The pool is processed in chunks
    so memory stays bounded for any |pool| x |labelled|. The squared scipy ``jensenshannon`` distance
    (base e) gives the same values.
    """
    p = to_distributions(pool)
    q = to_distributions(labelled)
    if q.shape[0] == 0:
        raise ValueError("the labelled set is empty: the diversity term needs at least one labelled vector")
    if p.shape[1] != q.shape[1]:
        raise ValueError(f"pool vectors have {p.shape[1]} dims, labelled vectors {q.shape[1]}")
    h_p = _entropy(p)
    mean_h_q = float(_entropy(q).mean())
    out = np.empty(p.shape[0], dtype=np.float64)
    rows = max(1, _CHUNK_ELEMENTS // max(1, q.shape[0] * q.shape[1]))
    for start in range(0, p.shape[0], rows):
        block = p[start : start + rows]
        mix = 0.5 * (block[:, None, :] + q[None, :, :])
        out[start : start + rows] = _entropy(mix).mean(axis=1) - 0.5 * h_p[start : start + rows] - 0.5 * mean_h_q
    return np.maximum(out, 0.0)
