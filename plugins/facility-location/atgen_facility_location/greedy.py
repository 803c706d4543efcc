"""Greedy maximisation of a monotone submodular function given a gain oracle.

``lazy_greedy`` (Minoux's accelerated greedy) keeps the last computed gain of every candidate as an
upper bound of its current gain (submodularity: gains only shrink as the set grows) in a max-heap.
Each step pops the best bounds, recomputes their gains exactly and accepts the best fresh gain as soon
as no stale bound can beat it. It picks exactly what plain greedy picks: the candidate with the largest
gain, ties broken by the smallest candidate index.

Floating-point detail: gains that are mathematically equal can differ in their last bits, so ties
are defined with a small tolerance (``TieRule``): every gain within it of the best one ties, and the
smallest index among them wins. Plain greedy with the same rule picks the same candidates. A stale
bound may also undercut a recomputed gain by rounding; bounds are inflated by ``TieRule.slack`` so
such candidates are recomputed rather than skipped.

``stochastic_lazy_greedy`` (Mirzasoleiman et al., 2015, "lazier than lazy greedy") takes, at each
step, the best candidate of a random subset of size (N/k) ln(1/epsilon), again using stale bounds to
skip evaluations.
"""

from __future__ import annotations

import heapq
import math
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Protocol

import numpy as np

__all__ = ["GainOracle", "GreedyTrace", "TieRule", "lazy_greedy", "stochastic_lazy_greedy"]


class GainOracle(Protocol):
    """What the greedy loops need from an objective (candidates are numbered 0..n_candidates-1)."""

    n_candidates: int

    def gains(self, candidates: np.ndarray) -> np.ndarray:
        """Exact marginal gains (float64) of ``candidates`` with respect to the current set."""
        ...

    def add(self, candidate: int) -> None:
        """Add ``candidate`` to the current set."""
        ...

    def initial_bounds(self) -> np.ndarray:
        """Upper bounds (float64, one per candidate) of the gains before the first step."""
        ...


@dataclass
class GreedyTrace:
    """The picks in order, the gain of each pick, and how many gain evaluations were made.

    ``exhausted`` is true when greedy stopped early because every remaining gain was zero.
    """

    picks: list[int] = field(default_factory=list)
    gains: list[float] = field(default_factory=list)
    evaluations: int = 0
    exhausted: bool = False


@dataclass(frozen=True)
class TieRule:
    """When two gains count as equal: g ties with the best gain G when g >= G - (rel * |G| + abs_).

    Gains that are mathematically equal (two mutually nearest uncovered points always have equal
    gains, for example) come out of floating-point sums in different orders and differ in the last
    bits; with this rule they tie and the smaller candidate index wins, so the choice never depends on
    rounding. ``slack`` is how far a recomputed gain may exceed an earlier value of the same candidate
    (different blocking of the same products); stale bounds are inflated by it.
    """

    rel: float = 1e-5
    abs_: float = 1e-6
    slack: float = 1e-5

    def floor(self, best: float) -> float:
        """The smallest gain that still ties with ``best``."""
        return best - (self.rel * abs(best) + self.abs_)

    def may_reach(self, bound: float, floor: float) -> bool:
        """True when a candidate whose gain is at most ``bound`` may reach ``floor``."""
        return bound > 0.0 and bound + self.slack * abs(bound) + self.abs_ >= floor


def _winner(values: list[float], cands: list[int], rule: TieRule) -> tuple[int, float]:
    """Smallest candidate index among those tying with the best value (``-1`` when nothing is positive)."""
    best = max(values)
    if best <= 0.0:
        return -1, best
    floor = rule.floor(best)
    winner, gain = -1, 0.0
    for value, cand in zip(values, cands):
        if value >= floor and value > 0.0 and (winner < 0 or cand < winner):
            winner, gain = cand, value
    return winner, gain


def lazy_greedy(
    oracle: GainOracle,
    k: int,
    *,
    rule: TieRule = TieRule(),
    first_batch: int = 8,
    max_batch: int = 1 << 16,
) -> GreedyTrace:
    """Pick up to ``k`` candidates greedily (largest gain first, ties by smallest index, see ``TieRule``).

    Stops early when every remaining candidate has zero gain (``trace.exhausted``). Candidates are
    re-evaluated in batches whose size doubles within a step (``first_batch`` .. ``max_batch``) so that
    a step that needs many re-evaluations costs a few large matrix products instead of many small ones.

    When the oracle has ``refine(candidates) -> (bounds, exact)`` (cheap, tighter upper bounds that
    are sometimes exact), a popped candidate is first refined and pushed back with its new bound; only
    a candidate popped a second time within a step gets a full evaluation.
    """
    trace = GreedyTrace()
    n = oracle.n_candidates
    refine: Callable[[np.ndarray], tuple[np.ndarray, np.ndarray]] | None = getattr(oracle, "refine", None)
    refined_at = np.full(n, -1, dtype=np.int64)
    bounds = oracle.initial_bounds()
    heap: list[tuple[float, int]] = [(-float(b), i) for i, b in enumerate(bounds.tolist()) if b > 0.0]
    heapq.heapify(heap)
    target = min(k, n)
    step = 0
    while len(trace.picks) < target:
        values: list[float] = []
        cands: list[int] = []
        floor = -math.inf
        batch = first_batch
        while True:
            pending: list[int] = []
            to_refine: list[tuple[float, int]] = []
            while heap and len(pending) < batch and len(to_refine) < batch:
                if not rule.may_reach(-heap[0][0], floor):
                    break
                bound, cand = heapq.heappop(heap)
                if refine is None or refined_at[cand] == step:
                    pending.append(cand)
                else:
                    to_refine.append((-bound, cand))
            if to_refine and refine is not None:
                ids = np.asarray([c for _, c in to_refine], dtype=np.int64)
                refined_at[ids] = step
                new_bounds, exact = refine(ids)
                for (old, cand), new, is_exact in zip(to_refine, new_bounds.tolist(), exact.tolist()):
                    if is_exact:
                        values.append(new)
                        cands.append(cand)
                    elif min(old, new) > 0.0:
                        heapq.heappush(heap, (-min(old, new), cand))
            if pending:
                fresh = oracle.gains(np.asarray(pending, dtype=np.int64))
                trace.evaluations += len(pending)
                values.extend(fresh.tolist())
                cands.extend(pending)
                batch = min(batch * 2, max_batch)
            if values:
                floor = rule.floor(max(values))
            if not to_refine and not pending:
                break
        step += 1
        best, gain = _winner(values, cands, rule) if values else (-1, 0.0)
        if best < 0:
            trace.exhausted = True
            break
        oracle.add(best)
        trace.picks.append(best)
        trace.gains.append(gain)
        for value, cand in zip(values, cands):
            if cand != best and value > 0.0:
                heapq.heappush(heap, (-value, cand))
    return trace


def stochastic_lazy_greedy(
    oracle: GainOracle,
    k: int,
    rng: np.random.Generator,
    *,
    epsilon: float = 0.01,
    rule: TieRule = TieRule(),
    first_batch: int = 8,
) -> GreedyTrace:
    """Stochastic greedy: each step picks the best candidate of a random subset of the remaining ones.

    The subset size is ceil((N / k) ln(1 / epsilon)) (Mirzasoleiman et al., 2015); stale bounds skip
    evaluations inside the subset. When every candidate of a subset has zero gain the step falls back
    to all remaining candidates, so the search only stops once every gain is zero. Reproducible for a
    given ``rng`` state.
    """
    trace = GreedyTrace()
    n = oracle.n_candidates
    target = min(k, n)
    if target == 0:
        return trace
    bounds = np.asarray(oracle.initial_bounds(), dtype=np.float64).copy()
    alive = bounds > 0.0
    size = max(1, math.ceil(n / target * math.log(1.0 / epsilon)))
    while len(trace.picks) < target:
        remaining = np.flatnonzero(alive)
        if remaining.size == 0:
            trace.exhausted = True
            break
        subset = remaining if remaining.size <= size else np.sort(rng.choice(remaining, size, replace=False))
        best, gain = _best_in(oracle, subset, bounds, rule, first_batch, trace)
        if best < 0 and subset.size < remaining.size:
            best, gain = _best_in(oracle, remaining, bounds, rule, first_batch, trace)
        alive &= bounds > 0.0
        if best < 0:
            trace.exhausted = True
            break
        oracle.add(best)
        alive[best] = False
        trace.picks.append(best)
        trace.gains.append(gain)
    return trace


def _best_in(
    oracle: GainOracle,
    subset: np.ndarray,
    bounds: np.ndarray,
    rule: TieRule,
    first_batch: int,
    trace: GreedyTrace,
) -> tuple[int, float]:
    """The winner within ``subset`` (see ``TieRule``), refreshing ``bounds`` of what it evaluates."""
    order = subset[np.lexsort((subset, -bounds[subset]))]
    values: list[float] = []
    cands: list[int] = []
    floor = -math.inf
    pos, batch = 0, first_batch
    while pos < order.size and rule.may_reach(float(bounds[order[pos]]), floor):
        chunk = order[pos : pos + batch]
        fresh = oracle.gains(chunk)
        trace.evaluations += int(chunk.size)
        bounds[chunk] = fresh
        values.extend(fresh.tolist())
        cands.extend(chunk.tolist())
        floor = rule.floor(max(values))
        pos += chunk.size
        batch *= 2
    return _winner(values, cands, rule) if values else (-1, 0.0)
