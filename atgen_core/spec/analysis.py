"""Both validation phases and the cross-checks of a raw spec, every problem collected into one error.

Phase 1 validates the envelope (core sections and ``{"name", "config"}`` component references).
Phase 2 looks every component up in the registry and validates its ``config`` with the plugin's own
``Config`` model. All problems of both phases are collected into one ``SpecError`` whose entries carry
the dotted JSON path (``strategy.config.lambda_``), the bad value and a hint.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from pydantic import ValidationError

from atgen_core.errors import SpecError, SpecIssue
from atgen_core.spec.checks import cross_checks
from atgen_core.spec.issues import issues_from_validation, lenient_spec, non_finite_paths
from atgen_core.spec.models import ExperimentSpec
from atgen_core.spec.resolution import (
    ResolvedComponent,
    ResolvedSpec,
    component_refs,
    default_embedder,
    needs_embeddings,
    resolve_ref,
)
from atgen_core.spec_defaults import with_declared_defaults

if TYPE_CHECKING:
    from atgen_core.registry import Registry

__all__ = ["SpecAnalysis", "analyse_spec", "resolve_spec"]


@dataclass
class SpecAnalysis:
    """Everything phase 1, phase 2 and the cross-checks found, before anything is raised.

    ``spec`` is the validated envelope; when the envelope has errors it is a *lenient* copy in which every
    bad value was replaced by its default (``dropped`` lists those paths), so that the checks that do
    not depend on them still run. ``exact`` is False in that case.
    """

    spec: ExperimentSpec | None
    exact: bool
    components: dict[tuple[Any, ...], ResolvedComponent]
    issues: list[SpecIssue]
    dropped: set[str]

    def relevant(self, issue: SpecIssue) -> bool:
        """False for an issue about a value that was already reported (and replaced by its default)."""
        return not any(issue.path == d or issue.path.startswith(d + ".") for d in self.dropped)

    def resolved(self, base_dir: Path | None, registry: Registry) -> ResolvedSpec:
        """The resolved spec (only when there are no issues)."""
        assert self.spec is not None and self.exact and not self.issues
        spec, comps = self.spec, self.components
        metrics = tuple(comps[("metrics", i)] for i in range(len(spec.metrics)))
        embedder = comps.get(("embedder",))
        strategy = comps[("strategy",)]
        if embedder is None and needs_embeddings(strategy):
            embedder = default_embedder(registry)
        return ResolvedSpec(
            spec=spec,
            data_source=comps[("data", "source")],
            strategy=strategy,
            annotator=comps[("annotator",)],
            trainer=comps[("trainer",)],
            metrics=metrics,
            embedder=embedder,
            base_dir=base_dir,
            scoring=comps.get(("scoring",)),
            tracking=tuple(comps[("tracking", i)] for i in range(len(spec.tracking))),
        )


def analyse_spec(raw: Mapping[str, Any], registry: Registry) -> SpecAnalysis:
    """Validate a raw spec in both phases and run the cross-checks; collect every problem, raise none."""
    issues: list[SpecIssue] = list(getattr(raw, "issues", ()))
    raw = with_declared_defaults(raw, registry)
    non_finite = set(non_finite_paths(raw))
    issues.extend(
        SpecIssue(path, "not a finite number: NaN and Infinity are not allowed in a spec")
        for path in sorted(non_finite)
    )
    spec: ExperimentSpec | None = None
    try:
        spec = ExperimentSpec.model_validate(dict(raw))
    except ValidationError as exc:
        issues.extend(i for i in issues_from_validation(exc, (), ExperimentSpec) if i.path not in non_finite)

    components: dict[tuple[Any, ...], ResolvedComponent] = {}
    for path, kind, ref in component_refs(raw):
        found: list[SpecIssue] = []
        component = resolve_ref(path, kind, ref, registry, found)
        issues.extend(i for i in found if i.path not in non_finite)
        if component is not None:
            components[path] = component

    if spec is not None and spec.data.source is None:
        issues.append(
            SpecIssue(
                "data.source",
                "no data source set, and no installed one is the default",
                hint="set data.source (see `atgen list-plugins --kind data_source`)",
            )
        )
    exact = spec is not None
    dropped: set[str] = set(non_finite)
    if spec is None:
        spec, more = lenient_spec(raw)
        dropped |= more
    analysis = SpecAnalysis(spec=spec, exact=exact, components=components, issues=issues, dropped=dropped)
    if spec is not None:
        issues.extend(i for i in cross_checks(spec, raw, components, registry) if analysis.relevant(i))
    return analysis


def resolve_spec(
    raw: Mapping[str, Any],
    registry: Registry,
    *,
    source: str | None = None,
    base_dir: Path | None = None,
) -> ResolvedSpec:
    """Validate a raw spec dict in both phases; raise one ``SpecError`` listing every problem.

    This checks the spec alone; :func:`atgen_core.preflight.check_spec` adds what needs the files and
    the environment (data, columns, model path, environment variables, the run directory).
    """
    analysis = analyse_spec(raw, registry)
    if analysis.issues or not analysis.exact:
        raise SpecError(analysis.issues, source=source)
    return analysis.resolved(base_dir, registry)
