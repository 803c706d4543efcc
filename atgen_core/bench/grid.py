"""The benchmark spec and its grid: strategies x seeds (x budgets) over one base experiment spec."""

from __future__ import annotations

import copy
import difflib
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from atgen_core.errors import AtgenError, SpecError, SpecIssue
from atgen_core.spec import ComponentRef, LoopSpec, load_spec_file

__all__ = [
    "BenchmarkCell",
    "BenchmarkError",
    "BenchmarkSpec",
    "StrategyEntry",
    "bench_root",
    "grid",
    "is_benchmark_spec",
    "label_schedule",
    "load_benchmark",
]


class BenchmarkError(AtgenError):
    """A benchmark that cannot run as specified."""


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
    budgets: list[Annotated[int, Field(ge=1)]] | None = Field(
        None, description="Experimental-design sweep: one design-mode run per budget (initial_size)."
    )
    output_dir: str = Field("runs/bench-{name}", description="Benchmark directory; {name} is the benchmark name.")

    @field_validator("seeds", "budgets")
    @classmethod
    def _unique(cls, value: list[int] | None) -> list[int] | None:
        if value is not None and len(set(value)) != len(value):
            raise ValueError("values must be distinct")
        return value

    def labels(self) -> list[str]:
        """The report label of every strategy entry, in order."""
        return [s.label or s.name for s in self.strategies]


@dataclass(frozen=True)
class BenchmarkCell:
    """One run of the grid."""

    label: str
    seed: int
    budget: int | None
    spec: dict[str, Any]
    run_dir: Path
    entry: int = 0
    """Index of the cell's strategy in the benchmark's ``strategies``."""

    def title(self) -> str:
        """``huds seed 1`` (with ``budget 32`` in an experimental-design sweep)."""
        return f"{self.label} seed {self.seed}" + (f" budget {self.budget}" if self.budget else "")


def is_benchmark_spec(raw: Mapping[str, Any]) -> bool:
    """True for a benchmark spec (it has ``base`` or ``strategies``, which no experiment spec has)."""
    return "base" in raw or "strategies" in raw


def _issues(exc: ValidationError, model: type[BaseModel]) -> list[SpecIssue]:
    allowed = [f.alias or n for n, f in model.model_fields.items()]
    out = []
    for err in exc.errors(include_url=False):
        path = ".".join(str(p) for p in err["loc"])
        if err["type"] == "extra_forbidden":
            close = difflib.get_close_matches(str(err["loc"][-1]), allowed, n=1, cutoff=0.6)
            hint = f"did you mean {close[0]!r}?" if close and len(err["loc"]) == 1 else None
            if hint is None and len(err["loc"]) == 1:
                hint = "allowed keys of a benchmark spec: " + ", ".join(allowed)
            out.append(SpecIssue(path, "unknown key", hint=hint))
        else:
            out.append(SpecIssue(path, err["msg"], value=err.get("input")))
    return out


def load_benchmark(path: Path) -> tuple[BenchmarkSpec, dict[str, Any], Path]:
    """The benchmark spec, its base experiment spec (as a dict) and the folder paths resolve against."""
    raw = load_spec_file(path)
    try:
        bench = BenchmarkSpec.model_validate(raw)
    except ValidationError as exc:
        raise SpecError(_issues(exc, BenchmarkSpec), source=str(path)) from None
    labels = bench.labels()
    duplicates = sorted({x for x in labels if labels.count(x) > 1})
    if duplicates:
        raise SpecError([SpecIssue("strategies", f"label {duplicates[0]!r} is used twice; give entries a 'label'")],
                        source=str(path))
    base_dir = path.resolve().parent
    if isinstance(bench.base, str):
        base_path = (base_dir / bench.base).resolve()
        try:
            base = load_spec_file(base_path)
        except SpecError as exc:
            raise SpecError([SpecIssue("base", i.message) for i in exc.issues], source=str(path)) from None
        base_dir = base_path.parent
    else:
        base = dict(bench.base)
    return bench, base, base_dir


def bench_root(bench: BenchmarkSpec, cwd: Path | None = None) -> Path:
    """The benchmark directory (relative ``output_dir`` resolved against the working directory)."""
    root = Path(bench.output_dir.replace("{name}", bench.name)).expanduser()
    return root if root.is_absolute() else (cwd or Path.cwd()) / root


def grid(bench: BenchmarkSpec, base: Mapping[str, Any], root: Path) -> Iterator[BenchmarkCell]:
    """Every cell of the grid, seeds outermost (so shared work is reused as early as possible)."""
    budgets: list[int | None] = list(bench.budgets) if bench.budgets else [None]
    for seed in bench.seeds:
        for budget in budgets:
            for index, entry in enumerate(bench.strategies):
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
                yield BenchmarkCell(label, seed, budget, spec, run_dir, index)


def label_schedule(loop: LoopSpec, pool_size: int | None = None) -> list[int]:
    """The cumulative label count after each round, from the spec's loop fields.

    Reads ``loop.schedule`` (cumulative counts per round) when the loop has one, else ``initial_size``
    plus ``iterations`` x ``query_size``; a design-mode run has one round. Counts are capped by
    ``budget.labels`` and the pool size (the loop stops there).
    """
    schedule = getattr(loop, "schedule", None)
    if loop.mode == "design":
        counts = [loop.initial_size]
    elif schedule:
        counts = [int(n) for n in schedule]
    else:
        counts = [loop.initial_size + i * loop.query_size for i in range(loop.iterations + 1)]
    caps = [c for c in (loop.budget.labels, pool_size) if c is not None]
    if not caps:
        return counts
    cap = min(caps)
    out = [min(n, cap) for n in counts]
    while len(out) > 1 and out[-1] == out[-2]:
        out.pop()
    return out
