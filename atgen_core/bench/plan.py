"""``atgen benchmark --dry-run``: the grid, each cell's label schedule and state, and a wall-time estimate."""

from __future__ import annotations

import logging
import time
from pathlib import Path
from typing import Any

from atgen_core.bench.calibrate import Calibration, calibrate, cell_seconds
from atgen_core.bench.grid import label_schedule
from atgen_core.bench.runner import apply_threads, default_threads
from atgen_core.bench.shared import share_key, shares_round0
from atgen_core.bench.status import CellStatus, cell_status
from atgen_core.bench.validate import ValidBenchmark, describe_benchmark, validate_benchmark
from atgen_core.types import Requirements

__all__ = ["dry_run", "format_seconds"]

log = logging.getLogger("atgen")


def format_seconds(seconds: float) -> str:
    """``42 s``, ``14 min``, ``2 h 05 min``."""
    if seconds < 90:
        return f"{seconds:.0f} s"
    if seconds < 5400:
        return f"{seconds / 60:.0f} min"
    return f"{int(seconds // 3600)} h {int(seconds % 3600 // 60):02d} min"


def _requirements(valid: ValidBenchmark, index: int) -> Requirements:
    strategy = valid.resolved[index].strategy.build()
    try:
        return strategy.requirements()  # type: ignore[attr-defined, no-any-return]
    finally:
        strategy.close()


def _estimates(valid: ValidBenchmark, statuses: list[CellStatus], schedules: list[list[int]],
               cal: Calibration) -> list[float]:
    """Seconds left per cell; shared work (untrained evaluation, round 0 of a warm start) counted once."""
    groups: set[tuple[int, str]] = set()
    for cell, status, resolved in zip(valid.cells, statuses, valid.resolved):
        if status.rounds_done > 0:
            groups.add((cell.seed, share_key(resolved.spec)))
    out = []
    for i, (cell, status, resolved) in enumerate(zip(valid.cells, statuses, valid.resolved)):
        key = (cell.seed, share_key(resolved.spec))
        shared_before = key in groups
        groups.add(key)
        out.append(0.0 if status.state == "finished" else cell_seconds(
            cal, resolved.spec, _requirements(valid, i), schedules[i], rounds_done=status.rounds_done,
            base_done=shared_before or status.rounds_done > 0,
            round0_shared=shared_before and shares_round0(resolved.spec)))
    return out


def _table(rows: list[list[str]]) -> list[str]:
    widths = [max(len(r[i]) for r in rows) for i in range(len(rows[0]))]
    return ["  ".join(c.ljust(w) for c, w in zip(r, widths)).rstrip() for r in rows]


def dry_run(path: Path, registry: Any, *, jobs: int = 1, threads: int | None = None,
            calibration: bool = True) -> str:
    """The dry-run report of a benchmark (validates it; calibrates in a temporary folder unless told not to)."""
    valid = validate_benchmark(path, registry)
    threads = threads or default_threads(jobs)
    statuses = [cell_status(c.run_dir) for c in valid.cells]
    cal: Calibration | None = None
    took = 0.0
    if calibration and any(s.state != "finished" for s in statuses):
        apply_threads(threads)
        log.info("calibrating in a temporary folder: model load, one generation batch, two short trainings")
        started = time.perf_counter()
        needs_embeddings = next((r for r in valid.resolved if r.embedder is not None), None)
        cal = calibrate(valid.resolved[0], needs_embeddings)
        took = time.perf_counter() - started
    pool = cal.pool_size if cal else None
    schedules = [label_schedule(r.spec.loop, pool or r.spec.data.pool_size) for r in valid.resolved]
    estimates = _estimates(valid, statuses, schedules, cal) if cal else [0.0] * len(valid.cells)
    rows = [["cell", "seed", "labels per round", "state", "estimate" if cal else ""]]
    for cell, status, schedule, est in zip(valid.cells, statuses, schedules, estimates):
        rows.append([cell.label + (f" budget {cell.budget}" if cell.budget else ""), str(cell.seed),
                     "/".join(map(str, schedule)), status.describe(len(schedule)),
                     format_seconds(est) if cal and status.state != "finished" else ""])
    lines = [describe_benchmark(valid), "", *_table(rows), ""]
    counts = {s: sum(1 for x in statuses if x.state == s) for s in ("finished", "partial", "not started")}
    lines.append(", ".join(f"{n} {s}" for s, n in counts.items()) + f"; {jobs} at a time, {threads} thread(s) each")
    if cal is not None:
        total = sum(estimates)
        if any(r.embedder is not None for r in valid.resolved):
            total += cal.pool_size * cal.per_embedded_text
        lines.append(f"calibration ({threads} thread(s), took {format_seconds(took)}): {cal.describe()}")
        lines.append(f"estimate: {format_seconds(total)} of work, about {format_seconds(total / jobs)} wall time "
                     f"with --jobs {jobs} (rough: annotation time not counted; see docs/benchmarks.md)")
    return "\n".join(lines)
