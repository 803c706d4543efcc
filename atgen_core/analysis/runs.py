"""Reading run stores for the report, and leaving out runs that did not finish."""

from __future__ import annotations

import json
import logging
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from atgen_core.errors import AtgenError
from atgen_core.store import DB_NAME, RunStore

__all__ = ["INITIAL_STRATEGY", "RunRecord", "SkippedRun", "StepCost", "collect_runs", "split_unfinished"]

log = logging.getLogger("atgen.report")

INITIAL_STRATEGY = "random-initial"
"""Strategy name the loop records for the seeded random first batch of a warm start (shared by all strategies)."""


@dataclass(frozen=True)
class StepCost:
    """Seconds one step of one round took; ``imported`` when it was copied from another cell of the grid
    (the step's info holds ``imported`` or ``imported_from``)."""

    round: int
    step: str
    seconds: float
    imported: bool = False


@dataclass
class RunRecord:
    """What the report needs from one run directory."""

    path: Path
    label: str
    seed: int
    curve: list[tuple[int, dict[str, float]]]
    labels: int
    money: float
    status: str = ""
    steps: list[StepCost] = field(default_factory=list)
    pool: dict[str, str] = field(default_factory=dict)
    """Pool inputs by example id."""
    picked: list[tuple[int, str]] = field(default_factory=list)
    """(round, example id) the strategy itself picked: the shared seeded first batch is left out."""
    money_by_round: dict[int, float] = field(default_factory=dict)
    """Money of every annotation attempt, per round (imported attempts cost 0 here)."""

    @property
    def finished(self) -> bool:
        """True when the loop recorded a ``finished: ...`` status."""
        return self.status.startswith("finished")

    @property
    def step_seconds(self) -> dict[str, float]:
        """Seconds per step summed over rounds (every step, shared ones included)."""
        out: dict[str, float] = {}
        for cost in self.steps:
            out[cost.step] = out.get(cost.step, 0.0) + cost.seconds
        return out

    @property
    def selected_inputs(self) -> list[str]:
        """Inputs of the items the strategy picked (the shared first batch left out)."""
        return [self.pool[i] for _r, i in self.picked if i in self.pool]


@dataclass(frozen=True)
class SkippedRun:
    """A run left out of the report, and why."""

    path: Path
    label: str
    seed: int
    reason: str


def _run_dirs(paths: Iterable[Path]) -> list[Path]:
    found: list[Path] = []
    for path in paths:
        path = Path(path)
        if (path / DB_NAME).exists():
            found.append(path)
        elif path.is_dir():
            found.extend(sorted(p.parent for p in path.rglob(DB_NAME)))
        else:
            raise AtgenError(
                f"{path} is neither a run directory nor a folder of runs; pass a run directory "
                "(holding atgen.sqlite) or a benchmark directory"
            )
    if not found:
        raise AtgenError("no run directories found (looked for atgen.sqlite files below the given paths)")
    return found


def _read_run(run_dir: Path) -> RunRecord:
    store = RunStore(run_dir, create=False)
    try:
        spec = json.loads(store.get_meta("spec") or "{}")
        strategy = spec.get("strategy", {})
        name = strategy.get("name", "?") if isinstance(strategy, dict) else str(strategy)
        n_labels, money = store.spent()
        steps = []
        for round_, step, secs in store.timings():
            info = store.step_done(round_, step) or {}
            imported = bool(info.get("imported", False)) or "imported_from" in info
            steps.append(StepCost(round_, step, float(secs), imported))
        money_by_round: dict[int, float] = {}
        for attempt in store.attempts():
            money_by_round[attempt["round"]] = money_by_round.get(attempt["round"], 0.0) + float(attempt["cost"])
        return RunRecord(
            path=run_dir,
            label=store.get_meta("benchmark_label") or name,
            seed=int(spec.get("seed", 0)),
            curve=[(n, vals) for _r, n, vals in store.metrics()],
            labels=n_labels,
            money=money,
            status=store.get_meta("status") or "",
            steps=steps,
            pool={e.id: e.input for e in store.load_examples("pool")},
            picked=[(r, i) for r, i, s in store.selection_log() if s != INITIAL_STRATEGY],
            money_by_round=money_by_round,
        )
    finally:
        store.close()


def collect_runs(paths: Iterable[Path]) -> list[RunRecord]:
    """Read every run under ``paths`` (run directories or folders containing them)."""
    return [_read_run(run_dir) for run_dir in _run_dirs(paths)]


def split_unfinished(runs: Sequence[RunRecord]) -> tuple[list[RunRecord], list[SkippedRun]]:
    """Separate finished runs from those still running or stopped early.

    A run is unfinished when its status is not ``finished: ...`` or when it has fewer evaluated
    points than the longest run of the same grid (an interrupted run, or one stopped by a metric
    target): mixing its partial curve into a mean would bias the later label counts.
    """
    longest = max((len(r.curve) for r in runs), default=0)
    kept: list[RunRecord] = []
    skipped: list[SkippedRun] = []
    for run in runs:
        reasons = []
        if not run.finished:
            reasons.append(f"status {run.status or 'not started'!r}")
        if len(run.curve) < longest:
            reasons.append(f"{len(run.curve)} evaluated points, the longest run has {longest}")
        if reasons:
            skipped.append(SkippedRun(run.path, run.label, run.seed, "; ".join(reasons)))
        else:
            kept.append(run)
    return kept, skipped


def warn_skipped(skipped: Sequence[SkippedRun], *, included: bool) -> None:
    """Log one warning naming every unfinished run (kept or left out)."""
    if not skipped:
        return
    action = "included anyway (--include-unfinished)" if included else "left out (--include-unfinished keeps them)"
    names = "; ".join(f"{s.path} ({s.label}, seed {s.seed}: {s.reason})" for s in skipped)
    log.warning("%d unfinished run(s) %s: %s", len(skipped), action, names)
