"""Learning curves: per-seed matrices, mean and sample sd over seeds, AULC and labels-to-reach."""

from __future__ import annotations

import itertools
import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from atgen_core.analysis.runs import RunRecord

__all__ = ["SeedCurves", "aulc", "first_reach", "labels_to_reach", "metric_keys", "sample_sd", "seed_curves"]


def aulc(points: Sequence[tuple[float, float]]) -> float:
    """Mean level of a piecewise-linear curve over its x range (the single value if one point)."""
    pts = sorted((x, y) for x, y in points if not math.isnan(y))
    if not pts:
        return math.nan
    if len(pts) == 1 or pts[-1][0] == pts[0][0]:
        return pts[-1][1]
    area = sum((x1 - x0) * (y0 + y1) / 2 for (x0, y0), (x1, y1) in itertools.pairwise(pts))
    return area / (pts[-1][0] - pts[0][0])


def first_reach(xs: Sequence[float], means: np.ndarray, targets: np.ndarray) -> np.ndarray:
    """Per row of ``means`` (curves over ``xs``), the first x where the curve reaches its target.

    Linear interpolation between the evaluated points; ``inf`` where the curve never reaches it.
    """
    x = np.asarray(xs, dtype=float)
    m = np.atleast_2d(np.asarray(means, dtype=float))
    t = np.asarray(targets, dtype=float).reshape(-1)
    reached = m >= t[:, None] - 1e-12
    hit = reached.argmax(axis=1)
    prev = np.maximum(hit - 1, 0)
    rows = np.arange(len(m))
    y0, y1 = m[rows, prev], m[rows, hit]
    with np.errstate(divide="ignore", invalid="ignore"):
        frac = np.clip(np.where(y1 > y0, (t - y0) / (y1 - y0), 1.0), 0.0, 1.0)
    out = x[prev] + frac * (x[hit] - x[prev])
    out = np.where(hit == 0, x[0], out)
    return np.where(reached.any(axis=1), out, np.inf)


def labels_to_reach(points: Sequence[tuple[float, float]], target: float) -> float | None:
    """The first x at which the piecewise-linear curve reaches ``target`` (None if it never does)."""
    pts = sorted(points)
    if not pts:
        return None
    value = float(first_reach([p[0] for p in pts], np.array([[p[1] for p in pts]]), np.array([target]))[0])
    return None if math.isinf(value) else value


def sample_sd(values: np.ndarray, axis: int = 0) -> np.ndarray:
    """Sample standard deviation over seeds (ddof=1); 0 where fewer than two seeds have a value."""
    arr = np.asarray(values, dtype=float)
    count = np.sum(~np.isnan(arr), axis=axis)
    mean = np.nansum(arr, axis=axis) / np.maximum(count, 1)
    squares = np.nansum((arr - np.expand_dims(mean, axis)) ** 2, axis=axis)
    return np.where(count > 1, np.sqrt(squares / np.maximum(count - 1, 1)), 0.0)


@dataclass
class SeedCurves:
    """One strategy's curves for one metric: ``values[i, j]`` is seed ``seeds[i]`` at ``xs[j]`` labels."""

    seeds: list[int]
    xs: list[int]
    values: np.ndarray

    @property
    def mean(self) -> np.ndarray:
        """Mean over seeds at each label count (NaN where no seed has a value)."""
        count = np.sum(~np.isnan(self.values), axis=0)
        total = np.nansum(self.values, axis=0)
        with np.errstate(invalid="ignore", divide="ignore"):
            return np.where(count > 0, total / np.maximum(count, 1), np.nan)

    @property
    def sd(self) -> np.ndarray:
        """Sample sd over seeds (ddof=1) at each label count."""
        return sample_sd(self.values, axis=0)

    def aulc_per_seed(self) -> dict[int, float]:
        """AULC of every seed's own curve."""
        return {s: aulc(list(zip(self.xs, row))) for s, row in zip(self.seeds, self.values.tolist())}

    def aligned(self, other: SeedCurves) -> tuple[list[int], list[int], np.ndarray, np.ndarray]:
        """Seeds and label counts both have, and both value matrices restricted to them (paired rows)."""
        seeds = [s for s in self.seeds if s in other.seeds]
        xs = [x for x in self.xs if x in other.xs]
        mine = self.values[np.ix_([self.seeds.index(s) for s in seeds], [self.xs.index(x) for x in xs])]
        theirs = other.values[np.ix_([other.seeds.index(s) for s in seeds], [other.xs.index(x) for x in xs])]
        return seeds, xs, mine, theirs


def seed_curves(runs: Sequence[RunRecord], key: str) -> SeedCurves:
    """Matrix of one metric over seeds x label counts; runs of the same seed (design budgets) are merged."""
    by_seed: dict[int, dict[int, list[float]]] = {}
    for run in runs:
        for n, vals in run.curve:
            if key in vals and vals[key] is not None:
                by_seed.setdefault(run.seed, {}).setdefault(n, []).append(float(vals[key]))
    seeds = sorted(by_seed)
    xs = sorted({n for points in by_seed.values() for n in points})
    values = np.full((len(seeds), len(xs)), np.nan)
    for i, seed in enumerate(seeds):
        for j, x in enumerate(xs):
            if x in by_seed[seed]:
                values[i, j] = float(np.mean(by_seed[seed][x]))
    return SeedCurves(seeds, xs, values)


def metric_keys(runs: Sequence[RunRecord]) -> list[str]:
    """Every metric value the runs recorded, in first-seen order (timings left out)."""
    keys: list[str] = []
    for run in runs:
        for _, vals in run.curve:
            keys.extend(k for k in vals if k not in keys and not k.startswith("time_"))
    return keys
