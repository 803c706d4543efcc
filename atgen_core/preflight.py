"""Everything that can be checked before a run writes anything: the spec, the data, the components'
own prerequisites (``Component.preflight``), sizes against the pool, and the run directory.

``atgen validate`` and ``atgen run`` both call :func:`check_spec`; it raises one ``SpecError`` that lists
every problem (spec, data and environment together). Nothing here loads a model or creates a file.
"""

from __future__ import annotations

import os
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from atgen_core.components import Component, DataContext, DataSource, ModelSpec, PreflightContext
from atgen_core.data import LoadedData, check_data
from atgen_core.errors import AtgenError, SpecError, SpecIssue, issue_from_message
from atgen_core.spec import ExperimentSpec, ResolvedComponent, ResolvedSpec, SpecAnalysis, analyse_spec

if TYPE_CHECKING:
    from atgen_core.registry import Registry

__all__ = ["CheckedSpec", "check_run_dir", "check_spec"]


@dataclass(frozen=True)
class CheckedSpec:
    """A spec that passed every check, with its data when the data was read (so a run reuses it)."""

    resolved: ResolvedSpec
    data: LoadedData | None


def _dotted(path: tuple[Any, ...]) -> str:
    out = ""
    for part in path:
        out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else str(part))
    return out


def _nearest_existing(path: Path) -> Path:
    current = path
    while not current.exists() and current != current.parent:
        current = current.parent
    return current


def check_run_dir(run_dir: Path) -> list[SpecIssue]:
    """Problems that would stop a run from using ``run_dir`` (a file in the way, no write permission)."""
    where = "output_dir"
    if run_dir.exists():
        if not run_dir.is_dir():
            return [SpecIssue(where, f"{run_dir} is a file, not a directory", hint="choose another output_dir")]
        if not os.access(run_dir, os.W_OK | os.X_OK):
            return [SpecIssue(where, f"{run_dir} is not writable",
                              hint="fix its permissions or choose another output_dir")]
        return _store_problems(run_dir)
    parent = _nearest_existing(run_dir)
    if not parent.is_dir():
        return [SpecIssue(where, f"cannot create {run_dir}: {parent} is a file", hint="choose another output_dir")]
    if not os.access(parent, os.W_OK | os.X_OK):
        return [SpecIssue(where, f"cannot create {run_dir}: {parent} is not writable",
                          hint="fix its permissions or choose another output_dir")]
    return []


def _store_problems(run_dir: Path) -> list[SpecIssue]:
    """A store already in ``run_dir`` must be readable by this atgen (never started over)."""
    from atgen_core.errors import StoreError
    from atgen_core.store import DB_NAME, RunStore

    if not (run_dir / DB_NAME).exists():
        return []
    try:
        RunStore(run_dir, read_only=True).close()
    except StoreError as exc:
        return [SpecIssue("output_dir", str(exc))]
    return []


def _component_paths(analysis: SpecAnalysis) -> Iterator[tuple[str, ResolvedComponent]]:
    for path, component in analysis.components.items():
        yield _dotted(path), component


def _preflight_one(component: ResolvedComponent, ctx: PreflightContext) -> list[SpecIssue]:
    try:
        built: Component = component.build()
    except AtgenError as exc:
        return [issue_from_message(str(exc), ctx.path)]
    try:
        return list(built.preflight(ctx))
    except AtgenError as exc:
        return [issue_from_message(str(exc), ctx.path)]
    finally:
        built.close()


def _preflight_components(
    analysis: SpecAnalysis, model: ModelSpec, base_dir: Path | None, run_dir: Path | None,
    environ: Mapping[str, str], with_data: bool,
) -> tuple[list[SpecIssue], bool]:
    """Every component's own problems, and whether the data source reported none.

    Without ``with_data`` (a started run, whose examples are stored) the data source is not asked: its
    files may have moved or changed since, and the run no longer reads them.
    """
    issues: list[SpecIssue] = []
    data_ok = ("data", "source") in analysis.components
    for path, component in _component_paths(analysis):
        if path == "data.source" and not with_data:
            continue
        ctx = PreflightContext(path=path, model=model, base_dir=base_dir, run_dir=run_dir, environ=environ)
        found = _preflight_one(component, ctx)
        if path == "data.source" and found:
            data_ok = False
        issues.extend(found)
    return issues, data_ok


def _pool_checks(spec: ExperimentSpec, data: LoadedData) -> list[SpecIssue]:
    loop, pool = spec.loop, len(data.pool)
    first = loop.batch_size(0)
    where = "loop.schedule" if loop.schedule is not None else "loop.initial_size"
    issues = []
    if first > pool:
        issues.append(SpecIssue(where, f"the first batch ({first}) is larger than the pool ({pool} examples)",
                                value=first if loop.schedule is None else loop.schedule,
                                hint="lower it, or use more data"))
    elif loop.rounds > 1 and loop.batch_size(1) > pool - first:
        left = pool - first
        second = loop.batch_size(1)
        issues.append(SpecIssue(
            "loop.schedule" if loop.schedule is not None else "loop.query_size",
            f"the second batch ({second}) is larger than what the first leaves in the pool ({pool} - {first} = {left})",
            value=second, hint="lower query_size or iterations, or use more data",
        ))
    return issues


def _load(
    analysis: SpecAnalysis, base_dir: Path | None, cache_dir: Path | None
) -> tuple[list[SpecIssue], LoadedData | None]:
    assert analysis.spec is not None
    spec = analysis.spec
    source = analysis.components[("data", "source")].build()
    assert isinstance(source, DataSource)
    try:
        ctx = DataContext(seed=spec.seed, cache_dir=cache_dir, base_dir=base_dir)
        issues, data = check_data(source, spec.data, spec.seed, ctx)
    finally:
        source.close()
    issues = [i for i in issues if analysis.relevant(i)]
    if data is not None:
        issues.extend(i for i in _pool_checks(spec, data) if analysis.relevant(i))
    return issues, data


def check_spec(
    raw: Mapping[str, Any],
    registry: Registry,
    *,
    source: str | None = None,
    base_dir: Path | None = None,
    run_dir: Path | None = None,
    load_data: bool = True,
    cache_dir: Path | None = None,
    environ: Mapping[str, str] | None = None,
    environment: bool = True,
) -> CheckedSpec:
    """Check a raw spec as far as possible without a model; raise one ``SpecError`` with every problem.

    ``run_dir`` (when given) must be usable; ``load_data`` reads the data (skipped for a run that already
    stores its examples). ``environment=False`` checks the spec alone: no component pre-flight (files,
    environment variables, model paths), no data and no run directory.
    """
    analysis = analyse_spec(raw, registry)
    issues = list(analysis.issues)
    spec = analysis.spec if environment else None
    data: LoadedData | None = None
    if spec is not None:
        env = dict(os.environ) if environ is None else environ
        found, data_ok = _preflight_components(analysis, spec.model, base_dir, run_dir, env, load_data)
        issues.extend(i for i in found if analysis.relevant(i))
        if run_dir is not None and "output_dir" not in analysis.dropped:
            issues.extend(check_run_dir(run_dir))
        if load_data and ("data", "source") in analysis.components:
            # Even when the source reported a problem (say, one missing file), the splits that do load
            # are checked (columns, prompt fields); a problem already reported for a path is not repeated.
            found, data = _load(analysis, base_dir, cache_dir)
            known = {i.path for i in issues}
            issues.extend(i for i in found if i.path not in known or data_ok)
            if not data_ok:
                data = None
    if issues or not analysis.exact:
        raise SpecError(issues, source=source)
    return CheckedSpec(resolved=analysis.resolved(base_dir, registry), data=data)
