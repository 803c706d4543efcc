"""Helpers for strategy authors: scaling score terms to a common range, and top-k by score.

The ranking rules, the same for every strategy (core and plugins):

- Higher score = selected first. Equal scores are broken by id (Python string order), so a ranking is
  a pure function of (ids, scores): a stable sort on ``(-score, id)``.
- ``NaN`` scores rank *after* every other score (including ``-inf``), among themselves by id, and are
  reported with a :class:`NaNScoreWarning` naming the strategy, the count and the first ids. They are
  only selected when ``k`` exceeds the number of items with a real score. (A strategy for which a NaN
  means a bug checks its inputs itself and raises before ranking.)
"""

from __future__ import annotations

import warnings
from collections.abc import Sequence
from typing import Literal

import numpy as np

__all__ = [
    "NaNScoreWarning",
    "Normalisation",
    "check_k",
    "id_ranks",
    "min_ranks",
    "normalise",
    "order_by_score",
    "report_nan",
    "top_k_ids",
    "unique_pool_ids",
]

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


_SHOWN_IDS = 5


class NaNScoreWarning(RuntimeWarning):
    """Some pool items got a NaN score; they are ranked last (see the strategy's documentation)."""


def report_nan(strategy: str, ids: Sequence[str], reason: str) -> None:
    """Warn that ``ids`` got no usable score in ``strategy`` and are therefore ranked last."""
    if not ids:
        return
    shown = ", ".join(repr(i) for i in list(ids)[:_SHOWN_IDS])
    more = f" and {len(ids) - _SHOWN_IDS} more" if len(ids) > _SHOWN_IDS else ""
    warnings.warn(
        f"strategy {strategy!r}: {len(ids)} pool item(s) have a NaN score ({reason}); they are ranked "
        f"last and only selected when k exceeds the number of scored items: {shown}{more}",
        NaNScoreWarning,
        stacklevel=3,
    )


def unique_pool_ids(ids: Sequence[str], strategy: str) -> list[str]:
    """The pool ids as a list; raises ``ValueError`` when an id occurs twice (ids must be unique)."""
    out = list(ids)
    seen: set[str] = set()
    for id_ in out:
        if id_ in seen:
            raise ValueError(f"strategy {strategy!r}: pool id {id_!r} occurs more than once; pool ids must be unique")
        seen.add(id_)
    return out


def check_k(k: int, strategy: str) -> None:
    """Reject a negative query size with an error naming the field."""
    if k < 0:
        raise ValueError(f"strategy {strategy!r}: k (query size) must be >= 0, got {k}")


def id_ranks(ids: Sequence[str]) -> np.ndarray:
    """Position of each id in sorted id order (int64), used as the tie-breaking key."""
    order = sorted(range(len(ids)), key=ids.__getitem__)
    ranks = np.empty(len(ids), dtype=np.int64)
    ranks[np.asarray(order, dtype=np.int64)] = np.arange(len(ids), dtype=np.int64)
    return ranks


def order_by_score(ids: Sequence[str], scores: np.ndarray) -> np.ndarray:
    """Positions sorted by descending score, ties by id, NaN last (no warning; see :func:`top_k_ids`)."""
    values = np.asarray(scores, dtype=np.float64)
    if values.shape != (len(ids),):
        raise ValueError(f"{len(ids)} ids but scores of shape {values.shape}")
    nan = np.isnan(values)
    negated = np.where(nan, 0.0, -values)
    # np.lexsort sorts by the last key first: NaN flag, then -score, then id.
    return np.lexsort((id_ranks(ids), negated, nan))


def top_k_ids(
    ids: Sequence[str],
    scores: np.ndarray,
    k: int,
    strategy: str = "strategy",
    nan_reason: str = "no usable signal",
) -> list[str]:
    """The ``min(k, len(ids))`` ids with the highest scores (ties by id, NaN last and reported)."""
    check_k(k, strategy)
    values = np.asarray(scores, dtype=np.float64)
    order = order_by_score(ids, values)
    nan_ids = [ids[i] for i in np.flatnonzero(np.isnan(values)).tolist()]
    if nan_ids:
        report_nan(strategy, sorted(nan_ids), nan_reason)
    return [ids[i] for i in order[: min(k, len(ids))].tolist()]


def min_ranks(ids: Sequence[str], scores: np.ndarray) -> np.ndarray:
    """Competition ranks of descending scores: 0 for the highest, equal scores share the lowest rank.

    NaN scores all share the rank equal to the number of non-NaN scores (after every real score).
    """
    values = np.asarray(scores, dtype=np.float64)
    order = order_by_score(ids, values)
    ranks = np.empty(len(ids), dtype=np.int64)
    if len(ids) == 0:
        return ranks
    ordered = values[order]
    nan = np.isnan(ordered)
    positions = np.arange(len(ids), dtype=np.int64)
    starts = np.ones(len(ids), dtype=bool)
    starts[1:] = (ordered[1:] != ordered[:-1]) & ~nan[1:]
    starts[1:] |= nan[1:] & ~nan[:-1]
    group_start = np.maximum.accumulate(np.where(starts, positions, 0))
    ranks[order] = group_start
    return ranks
