"""Cost per strategy, with the work shared across the cells of a seed counted once, separately.

Shared work: the untrained model's evaluation (computed by one cell of each seed, imported by the
others), and any other step a benchmark imported from another cell (recorded with ``imported``). Its
seconds are paid once per seed, so they are shown on their own row, not as one strategy's cost.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

from atgen_core.analysis.runs import RunRecord

__all__ = ["UNTRAINED_ROUND", "cost_table"]

UNTRAINED_ROUND = -1
"""Round number of the untrained model's evaluation (``atgen_core.loop.BASE_ROUND``)."""


def _shared_steps(runs: Sequence[RunRecord]) -> set[tuple[int, str]]:
    shared = {(UNTRAINED_ROUND, "evaluate")}
    shared |= {(c.round, c.step) for run in runs for c in run.steps if c.imported}
    return shared


def _describe(pairs: set[tuple[int, str]]) -> list[str]:
    out = []
    for round_, step in sorted(pairs):
        out.append("untrained evaluation" if round_ == UNTRAINED_ROUND else f"round {round_} {step}")
    return out


def cost_table(groups: Mapping[str, Sequence[RunRecord]]) -> dict[str, Any]:
    """Mean cost per run of each strategy without shared work, and the shared work's mean per seed."""
    by_seed: dict[int, list[RunRecord]] = {}
    for runs in groups.values():
        for run in runs:
            by_seed.setdefault(run.seed, []).append(run)
    shared_by_seed = {seed: _shared_steps(runs) for seed, runs in by_seed.items()}
    shared_seconds: dict[int, dict[str, float]] = {}
    for seed, runs in by_seed.items():
        totals = shared_seconds.setdefault(seed, {})
        for run in runs:
            for c in run.steps:
                if (c.round, c.step) in shared_by_seed[seed]:
                    totals[c.step] = totals.get(c.step, 0.0) + c.seconds
    steps = sorted({c.step for runs in groups.values() for run in runs for c in run.steps})
    strategies: dict[str, Any] = {}
    for label, runs in groups.items():
        own = []
        for run in runs:
            seconds = dict.fromkeys(steps, 0.0)
            for c in run.steps:
                if (c.round, c.step) not in shared_by_seed[run.seed]:
                    seconds[c.step] += c.seconds
            own.append(seconds)
        strategies[label] = {
            "labels": float(np.mean([r.labels for r in runs])),
            "money": float(np.mean([r.money for r in runs])),
            "step_seconds": {s: float(np.mean([o[s] for o in own])) for s in steps},
        }
    shared_steps = set().union(*shared_by_seed.values()) if shared_by_seed else set()
    return {
        "steps": steps,
        "strategies": strategies,
        "shared": {
            "what": _describe(shared_steps),
            "step_seconds": {s: float(np.mean([shared_seconds[seed].get(s, 0.0) for seed in by_seed])) for s in steps},
            "seeds": len(by_seed),
        },
    }
