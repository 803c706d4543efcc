"""Helpers for strategy authors: scaling score terms to a common range, and top-k by score with ties
broken by id (so a ranking is a pure function of ids and scores)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Literal

import numpy as np

__all__ = ["Normalisation", "normalise", "top_k_ids"]

Normalisation = Literal["minmax", "rank", "none"]
"""How score terms are put on a common scale before mixing."""


def normalise(values: np.ndarray, method: Normalisation) -> np.ndarray:
    """Scale a score vector: 'minmax' to [0, 1], 'rank' to average ranks in [0, 1], 'none' unchanged.

    A constant vector maps to zeros under 'minmax' and 'rank' (it carries no ranking information).
    """
    values = np.asarray(values, dtype=np.float64)
    if method == "none" or values.size == 0:
        return values.copy()
    if method == "minmax":
        low, high = float(values.min()), float(values.max())
        if high - low <= 0.0:
            return np.zeros_like(values)
        return (values - low) / (high - low)
    if method == "rank":
        if values.size == 1:
            return np.zeros_like(values)
        order = np.argsort(values, kind="stable")
        sorted_vals = values[order]
        starts = np.flatnonzero(np.r_[True, sorted_vals[1:] != sorted_vals[:-1]])
        ends = np.r_[starts[1:], sorted_vals.size]
        ranks = np.empty_like(values)
        ranks[order] = np.repeat((starts + ends - 1) / 2.0, ends - starts)
        return ranks / (values.size - 1)
    raise ValueError(f"unknown normalisation {method!r}; use 'minmax', 'rank' or 'none'")


def top_k_ids(ids: Sequence[str], scores: np.ndarray, k: int) -> list[str]:
    """The ``k`` ids with the largest scores; equal scores are broken by id (ascending)."""
    if len(ids) != scores.shape[0]:
        raise ValueError(f"{len(ids)} ids but {scores.shape[0]} scores")
    if np.isnan(scores).any():
        bad = ids[int(np.flatnonzero(np.isnan(scores))[0])]
        raise ValueError(f"score of id {bad!r} is NaN")
    k = max(0, min(k, len(ids)))
    if k == 0:
        return []
    order = np.lexsort((np.asarray(list(ids), dtype=str), -scores))
    return [ids[int(i)] for i in order[:k]]
