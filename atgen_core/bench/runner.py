"""Running a benchmark: every cell an ordinary resumable run, one at a time or in parallel processes.

``run_benchmark`` validates every cell first, records ``benchmark.json`` (atomically, never overwriting a
different grid), then runs the cells: in this process (``jobs=1``) or in ``jobs`` worker processes, each
``atgen benchmark SPEC --cell I`` running one cell. A cell whose run directory is locked by another
process is skipped ("running elsewhere") and waited for at the end, so two benchmark processes on one
grid never run a cell twice at once and both end with every cell finished.
"""

from __future__ import annotations

import json
import logging
import math
import os
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

from atgen_core.bench.grid import BenchmarkError, BenchmarkSpec
from atgen_core.bench.shared import GroupLock, SharedRound
from atgen_core.bench.validate import ValidBenchmark, validate_benchmark
from atgen_core.errors import AtgenError, RunLockedError

__all__ = ["ELSEWHERE_EXIT", "apply_threads", "default_threads", "record_benchmark_json", "run_benchmark",
           "run_cell"]

log = logging.getLogger("atgen")

ELSEWHERE_EXIT = 75
"""Exit code of a cell worker whose run directory is held by another process."""
NOT_STARTED = "not started"
"""The state of a cell that was not started because another cell failed with a user error."""

POLL_SECONDS = 5.0
_THREAD_VARS = ("OMP_NUM_THREADS", "MKL_NUM_THREADS", "OPENBLAS_NUM_THREADS")


def default_threads(jobs: int) -> int:
    """Torch threads per cell: the usable cores divided among the parallel cells (at least 1)."""
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else (os.cpu_count() or 1)
    return max(1, cores // max(1, jobs))


def apply_threads(threads: int) -> None:
    """Set the thread count for this process (torch, if imported) and for libraries imported later."""
    for var in _THREAD_VARS:
        os.environ[var] = str(threads)
    torch = sys.modules.get("torch")
    if torch is not None:
        torch.set_num_threads(threads)


def _merge(old: dict[str, Any], new: dict[str, Any]) -> tuple[dict[str, Any] | None, list[str]]:
    """``old`` extended by ``new``'s extra strategies and seeds, or ``None`` and the fields that differ."""
    differ = [k for k in sorted(set(old) | set(new)) if k not in ("strategies", "seeds", "$schema")
              and old.get(k) != new.get(k)]
    if differ:
        return None, differ
    merged = dict(old)
    for key in ("strategies", "seeds"):
        merged[key] = list(old.get(key, [])) + [x for x in new.get(key, []) if x not in old.get(key, [])]
    return merged, []


def record_benchmark_json(root: Path, bench: BenchmarkSpec) -> None:
    """Write ``<root>/benchmark.json`` when absent; extend it with new strategies or seeds; refuse a
    different grid. Read, compare and write happen under a lock file, and the write is atomic."""
    new = bench.model_dump(mode="json", by_alias=True)
    path = root / "benchmark.json"
    lock = GroupLock(root / ".benchmark.lock")
    lock.acquire()
    try:
        merged: dict[str, Any] | None = new
        if path.exists():
            old = json.loads(path.read_text(encoding="utf-8"))
            merged, differ = _merge(old, new)
            if merged is None:
                raise BenchmarkError(
                    f"{path} records a different benchmark (differs in: {', '.join(differ)}); a benchmark "
                    "directory holds one grid: set another output_dir, or run the recorded spec"
                )
            if merged == old:
                return
            log.info("extending the recorded grid with new strategies or seeds")
        fd, tmp = tempfile.mkstemp(dir=root, suffix=".tmp")
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            handle.write(json.dumps(merged, indent=2))
        os.replace(tmp, path)
    finally:
        lock.release()


def _run_with_sharing(experiment: Any, shared: SharedRound) -> None:
    """Run ``experiment``, importing the seed's shared work or computing and exporting it (under its lock)."""
    from atgen_core.loop import BASE_ROUND

    def complete() -> bool:
        store = experiment.store
        if shared.round0:
            return store.step_done(0, "evaluate") is not None
        return not experiment.spec.loop.evaluate_untrained or store.step_done(BASE_ROUND, "evaluate") is not None

    if complete():
        shared.export(experiment, BASE_ROUND)
        shared.export(experiment, 0)
        experiment.run()
        return
    if not shared.lock.acquire(blocking=False):
        log.info("waiting for the shared first round of seed %d (another cell computes it)", experiment.spec.seed)
        shared.lock.acquire()
    try:
        imported = shared.import_into(experiment)
        if imported:
            log.info("imported %s from %s", " and ".join(imported), shared.folder)
        if complete():
            shared.lock.release()

        def hook(round_: int) -> None:
            shared.export(experiment, round_)
            if round_ == 0 or (round_ == BASE_ROUND and not shared.round0):
                shared.lock.release()

        experiment.round_hook = hook
        experiment.run()
    finally:
        shared.lock.release()


def run_cell(valid: ValidBenchmark, index: int, *, progress: bool | None = None) -> str:
    """Run (or continue) cell ``index``: ``"finished"``, or ``"elsewhere"`` when another process holds it."""
    from atgen_core.loop import Experiment

    cell = valid.cells[index]
    try:
        experiment = Experiment(valid.resolved[index], cell.run_dir, progress=progress, cache_dir=valid.root / "cache")
    except RunLockedError:
        return "elsewhere"
    with experiment:
        experiment.store.set_meta("benchmark_label", cell.label)
        shared = SharedRound(valid.root, experiment.spec)
        if (experiment.store.get_meta("status") or "").startswith("finished"):
            shared.export(experiment, -1)
            shared.export(experiment, 0)
            return "finished"
        _run_with_sharing(experiment, shared)
    return "finished"


def _is_locked(run_dir: Path) -> bool:
    from atgen_core.bench.status import is_held

    return is_held(run_dir)


def _order(valid: ValidBenchmark) -> list[int]:
    """Cell indices with the first cell of every seed first (parallel workers then start different seeds)."""
    seen: set[int] = set()
    leaders = []
    for i, cell in enumerate(valid.cells):
        if cell.seed not in seen:
            seen.add(cell.seed)
            leaders.append(i)
    return leaders + [i for i in range(len(valid.cells)) if i not in leaders]


def _worker(valid: ValidBenchmark, index: int, threads: int, plugins: Sequence[str]) -> str:
    cell = valid.cells[index]
    if _is_locked(cell.run_dir):
        return "elsewhere"
    logs = valid.root / "logs"
    logs.mkdir(parents=True, exist_ok=True)
    log_file = logs / (cell.run_dir.relative_to(valid.root).as_posix().strip("/").replace("/", "-") + ".log")
    command = [sys.executable, "-m", "atgen_core", "benchmark", str(valid.path), "--cell", str(index),
               "--threads", str(threads), "-q"]
    for module in plugins:
        command += ["-p", module]
    env = {**os.environ, **{var: str(threads) for var in _THREAD_VARS}}
    with log_file.open("w", encoding="utf-8") as out:
        code = subprocess.run(command, stdout=out, stderr=subprocess.STDOUT, env=env, check=False).returncode
    if code == ELSEWHERE_EXIT:
        return "elsewhere"
    if code == AtgenError.exit_code:
        return f"failed with a user error (exit {code}: {_last_error(log_file)}; see {log_file})"
    return "finished" if code == 0 else f"failed (exit {code}; see {log_file})"


def _last_error(log_file: Path) -> str:
    """The ``error: ...`` line a cell's log ends with (its first 300 characters), or a pointer to the log."""
    lines = [line for line in log_file.read_text(encoding="utf-8", errors="replace").splitlines()
             if line.startswith("error: ")]
    return lines[-1][len("error: "):][:300] if lines else "no error line in the log"


class _Pace:
    """Wall time of the cells this pass ran, for the "cells left, about ... at this pace" estimate."""

    def __init__(self, cells: int, jobs: int) -> None:
        self.left, self.jobs = cells, jobs
        self.seconds: list[float] = []
        self._lock = threading.Lock()

    def done(self, seconds: float | None) -> str:
        """Count one cell as done (``seconds``: its run time, ``None`` when it was finished before)."""
        with self._lock:
            self.left -= 1
            if seconds is not None:
                self.seconds.append(seconds)
            if not self.left or not self.seconds:
                return ""
            eta = statistics.fmean(self.seconds) * math.ceil(self.left / self.jobs)
            return f"; {self.left} cell(s) left, about {_duration(eta)} at this pace"


def _duration(seconds: float) -> str:
    minutes = round(seconds / 60)
    return f"{minutes // 60} h {minutes % 60:02d} min" if minutes >= 60 else f"{max(minutes, 1)} min"


def _pass(valid: ValidBenchmark, indices: list[int], jobs: int, threads: int, plugins: Sequence[str],
          progress: bool | None) -> dict[int, str]:
    started = time.perf_counter()
    total = len(valid.cells)
    pace = _Pace(len(indices), jobs)
    # A user error (exit 2: a key the API rejects, data the run cannot use, ...) passed the grid's checks
    # but would most likely repeat in every cell: no further cell is started after one.
    stop = threading.Event()

    def one(index: int) -> str:
        from atgen_core.bench.status import cell_status

        cell = valid.cells[index]
        if stop.is_set():
            return NOT_STARTED
        done_before = cell_status(cell.run_dir).state == "finished"
        # A finished cell is still opened: it publishes its shared work for the cells still to run.
        log.info("[%d/%d] %s: %s", index + 1, total, cell.title(), "already finished" if done_before else "starting")
        cell_started = time.perf_counter()
        state = (run_cell(valid, index, progress=progress) if jobs == 1
                 else _worker(valid, index, threads, plugins))
        if state.startswith("failed with a user error"):
            stop.set()
        if done_before and state == "finished":
            pace.done(None)
            return state
        seconds = time.perf_counter() - cell_started
        left = pace.done(seconds if state == "finished" else None)
        shown = "running elsewhere (waited for at the end)" if state == "elsewhere" else state
        log.info("[%d/%d] %s: %s after %.0fs (%.0fs since the grid started)%s", index + 1, total, cell.title(),
                 shown, seconds, time.perf_counter() - started, left)
        return state

    if jobs == 1:
        return {i: one(i) for i in indices}
    with ThreadPoolExecutor(max_workers=jobs) as pool:
        return dict(zip(indices, pool.map(one, indices)))


def run_benchmark(path: Path, *, registry: Any = None, progress: bool | None = None, jobs: int = 1,
                  threads: int | None = None, plugins: Sequence[str] = ()) -> Path:
    """Run (or continue) every cell of a benchmark; returns the benchmark directory.

    ``jobs`` cells run at once in worker processes (``plugins``: extra plugin modules they load), each
    with ``threads`` torch threads (default: the cores divided by ``jobs``).
    """
    from atgen_core.plugins import get_registry

    registry = registry if registry is not None else get_registry()
    valid = validate_benchmark(path, registry)
    threads = threads or default_threads(jobs)
    apply_threads(threads)
    valid.root.mkdir(parents=True, exist_ok=True)
    record_benchmark_json(valid.root, valid.bench)
    log.info("benchmark %s: %d cells, %d at a time, %d torch thread(s) each", valid.bench.name, len(valid.cells),
             jobs, threads)
    pending = _order(valid)
    failed: list[str] = []
    while pending:
        states = _pass(valid, pending, jobs, threads, plugins, progress)
        failed += [f"{valid.cells[i].title()}: {s}" for i, s in states.items() if s.startswith("failed")]
        skipped = [valid.cells[i].title() for i, s in states.items() if s == NOT_STARTED]
        if skipped:
            failed.append(f"not started after that user error: {', '.join(skipped)} (fix it, then run the "
                          "benchmark again: finished cells are kept)")
            break
        pending = [i for i, s in states.items() if s == "elsewhere"]
        for i in pending:
            if _is_locked(valid.cells[i].run_dir):
                log.info("%s is running elsewhere: waiting for it", valid.cells[i].title())
            while _is_locked(valid.cells[i].run_dir):
                time.sleep(POLL_SECONDS)
    if failed:
        raise BenchmarkError("cells failed:\n  " + "\n  ".join(failed))
    return valid.root
