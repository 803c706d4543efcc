"""``atgen benchmark``: a grid of strategies x seeds (x budgets) over one base experiment.

Each cell is an ordinary run in its own directory (so it resumes like any run); a finished cell is
skipped when the benchmark is started again. What is identical across cells is computed once: input
embeddings and converted models live in one shared cache folder, and the untrained model's evaluation
is computed by the first cell of each seed and imported by the others.
"""

from __future__ import annotations

import copy
import json
import logging
import time
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from atgen_core.errors import AtgenError, SpecError, SpecIssue
from atgen_core.spec import ComponentRef, load_spec_file, resolve_spec

__all__ = ["BenchmarkCell", "BenchmarkSpec", "StrategyEntry", "load_benchmark", "run_benchmark"]

log = logging.getLogger("atgen")


class StrategyEntry(ComponentRef):
    """A strategy of the grid; ``label`` names it in the report (default: its name)."""

    label: str | None = Field(None, description="Name shown in reports (needed when one strategy appears twice).")


class BenchmarkSpec(BaseModel):
    """A benchmark: a base experiment spec plus the grid."""

    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=True)

    schema_: str | None = Field(None, alias="$schema", description="Optional JSON Schema reference.")
    name: str = Field(pattern=r"^[A-Za-z0-9][A-Za-z0-9._-]*$", description="Benchmark name.")
    base: str | dict[str, Any] = Field(description="Base experiment spec: a path (relative to this file) or inline.")
    strategies: list[StrategyEntry] = Field(min_length=1, description="Strategies to compare (include 'random').")
    seeds: list[int] = Field(min_length=1, description="Seeds; every strategy runs once per seed.")
    budgets: list[int] | None = Field(
        None, description="Experimental-design sweep: one design-mode run per budget (initial_size)."
    )
    output_dir: str = Field("runs/bench-{name}", description="Benchmark directory; {name} is the benchmark name.")

    def labels(self) -> list[str]:
        return [s.label or s.name for s in self.strategies]


@dataclass(frozen=True)
class BenchmarkCell:
    """One run of the grid."""

    label: str
    seed: int
    budget: int | None
    spec: dict[str, Any]
    run_dir: Path


def load_benchmark(path: Path) -> tuple[BenchmarkSpec, dict[str, Any], Path]:
    """The benchmark spec, its base experiment spec (as a dict) and the folder paths resolve against."""
    raw = load_spec_file(path)
    try:
        bench = BenchmarkSpec.model_validate(raw)
    except ValidationError as exc:
        issues = [SpecIssue(".".join(str(p) for p in e["loc"]), e["msg"], value=e.get("input"))
                  for e in exc.errors(include_url=False)]
        raise SpecError(issues, source=str(path)) from None
    labels = bench.labels()
    duplicates = sorted({x for x in labels if labels.count(x) > 1})
    if duplicates:
        raise SpecError([SpecIssue("strategies", f"label {duplicates[0]!r} is used twice; give entries a 'label'")],
                        source=str(path))
    base_dir = path.resolve().parent
    if isinstance(bench.base, str):
        base_path = (base_dir / bench.base).resolve()
        base = load_spec_file(base_path)
        base_dir = base_path.parent
    else:
        base = dict(bench.base)
    return bench, base, base_dir


def grid(bench: BenchmarkSpec, base: Mapping[str, Any], root: Path) -> Iterator[BenchmarkCell]:
    """Every cell of the grid, seeds outermost (so shared work is reused as early as possible)."""
    budgets: list[int | None] = list(bench.budgets) if bench.budgets else [None]
    for seed in bench.seeds:
        for budget in budgets:
            for entry in bench.strategies:
                label = entry.label or entry.name
                spec = copy.deepcopy(dict(base))
                spec.pop("$schema", None)
                spec["name"] = f"{bench.name}-{label}-s{seed}" + (f"-b{budget}" if budget else "")
                spec["seed"] = seed
                spec["strategy"] = {"name": entry.name, "config": dict(entry.config)}
                if budget is not None:
                    loop = dict(spec.get("loop", {}))
                    loop.update({"mode": "design", "initial_size": budget})
                    spec["loop"] = loop
                run_dir = root / label / f"seed-{seed}" / (f"budget-{budget}" if budget else "")
                spec["output_dir"] = str(run_dir)
                yield BenchmarkCell(label, seed, budget, spec, run_dir)


def run_benchmark(path: Path, *, registry: Any = None, progress: bool | None = None) -> Path:
    """Run (or continue) every cell of a benchmark; returns the benchmark directory."""
    from atgen_core.loop import BASE_ROUND, Experiment
    from atgen_core.plugins import get_registry

    registry = registry if registry is not None else get_registry()
    bench, base, base_dir = load_benchmark(path)
    root = Path(bench.output_dir.replace("{name}", bench.name)).expanduser()
    if not root.is_absolute():
        root = Path.cwd() / root
    cells = list(grid(bench, base, root))
    # Validate every cell before any work, so a typo in the last strategy fails now, not in hours.
    problems: list[SpecIssue] = []
    for cell in cells:
        try:
            resolve_spec(cell.spec, registry, base_dir=base_dir)
        except SpecError as exc:
            problems.extend(SpecIssue(f"{cell.label}: {i.path}", i.message, hint=i.hint) for i in exc.issues)
    if problems:
        raise SpecError(problems, source=str(path))
    root.mkdir(parents=True, exist_ok=True)
    (root / "benchmark.json").write_text(json.dumps(bench.model_dump(mode="json", by_alias=True), indent=2),
                                         encoding="utf-8")
    shared = root / "cache"
    base_eval: dict[tuple[int, int | None], tuple[dict[str, float], dict[str, str]]] = {}
    started = time.perf_counter()
    for number, cell in enumerate(cells, start=1):
        head = f"[{number}/{len(cells)}] {cell.label} seed {cell.seed}" + (
            f" budget {cell.budget}" if cell.budget else "")
        experiment = Experiment.from_spec(cell.spec, registry=registry, run_dir=cell.run_dir, progress=progress,
                                          cache_dir=shared)
        with experiment:
            experiment.store.set_meta("benchmark_label", cell.label)
            status = experiment.store.get_meta("status") or ""
            if status.startswith("finished"):
                log.info("%s: already finished", head)
            else:
                key = (cell.seed, cell.budget)
                if key in base_eval and experiment.spec.loop.evaluate_untrained:
                    experiment.import_evaluation(BASE_ROUND, *base_eval[key])
                log.info("%s: running", head)
                experiment.run()
            rows = experiment.store.metrics()
            if rows and rows[0][0] == BASE_ROUND:
                base_eval.setdefault((cell.seed, cell.budget), (rows[0][2], experiment.store.generations(BASE_ROUND)))
            last = rows[-1][2] if rows else {}
            shown = ", ".join(f"{k}={v:.4f}" for k, v in list(last.items())[:3])
            log.info("%s: done (%s) after %.0fs in total", head, shown, time.perf_counter() - started)
    return root


class BenchmarkError(AtgenError):
    """A benchmark that cannot run as specified."""
