"""``atgen benchmark`` (kept for imports): the implementation lives in :mod:`atgen_core.bench`."""

from atgen_core.bench import (
    BenchmarkCell,
    BenchmarkError,
    BenchmarkSpec,
    StrategyEntry,
    grid,
    load_benchmark,
    run_benchmark,
)

__all__ = ["BenchmarkCell", "BenchmarkError", "BenchmarkSpec", "StrategyEntry", "grid", "load_benchmark",
           "run_benchmark"]
