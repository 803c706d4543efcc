"""Shared helpers of the facility-location tests: synthetic clusters and an independent brute force."""

from __future__ import annotations

import numpy as np

SCALE_T0 = {"shifted-cosine": (0.5, -1.0), "clipped-cosine": (1.0, 0.0)}


def clusters(
    sizes: list[int], *, dim: int = 32, spread: float = 0.05, seed: int = 0
) -> tuple[np.ndarray, np.ndarray]:
    """Well-separated clusters: orthogonal centres, small noise; returns (embeddings, cluster label)."""
    rng = np.random.default_rng(seed)
    assert len(sizes) <= dim
    basis, _ = np.linalg.qr(rng.standard_normal((dim, dim)))
    rows, labels = [], []
    for c, size in enumerate(sizes):
        rows.append(basis[c] + spread * rng.standard_normal((size, dim)))
        labels.extend([c] * size)
    order = rng.permutation(sum(sizes))
    return np.concatenate(rows)[order].astype(np.float32), np.asarray(labels)[order]


def brute_force_greedy(
    pool: np.ndarray,
    labelled: np.ndarray | None,
    k: int,
    similarity: str,
    rel: float,
    abs_: float,
    ranks: np.ndarray | None = None,
) -> list[int]:
    """Plain greedy over the full float64 kernel, written independently of the package.

    Gains within rel * best + abs_ of the best tie and the smallest rank wins (the package's rule).
    Candidates equal to an already chosen or labelled vector have zero gain; stops at zero gain.
    """
    scale, t0 = SCALE_T0[similarity]
    x = pool.astype(np.float64)
    norms = np.linalg.norm(x, axis=1, keepdims=True)
    x = x / np.where(norms == 0, 1, norms)
    kernel = scale * np.maximum(0.0, x @ x.T - t0)
    cover = np.zeros(len(x))
    if labelled is not None and len(labelled):
        lab = labelled.astype(np.float64)
        lab = lab / np.linalg.norm(lab, axis=1, keepdims=True)
        cover = (scale * np.maximum(0.0, x @ lab.T - t0)).max(axis=1)
    rank = np.arange(len(x)) if ranks is None else ranks
    chosen: list[int] = []
    for _ in range(min(k, len(x))):
        gains = np.maximum(kernel - cover[:, None], 0.0).sum(axis=0)
        gains[chosen] = -1.0
        gains[(gains >= 0) & (gains <= abs_)] = 0.0  # rounding dust of a duplicate of a chosen vector
        best = gains.max()
        if best <= 0:
            break
        tied = np.flatnonzero(gains >= best - (rel * best + abs_))
        pick = int(tied[np.argmin(rank[tied])])
        chosen.append(pick)
        cover = np.maximum(cover, kernel[:, pick])
    return chosen
