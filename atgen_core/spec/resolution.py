"""Phase 2: every component reference looked up in the registry and its ``config`` validated."""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from pydantic import ValidationError

from atgen_core.components import Component, PluginConfig
from atgen_core.errors import SpecIssue
from atgen_core.spec.issues import issues_from_validation
from atgen_core.spec.models import ExperimentSpec
from atgen_core.spec_file import dotted_path

if TYPE_CHECKING:
    from atgen_core.registry import ComponentInfo, Registry

__all__ = [
    "COMPONENT_FIELDS",
    "ResolvedComponent",
    "ResolvedSpec",
    "component_refs",
    "default_embedder",
    "needs_embeddings",
    "resolve_ref",
]

COMPONENT_FIELDS: tuple[tuple[str, str], ...] = (
    ("strategy", "strategy"),
    ("annotator", "annotator"),
    ("trainer", "trainer"),
    ("embedder", "embedder"),
    ("scoring", "scoring_backend"),
)


@dataclass(frozen=True)
class ResolvedComponent:
    """A component reference after phase 2: the registry entry and the validated config."""

    info: ComponentInfo
    config: PluginConfig

    @property
    def name(self) -> str:
        return self.info.name

    def build(self) -> Component:
        """Instantiate the component with its validated config."""
        return self.info.cls(self.config)


@dataclass(frozen=True)
class ResolvedSpec:
    """A spec whose every component exists and whose every config is valid."""

    spec: ExperimentSpec
    data_source: ResolvedComponent
    strategy: ResolvedComponent
    annotator: ResolvedComponent
    trainer: ResolvedComponent
    metrics: tuple[ResolvedComponent, ...]
    embedder: ResolvedComponent | None
    base_dir: Path | None = None
    scoring: ResolvedComponent | None = None
    tracking: tuple[ResolvedComponent, ...] = ()


def component_refs(raw: Mapping[str, Any]) -> Iterator[tuple[tuple[Any, ...], str, Any]]:
    """(path, kind, raw reference) for every component reference in a raw spec."""
    data = raw.get("data")
    if isinstance(data, Mapping) and "source" in data:
        yield ("data", "source"), "data_source", data["source"]
    for field, kind in COMPONENT_FIELDS:
        if raw.get(field) is not None:
            yield (field,), kind, raw[field]
    metrics = raw.get("metrics")
    if isinstance(metrics, list):
        for i, ref in enumerate(metrics):
            yield ("metrics", i), "metric", ref
    tracking = raw.get("tracking", [])
    if isinstance(tracking, list):
        for i, ref in enumerate(tracking):
            yield ("tracking", i), "tracker", ref


def resolve_ref(
    path: tuple[Any, ...], kind: str, raw_ref: Any, registry: Registry, issues: list[SpecIssue]
) -> ResolvedComponent | None:
    from atgen_core.registry import ConflictError, UnknownComponentError

    if isinstance(raw_ref, str):
        raw_ref = {"name": raw_ref}
    if not isinstance(raw_ref, Mapping) or not isinstance(raw_ref.get("name"), str):
        return None  # phase 1 reports the shape problem
    name = raw_ref["name"]
    try:
        info = registry.get(kind, name)
    except UnknownComponentError as exc:
        hint = f"did you mean {exc.suggestions[0]!r}?" if exc.suggestions else None
        known = ", ".join(exc.known) if exc.known else "none installed"
        issues.append(
            SpecIssue(
                dotted_path((*path, "name")),
                f"unknown {kind.replace('_', ' ')} (installed: {known}; see `atgen list-plugins`)",
                value=name,
                hint=hint,
            )
        )
        return None
    except ConflictError as exc:
        issues.append(SpecIssue(dotted_path((*path, "name")), str(exc), value=name))
        return None
    config_raw = raw_ref.get("config", {})
    if not isinstance(config_raw, Mapping):
        return None
    try:
        config = info.cls.Config.model_validate(dict(config_raw))
    except ValidationError as exc:
        issues.extend(issues_from_validation(exc, (*path, "config"), info.cls.Config))
        return None
    return ResolvedComponent(info=info, config=config)


def needs_embeddings(strategy: ResolvedComponent) -> bool:
    from atgen_core.components import Strategy

    built = strategy.build()
    assert isinstance(built, Strategy)
    try:
        return built.requirements().embeddings
    finally:
        built.close()


def default_embedder(registry: Registry) -> ResolvedComponent | None:
    name = registry.default_name("embedder")
    if name is None:
        return None
    info = registry.get("embedder", name)
    return ResolvedComponent(info=info, config=info.cls.Config())
