"""``atgen benchmark``: a grid of strategies x seeds (x budgets) over one base experiment.

Modules: ``grid`` (the spec and its cells), ``validate`` (every cell checked before any work),
``status`` (what is finished, read-only), ``calibrate`` (the wall-time estimate of ``--dry-run``),
``shared`` (the untrained evaluation and round 0 computed once per seed) and ``runner`` (cells in this
process or in parallel worker processes).
"""

from atgen_core.bench.grid import (
    BenchmarkCell,
    BenchmarkError,
    BenchmarkSpec,
    StrategyEntry,
    grid,
    is_benchmark_spec,
    label_schedule,
    load_benchmark,
)
from atgen_core.bench.runner import run_benchmark
from atgen_core.bench.validate import ValidBenchmark, describe_benchmark, validate_benchmark

__all__ = [
    "BenchmarkCell",
    "BenchmarkError",
    "BenchmarkSpec",
    "StrategyEntry",
    "ValidBenchmark",
    "describe_benchmark",
    "grid",
    "is_benchmark_spec",
    "label_schedule",
    "load_benchmark",
    "run_benchmark",
    "validate_benchmark",
]
