"""Cost per strategy, with the work shared across the cells of a seed counted once, separately.

Shared work: the untrained model's evaluation (computed by one cell of each seed, imported by the
others), and every round in which a benchmark imported a step from another cell (round 0 of a warm
start: the seeded first batch, its annotation, training and evaluation). Its seconds and money are paid
once per seed by whichever cell computed it, so they are shown on their own row, not in one strategy's.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

from atgen_core.analysis.runs import RunRecord

__all__ = ["UNTRAINED_ROUND", "cost_table"]

UNTRAINED_ROUND = -1
"""Round number of the untrained model's evaluation (``atgen_core.loop.BASE_ROUND``)."""


def _shared_rounds(runs: Sequence[RunRecord]) -> set[int]:
    """The untrained evaluation, and every round in which some cell of the seed imported a step."""
    return {UNTRAINED_ROUND} | {c.round for run in runs for c in run.steps if c.imported}


def _own_cost(run: RunRecord, shared: set[int], steps: Sequence[str]) -> tuple[dict[str, float], float]:
    seconds = dict.fromkeys(steps, 0.0)
    for c in run.steps:
        if c.round not in shared:
            seconds[c.step] += c.seconds
    return seconds, sum(m for r, m in run.money_by_round.items() if r not in shared)


def _shared_cost(runs: Sequence[RunRecord], shared: set[int]) -> tuple[dict[str, float], float]:
    seconds: dict[str, float] = {}
    for run in runs:
        for c in run.steps:
            if c.round in shared:
                seconds[c.step] = seconds.get(c.step, 0.0) + c.seconds
    return seconds, sum(m for run in runs for r, m in run.money_by_round.items() if r in shared)


def cost_table(groups: Mapping[str, Sequence[RunRecord]]) -> dict[str, Any]:
    """Mean cost per run of each strategy without shared work, and the shared work's mean per seed."""
    by_seed: dict[int, list[RunRecord]] = {}
    for runs in groups.values():
        for run in runs:
            by_seed.setdefault(run.seed, []).append(run)
    shared = {seed: _shared_rounds(runs) for seed, runs in by_seed.items()}
    steps = sorted({c.step for runs in groups.values() for run in runs for c in run.steps})
    strategies: dict[str, Any] = {}
    for label, runs in groups.items():
        own = [_own_cost(run, shared[run.seed], steps) for run in runs]
        strategies[label] = {
            "labels": float(np.mean([r.labels for r in runs])),
            "money": float(np.mean([money for _s, money in own])),
            "step_seconds": {s: float(np.mean([seconds[s] for seconds, _m in own])) for s in steps},
        }
    per_seed = [_shared_cost(runs, shared[seed]) for seed, runs in by_seed.items()]
    rounds = sorted(set().union(*shared.values())) if shared else []
    return {
        "steps": steps,
        "strategies": strategies,
        "shared": {
            "what": ["untrained evaluation" if r == UNTRAINED_ROUND else f"round {r}" for r in rounds],
            "step_seconds": {s: float(np.mean([secs.get(s, 0.0) for secs, _m in per_seed])) for s in steps},
            "money": float(np.mean([money for _s, money in per_seed])) if per_seed else 0.0,
            "seeds": len(by_seed),
        },
    }
