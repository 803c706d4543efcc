"""A strategy against random: labels to reach random's score, savings, bootstrap CIs and paired tests.

Every interval is a 95% percentile interval of a *paired* bootstrap over seeds: one resample of the
seeds (with replacement) is applied to both strategies, the mean curves are recomputed and every
quantity is derived again from them. Seeds are paired because a seed fixes the data split, the first
batch and the untrained evaluation for every strategy.
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from typing import Any

import numpy as np

from atgen_core.analysis.curves import SeedCurves, first_reach, sample_sd

__all__ = [
    "ALPHA",
    "BOOTSTRAP_SAMPLES",
    "BudgetComparison",
    "Comparison",
    "compare",
    "detectable_difference",
    "percentile_ci",
    "seeds_needed",
    "sign_flip_pvalue",
    "t_test_pvalue",
]

BOOTSTRAP_SAMPLES = 2000
"""Resamples of the seeds per comparison (fixed RNG seed: the report is reproducible)."""
ALPHA = 0.05
"""Significance level of the verdict."""
_EXACT_SIGN_FLIP_MAX = 16
POWER = 0.8
"""Power at which the report states the smallest detectable difference."""
_MAX_SEEDS_PLANNED = 1000


def sign_flip_pvalue(differences: Sequence[float], *, seed: int = 0) -> float:
    """Two-sided sign-flip permutation p-value of the mean of paired differences.

    Exact (all 2^n sign patterns) up to 16 pairs, else 20,000 random sign patterns. With n pairs the
    smallest possible exact p-value is 2 / 2^n (0.25 for 3 seeds, 0.0625 for 5).
    """
    diffs = np.asarray([d for d in differences if not math.isnan(d)], dtype=float)
    if len(diffs) == 0:
        return math.nan
    if len(diffs) <= _EXACT_SIGN_FLIP_MAX:
        signs = np.array(list(itertools.product((1.0, -1.0), repeat=len(diffs))))
    else:
        signs = np.random.default_rng(seed).choice((1.0, -1.0), size=(20_000, len(diffs)))
    means = np.abs((signs * diffs).mean(axis=1))
    return float((means >= abs(diffs.mean()) - 1e-12).mean())


def t_test_pvalue(differences: Sequence[float]) -> float | None:
    """Two-sided paired t-test p-value (scipy, optional); None without scipy, < 2 pairs or zero spread."""
    diffs = [d for d in differences if not math.isnan(d)]
    if len(diffs) < 2 or np.allclose(diffs, diffs[0]):
        return None
    try:
        from scipy import stats
    except ImportError:
        return None
    return float(stats.ttest_1samp(diffs, 0.0).pvalue)


def _t_quantile(q: float, dof: int) -> float:
    """Student-t quantile (scipy when installed, else the normal quantile, which is smaller for few seeds)."""
    try:
        from scipy import stats
    except ImportError:
        from statistics import NormalDist

        return NormalDist().inv_cdf(q)
    return float(stats.t.ppf(q, dof))


def detectable_difference(sd: float, seeds: int, *, alpha: float = ALPHA, power: float = POWER) -> float | None:
    """The true mean difference a two-sided paired t-test at ``alpha`` finds with probability ``power``.

    ``(t[1 - alpha/2] + t[power]) * sd / sqrt(seeds)`` with ``seeds - 1`` degrees of freedom, where ``sd``
    is the sample sd of the per-seed differences: smaller gains than this usually go unnoticed with this
    many seeds. ``None`` for fewer than 2 seeds or a zero or unknown sd (identical differences on every
    seed, e.g. the shared first batch, give no spread to plan with).
    """
    if seeds < 2 or not math.isfinite(sd) or sd <= 0:
        return None
    return (_t_quantile(1 - alpha / 2, seeds - 1) + _t_quantile(power, seeds - 1)) * sd / math.sqrt(seeds)


def seeds_needed(diff: float, sd: float, *, alpha: float = ALPHA, power: float = POWER) -> int | None:
    """Seeds for which ``diff`` becomes the detectable difference (see :func:`detectable_difference`).

    ``None`` when it cannot be planned (no difference, unknown sd, or more than 1000 seeds needed).
    """
    if diff == 0 or not math.isfinite(sd) or sd <= 0 or not math.isfinite(diff):
        return None
    for seeds in range(2, _MAX_SEEDS_PLANNED + 1):
        found = detectable_difference(sd, seeds, alpha=alpha, power=power)
        if found is not None and found <= abs(diff):
            return seeds
    return None


def percentile_ci(values: np.ndarray, level: float = 0.95) -> tuple[float, float]:
    """Percentile interval of bootstrap values (sample values, no interpolation, so ``inf`` is kept)."""
    arr = np.sort(np.asarray(values, dtype=float))
    arr = arr[~np.isnan(arr)]
    if not len(arr):
        return math.nan, math.nan
    tail = (1.0 - level) / 2
    lo = arr[math.floor(tail * (len(arr) - 1))]
    hi = arr[math.ceil((1.0 - tail) * (len(arr) - 1))]
    return float(lo), float(hi)


@dataclass
class BudgetComparison:
    """A strategy against random at one evaluated label count."""

    labels: int
    seeds: int
    random_mean: float
    mean: float
    diff: float
    diff_ci: tuple[float, float]
    diff_sd: float
    beyond_noise: bool
    p_sign_flip: float
    p_t_test: float | None
    random_improved: bool
    labels_to_reach: float | None = None
    labels_to_reach_ci: tuple[float, float] | None = None
    random_labels_to_reach: float | None = None
    """The labels random's own mean curve first reaches its score at this budget with: the budget itself
    on a rising curve, fewer where random dipped (then its score here was already had earlier)."""
    savings: float | None = None
    """``random_labels_to_reach / labels_to_reach``: a dip of random is not counted as a saving."""
    savings_ci: tuple[float, float] | None = None
    detectable: float | None = None
    """The smallest true difference these seeds find at 80% power (see :func:`detectable_difference`)."""
    seeds_for_diff: int | None = None
    """Seeds that would make the observed difference detectable at 80% power (same seed-to-seed sd)."""

    @property
    def p_value(self) -> float:
        """The p-value the verdict uses: the t-test when available, else the sign flip."""
        return self.p_t_test if self.p_t_test is not None else self.p_sign_flip


@dataclass
class Comparison:
    """A strategy against random on one metric: per budget, and on AULC."""

    budgets: list[BudgetComparison]
    aulc_diff: float
    aulc_diff_ci: tuple[float, float]
    aulc_p_sign_flip: float
    aulc_p_t_test: float | None
    seeds: list[int]

    def to_dict(self) -> dict[str, Any]:
        """Plain data for summary.json (``inf`` becomes null: not reached / unbounded)."""
        return asdict(self)


def _savings(own: np.ndarray, reach: np.ndarray) -> np.ndarray:
    """Random's labels for its score over the strategy's labels for it (0 where never reached)."""
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.where(np.isinf(reach), 0.0, own / reach)


def compare(mine: SeedCurves, ref: SeedCurves, *, samples: int = BOOTSTRAP_SAMPLES, seed: int = 0) -> Comparison:
    """Compare ``mine`` with the baseline curves ``ref`` on the seeds and label counts both have."""
    seeds, xs, a, b = mine.aligned(ref)
    complete = ~(np.isnan(a).any(axis=0) | np.isnan(b).any(axis=0))
    xs = [x for x, ok in zip(xs, complete) if ok]
    a, b = a[:, complete], b[:, complete]
    rng = np.random.default_rng(seed)
    idx = rng.integers(0, len(seeds), size=(samples, len(seeds))) if seeds else np.zeros((0, 0), dtype=int)
    boot_a, boot_b = a[idx].mean(axis=1), b[idx].mean(axis=1)
    mean_a, mean_b, sd_b = a.mean(axis=0), b.mean(axis=0), sample_sd(b, axis=0)
    budgets = []
    for j in range(1, len(xs)):
        diffs = a[:, j] - b[:, j]
        diff_ci = percentile_ci(boot_a[:, j] - boot_b[:, j])
        improved = bool(mean_b[j] - mean_b[0] > sd_b[j]) if len(seeds) > 1 else bool(mean_b[j] > mean_b[0])
        item = BudgetComparison(
            labels=xs[j],
            seeds=len(seeds),
            random_mean=float(mean_b[j]),
            mean=float(mean_a[j]),
            diff=float(diffs.mean()),
            diff_ci=diff_ci,
            diff_sd=float(sample_sd(diffs)),
            beyond_noise=len(seeds) > 1 and bool(diff_ci[0] > 0 or diff_ci[1] < 0),
            p_sign_flip=sign_flip_pvalue(diffs.tolist()),
            p_t_test=t_test_pvalue(diffs.tolist()),
            random_improved=improved,
        )
        item.detectable = detectable_difference(item.diff_sd, len(seeds))
        item.seeds_for_diff = seeds_needed(item.diff, item.diff_sd)
        if improved:
            reach = float(first_reach(xs, mean_a[None, :], np.array([mean_b[j]]))[0])
            boot_reach = first_reach(xs, boot_a, boot_b[:, j])
            # Random's own labels for its score: the budget on a rising curve, fewer where it dipped.
            own = float(first_reach(xs, mean_b[None, :], np.array([mean_b[j]]))[0])
            boot_own = first_reach(xs, boot_b, boot_b[:, j])
            item.labels_to_reach = None if math.isinf(reach) else reach
            item.labels_to_reach_ci = percentile_ci(boot_reach)
            item.random_labels_to_reach = own
            item.savings = None if math.isinf(reach) else float(_savings(np.array([own]), np.array([reach]))[0])
            item.savings_ci = percentile_ci(_savings(boot_own, boot_reach))
        budgets.append(item)
    aulc_a, aulc_b = mine.aulc_per_seed(), ref.aulc_per_seed()
    aulc_diffs = np.array([aulc_a[s] - aulc_b[s] for s in seeds], dtype=float)
    boot_aulc = aulc_diffs[idx].mean(axis=1) if len(seeds) else np.zeros(0)
    return Comparison(
        budgets=budgets,
        aulc_diff=float(aulc_diffs.mean()) if len(seeds) else math.nan,
        aulc_diff_ci=percentile_ci(boot_aulc),
        aulc_p_sign_flip=sign_flip_pvalue(aulc_diffs.tolist()),
        aulc_p_t_test=t_test_pvalue(aulc_diffs.tolist()),
        seeds=seeds,
    )
