"""The one-sentence verdict per task, generated from the comparisons (never written by hand).

Rules, per strategy against random on one metric:

- a difference at a label count counts only when it is *beyond the seed noise*: the 95% paired
  bootstrap interval of the mean score difference excludes 0; otherwise the strategy is "within noise";
- ahead beyond noise and significant (paired test p < 0.05: the t-test when scipy is installed, else the
  exact sign flip): "saves Nx [CI] at B labels"; ahead beyond noise but not significant: "is ahead ...
  but not significantly"; behind beyond noise: "is behind ..." (significantly or not).
- the label count quoted is the largest one with a significant difference, else the largest beyond noise.
"""

from __future__ import annotations

import math
from collections.abc import Mapping

from atgen_core.analysis.savings import ALPHA, BudgetComparison, Comparison

__all__ = ["fmt_ci", "fmt_num", "fmt_p", "p_text", "strategy_verdict", "task_verdict"]


def fmt_num(value: float | None, digits: int = 2) -> str:
    """A number, or "not reached" for None, "∞" for infinity."""
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "–"
    if math.isinf(value):
        return "∞"
    return f"{value:.{digits}f}"


def fmt_ci(ci: tuple[float, float] | None, digits: int = 2, *, open_high: str = "∞") -> str:
    """``[lo, hi]``; an infinite bound is shown as ``open_high`` (e.g. "not reached")."""
    if ci is None or any(isinstance(v, float) and math.isnan(v) for v in ci):
        return "–"
    hi = open_high if math.isinf(ci[1]) else f"{ci[1]:.{digits}f}"
    lo = open_high if math.isinf(ci[0]) else f"{ci[0]:.{digits}f}"
    return f"[{lo}, {hi}]"


def fmt_p(value: float | None) -> str:
    """A p-value with three decimals, ``< 0.001`` below that, ``–`` when not computed."""
    if value is None or math.isnan(value):
        return "–"
    return "< 0.001" if value < 0.001 else f"{value:.3f}"


def p_text(b: BudgetComparison) -> str:
    """``p = 0.031 paired t-test, 0.062 sign flip; 5 seeds``."""
    tests = f"{fmt_p(b.p_sign_flip)} sign flip"
    if b.p_t_test is not None:
        tests = f"{fmt_p(b.p_t_test)} paired t-test, {tests}"
    return ("p " if tests.startswith("<") else "p = ") + f"{tests}; {b.seeds} seeds"


def _pick(budgets: list[BudgetComparison]) -> BudgetComparison:
    significant = [b for b in budgets if b.p_value < ALPHA]
    return (significant or budgets)[-1]


def strategy_verdict(label: str, comparison: Comparison) -> tuple[str, str]:
    """(kind, clause): kind is "saves", "ahead", "behind" or "noise"."""
    ahead = [b for b in comparison.budgets if b.beyond_noise and b.diff > 0]
    behind = [b for b in comparison.budgets if b.beyond_noise and b.diff < 0]
    if ahead:
        b = _pick(ahead)
        gain = f"{b.diff:+.3f} {fmt_ci(b.diff_ci, 3)}"
        if b.savings is not None and b.savings <= 1.0 + 1e-9:
            # Ahead of a dip: random itself had this score with fewer labels, so nothing is saved.
            own = b.random_labels_to_reach if b.random_labels_to_reach is not None else b.labels
            gain += f", yet no labels saved: random's curve dipped and had this score at {own:.0f} labels"
            verb = "significantly " if b.p_value < ALPHA else ""
            return "ahead", f"{label} is {verb}ahead at {b.labels} labels, {gain} ({p_text(b)})"
        if b.savings is not None:
            gain = f"{fmt_num(b.savings)}x {fmt_ci(b.savings_ci)}"
        elif not b.random_improved:
            gain += ", savings undefined: random labels did not improve it"
        if b.p_value < ALPHA:
            clause = f"{label} saves {gain} at {b.labels} labels ({p_text(b)})"
            if b.savings is None:
                clause = f"{label} is ahead by {gain} at {b.labels} labels ({p_text(b)})"
            return "saves", clause
        return "ahead", f"{label} is ahead at {b.labels} labels, {gain}, but not significantly ({p_text(b)})"
    if behind:
        b = _pick(behind)
        how = "significantly " if b.p_value < ALPHA else ""
        reach = (
            "never reaches random's score there"
            if b.labels_to_reach is None
            else f"needs {b.labels_to_reach:.0f} labels to match it"
        )
        if not b.random_improved:
            reach = "random labels did not improve it"
        return "behind", (
            f"{label} is {how}behind random at {b.labels} labels ({b.diff:+.3f} "
            f"{fmt_ci(b.diff_ci, 3)}; {reach}; {p_text(b)})"
        )
    return "noise", label


def task_verdict(metric: str, comparisons: Mapping[str, Comparison], baseline: str = "random") -> str:
    """One sentence for one metric over every strategy, e.g.
    "rougeL: entropy saves 1.60x [1.20, 2.10] at 64 labels (...); huds, hadas: within noise of random."
    """
    if not comparisons:
        return f"{metric}: no strategy to compare with {baseline} (run {baseline} and at least one other)."
    clauses: list[str] = []
    noise: list[str] = []
    unseen: list[BudgetComparison] = []
    for label, comparison in comparisons.items():
        if not comparison.budgets:
            clauses.append(f"{label}: no label count shared with {baseline}")
            continue
        kind, clause = strategy_verdict(label, comparison)
        if kind == "noise":
            noise.append(clause)
            unseen.append(comparison.budgets[-1])
        else:
            clauses.append(clause)
    if noise:
        clauses.append(f"{', '.join(noise)}: within noise of {baseline}{_resolution(unseen)}")
    return f"{metric}: " + "; ".join(clauses) + "."


def _resolution(budgets: list[BudgetComparison]) -> str:
    """`` (with 5 seeds only differences above about 0.03-0.04 at 64 labels are found, 80% power)``."""
    found = [b.detectable for b in budgets if b.detectable is not None]
    if not found or len({b.labels for b in budgets}) != 1:
        return ""
    low, high = min(found), max(found)
    span = f"{low:.3f}" if f"{low:.3f}" == f"{high:.3f}" else f"{low:.3f}-{high:.3f}"
    return (f" (with {budgets[0].seeds} seeds, only differences above about {span} at {budgets[0].labels} labels "
            "are found 80% of the time)")
