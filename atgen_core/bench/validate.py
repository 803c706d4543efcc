"""Validating a benchmark spec: its own fields, then every cell's experiment spec and its environment.

Each cell gets the pre-flight of ``atgen run`` (components' prerequisites: environment variables, files,
model paths), so a problem every cell would hit stops the grid before any cell starts, instead of
failing cell after cell. The data is read once, for the first cell that has not started yet (every cell
reads the same data). A problem that every cell has is reported once against the base spec; a problem
only some strategies have is reported against that entry of ``strategies`` (where the user fixes it).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from atgen_core.bench.grid import BenchmarkCell, BenchmarkSpec, bench_root, grid, label_schedule, load_benchmark
from atgen_core.errors import SpecError, SpecIssue
from atgen_core.spec import ResolvedSpec, resolve_spec
from atgen_core.store import run_has_progress

__all__ = ["ValidBenchmark", "describe_benchmark", "validate_benchmark"]


@dataclass(frozen=True)
class ValidBenchmark:
    """A benchmark whose every cell resolved: the spec, its cells (with resolved specs) and folders."""

    path: Path
    bench: BenchmarkSpec
    base: dict[str, Any]
    base_dir: Path
    root: Path
    cells: list[BenchmarkCell]
    resolved: list[ResolvedSpec]


def _is_strategy(issue: SpecIssue) -> bool:
    return issue.path == "strategy" or issue.path.startswith("strategy.")


def _where(bench: BenchmarkSpec, base_name: str, issue: SpecIssue, entries: set[int], clean: set[int]) -> str:
    """Where to report ``issue``: its ``strategies`` entry, or the base spec (naming the strategies it
    concerns when only some have it; entries with their own problems are not checked further)."""
    if _is_strategy(issue):
        return f"strategies[{min(entries)}]" + issue.path[len("strategy"):]
    if not clean <= entries:
        labels = ", ".join(bench.strategies[i].label or bench.strategies[i].name for i in sorted(entries))
        return f"{base_name} {issue.path} (with strategy {labels})"
    return f"{base_name} {issue.path}"


def _check_cell(cell: BenchmarkCell, registry: Any, base_dir: Path, environment: bool, read_data: bool) -> ResolvedSpec:
    """One cell's spec, with the pre-flight of ``atgen run`` when ``environment`` (data only if ``read_data``)."""
    if not environment:
        return resolve_spec(cell.spec, registry, base_dir=base_dir)
    from atgen_core.preflight import check_spec

    return check_spec(cell.spec, registry, base_dir=base_dir, load_data=read_data).resolved


def validate_benchmark(path: Path, registry: Any, cwd: Path | None = None, *,
                       environment: bool = True) -> ValidBenchmark:
    """Validate a benchmark spec file and every cell; raise one ``SpecError`` listing every problem.

    ``environment=False`` checks the specs alone (no environment variables, files or data).
    """
    bench, base, base_dir = load_benchmark(path)
    root = bench_root(bench, cwd)
    cells = list(grid(bench, base, root))
    base_name = bench.base if isinstance(bench.base, str) else "base"
    found: dict[tuple[str, str, str | None], tuple[SpecIssue, set[int]]] = {}
    resolved: list[ResolvedSpec] = []
    data_read = False
    checked: set[int] = set()
    for cell in cells:
        # A started cell reads its stored examples, never the data files again.
        read_data = environment and not data_read and not run_has_progress(cell.run_dir)
        data_read = data_read or read_data
        # The environment (files, variables, model paths) is the same for every seed and budget of a
        # strategy entry: checked once per entry, the other cells' specs alone.
        first = environment and cell.entry not in checked
        checked.add(cell.entry)
        try:
            resolved.append(_check_cell(cell, registry, base_dir, first or read_data, read_data))
        except SpecError as exc:
            for issue in exc.issues:
                key = (issue.path, issue.message, issue.hint)
                # The data is checked for one cell only, and every cell reads the same data.
                every = read_data and (issue.path == "data" or issue.path.startswith("data."))
                found.setdefault(key, (issue, set()))[1].update(
                    range(len(bench.strategies)) if every else {cell.entry})
    if found:
        clean = set(range(len(bench.strategies))) - {e for i, es in found.values() if _is_strategy(i) for e in es}
        issues = [
            SpecIssue(_where(bench, base_name, issue, entries, clean), issue.message, value=issue.value,
                      hint=issue.hint)
            for issue, entries in found.values()
        ]
        raise SpecError(issues, source=str(path))
    return ValidBenchmark(path, bench, base, base_dir, root, cells, resolved)


def describe_benchmark(valid: ValidBenchmark) -> str:
    """One paragraph: the grid's size, its components and label schedule, and where it runs."""
    bench, first = valid.bench, valid.resolved[0]
    n_budgets = len(bench.budgets) if bench.budgets else 1
    schedule = label_schedule(first.spec.loop, first.spec.data.pool_size)
    grid_text = f"{len(bench.strategies)} strategies x {len(bench.seeds)} seeds" + (
        f" x {n_budgets} budgets" if bench.budgets else "") + f" = {len(valid.cells)} cells"
    return (
        f"{valid.path}: valid benchmark {bench.name!r}: {grid_text}; "
        f"trainer={first.trainer.name}, annotator={first.annotator.name}, "
        f"metrics={','.join(m.name for m in first.metrics)}; labels per round "
        f"{'/'.join(map(str, schedule)) if not bench.budgets else 'one design round per budget'}; "
        f"output {valid.root}"
    )
