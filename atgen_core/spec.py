"""JSON experiment specs: the envelope model, two-phase validation, and the JSON Schema for editors.

Phase 1 validates the envelope (core sections and ``{"name", "config"}`` component references).
Phase 2 looks every component up in the registry and validates its ``config`` with the plugin's own
``Config`` model. All problems of both phases are collected into one ``SpecError`` whose entries carry
the dotted JSON path (``strategy.config.lambda_``), the bad value and a hint.
"""

from __future__ import annotations

import difflib
import itertools
import json
import math
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, create_model, model_validator

from atgen_core.components import Component, ModelSpec, PluginConfig
from atgen_core.errors import SpecError, SpecIssue
from atgen_core.spec_defaults import default_field as _default_field
from atgen_core.spec_defaults import with_declared_defaults
from atgen_core.spec_file import LoadedSpec, dotted_path, load_spec_file

if TYPE_CHECKING:
    from atgen_core.registry import ComponentInfo, Registry

__all__ = [
    "SCHEMA_VERSION",
    "BudgetSpec",
    "ComponentRef",
    "DataSpec",
    "ExperimentSpec",
    "LoadedSpec",
    "LoopSpec",
    "ResolvedComponent",
    "ResolvedSpec",
    "SpecAnalysis",
    "analyse_spec",
    "build_schema",
    "load_spec_file",
    "raw_run_dir",
    "resolve_spec",
]

SCHEMA_VERSION = 1


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, allow_inf_nan=False)


class ComponentRef(_Strict):
    """A reference to a component: its registered name and its config (validated by the plugin)."""

    name: str = Field(description="Registered component name (see `atgen list-plugins`).")
    config: dict[str, Any] = Field(default_factory=dict, description="The component's own settings.")

    @model_validator(mode="before")
    @classmethod
    def _accept_bare_name(cls, value: Any) -> Any:
        if isinstance(value, str):
            return {"name": value}
        return value


class DataSpec(_Strict):
    """Where the data comes from and how rows become examples."""

    source: ComponentRef | None = Field(
        None,
        description="Data source component, e.g. {'name': 'files', 'config': {'train': 'data.jsonl'}} "
        "(default: the installed data source that declares itself the default).",
    )
    train_split: str = Field("train", description="Split that forms the unlabelled pool.")
    test_split: str | None = Field(None, description="Split used as the test set; None = hold out test_size rows.")
    test_size: float | None = Field(
        None,
        gt=0,
        description="Rows held out of the train split as the test set (a count, or a fraction < 1), "
        "fixed by the seed. Used when test_split is None.",
    )
    input_column: str = Field("input", description="Column holding the model input.")
    target_column: str | None = Field("target", description="Column holding the gold output (None: no gold).")
    references_column: str | None = Field(
        None, description="Column holding a list of accepted references (default: [target])."
    )
    id_column: str | None = Field(
        None, description="Column holding a stable row id; None derives ids from the row content."
    )
    prompt: str = Field(
        "{input}",
        description="Prompt template; {column} fields are filled from the row, {{ and }} are literal braces. "
        "Braces inside the data never break it.",
    )
    pool_size: int | None = Field(None, ge=1, description="Use a seeded random subset of this many pool rows.")
    test_subset_size: int | None = Field(None, ge=1, description="Use a seeded random subset of the test rows.")
    duplicates: Literal["keep", "merge", "merge-test"] = Field(
        "merge",
        description="Rows sharing one input: 'merge' makes one example whose references are all their "
        "targets; 'keep' keeps them as separate examples; 'merge-test' merges them in the test set only "
        "(all references) while the pool keeps one example per row (each labelled with its own target) and "
        "drops the rows whose input is in the test set (E2E-style data with few distinct inputs). Ignored "
        "when id_column is set: ids then come from that column and every row is its own example.",
    )
    max_input_chars: int | None = Field(
        None, ge=1, description="Inputs longer than this are handled by on_oversized."
    )
    on_oversized: Literal["error", "drop", "truncate"] = Field(
        "error", description="What to do with inputs longer than max_input_chars."
    )


class BudgetSpec(_Strict):
    """Annotation budget; the loop stops before it would be exceeded."""

    labels: int | None = Field(None, ge=1, description="Maximum number of labels (None: unlimited).")
    money: float | None = Field(None, gt=0, description="Maximum annotation spend (None: unlimited).")
    currency: str = Field("USD", description="Unit of `money` and of annotator prices.")


class LoopSpec(_Strict):
    """The active-learning loop."""

    mode: Literal["iterative", "design"] = Field(
        "iterative",
        description="'iterative': select, annotate, train, evaluate, repeat. 'design' (experimental design): "
        "one selection of initial_size items by the strategy, one annotation pass, one training, one "
        "evaluation.",
    )
    start: Literal["warm", "cold"] = Field(
        "warm",
        description="'warm': the first batch is random; 'cold': the strategy picks it (it must be cold-start "
        "capable).",
    )
    initial_size: int = Field(16, ge=1, description="Size of the first labelled batch.")
    query_size: int = Field(16, ge=1, description="Items selected per iteration.")
    iterations: int = Field(3, ge=0, description="Query iterations after the first batch.")
    budget: BudgetSpec = Field(default_factory=lambda: BudgetSpec(), description="Annotation budget.")
    stop_when: dict[str, float] = Field(
        default_factory=dict,
        description="Stop once every listed metric value reaches its threshold, e.g. {'rougeL': 0.5}.",
    )
    evaluate_untrained: bool = Field(True, description="Evaluate the model before any training.")
    scoring_subsample: int | None = Field(
        None, ge=1, description="Score only a seeded random subsample of this many unlabelled items per iteration."
    )
    schedule: list[int] | None = Field(
        None,
        min_length=1,
        description="Label totals after each round, strictly increasing, e.g. [16, 32, 64, 128] (a doubling "
        "schedule). Replaces initial_size, query_size and iterations: round 0 labels schedule[0] items, round r "
        "schedule[r] - schedule[r-1].",
    )

    @model_validator(mode="before")
    @classmethod
    def _derive_from_schedule(cls, data: Any) -> Any:
        """With a schedule, initial_size / iterations / query_size follow from it (explicit values must agree)."""
        if not isinstance(data, Mapping) or not isinstance(data.get("schedule"), list):
            return data
        schedule = data["schedule"]
        if not schedule or not all(isinstance(n, int) and not isinstance(n, bool) for n in schedule):
            return data  # the field validation reports it
        if any(n < 1 for n in schedule) or any(b <= a for a, b in itertools.pairwise(schedule)):
            raise ValueError(f"schedule must hold positive, strictly increasing label totals, got {schedule}")
        derived = {
            "initial_size": schedule[0],
            "iterations": len(schedule) - 1,
            "query_size": schedule[1] - schedule[0] if len(schedule) > 1 else data.get("query_size", 16),
        }
        clash = [k for k, v in derived.items() if k in data and data[k] != v and k != "query_size"]
        if len(schedule) > 1 and "query_size" in data and data["query_size"] != derived["query_size"]:
            clash.append("query_size")
        if clash:
            raise ValueError(
                f"schedule {schedule} replaces {', '.join(sorted(clash))}: give either the schedule or those fields"
            )
        if data.get("mode") == "design" and len(schedule) > 1:
            raise ValueError("mode 'design' has one round; a schedule for it has one entry")
        return {**data, **derived}

    @property
    def rounds(self) -> int:
        """Rounds of selection (the first batch included)."""
        if self.mode == "design":
            return 1
        return len(self.schedule) if self.schedule is not None else self.iterations + 1

    def batch_size(self, round_: int) -> int:
        """How many items round ``round_`` selects (0: the first batch)."""
        if self.schedule is not None:
            if round_ >= len(self.schedule):
                return 0
            return self.schedule[round_] - (self.schedule[round_ - 1] if round_ > 0 else 0)
        return self.initial_size if round_ == 0 else self.query_size


class ExperimentSpec(_Strict):
    """An atgen experiment (schema_version 1)."""

    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=True, allow_inf_nan=False)

    schema_: str | None = Field(None, alias="$schema", description="Optional JSON Schema reference for editors.")
    schema_version: Literal[1] = Field(1, description="Spec format version.")
    name: str = Field(min_length=1, pattern=r"^[A-Za-z0-9][A-Za-z0-9._-]*$", description="Experiment name.")
    seed: int = Field(42, description="Seed for every random choice (subsets, selection, training).")
    data: DataSpec = Field(description="Data section.")
    model: ModelSpec = Field(default_factory=lambda: ModelSpec(), description="Model section.")
    loop: LoopSpec = Field(default_factory=lambda: LoopSpec(), description="Loop section.")
    strategy: ComponentRef = Field(description="Selection strategy.")
    # Left out: the installed component that declares itself the default (`with_declared_defaults`).
    annotator: ComponentRef = Field(description="Annotator.")
    trainer: ComponentRef = Field(description="Trainer.")
    metrics: list[ComponentRef] = Field(description="Metrics computed on the test set.")
    embedder: ComponentRef | None = Field(
        None, description="Input embedder for diversity strategies (default: the declared default, if needed)."
    )
    scoring: ComponentRef | None = Field(
        None, description="Scoring backend for the per-iteration generation pass (default: in-process)."
    )
    tracking: list[ComponentRef] = Field(
        default_factory=list,
        description="Experiment trackers mirroring the run (e.g. ['mlflow']); a failing tracker only warns.",
    )
    output_dir: str = Field("runs/{name}", description="Run directory; {name} is replaced by the spec name.")
    reference: str | None = Field(
        None,
        description="Optional reference measurements of this task (a JSON file written by `atgen report "
        "--reference`, path relative to the spec): the run then ends with a verdict on how its strategy "
        "compares with random over the reference's seeds.",
    )

    def run_dir(self, base: Path | None = None) -> Path:
        """The run directory, relative paths resolved against ``base`` (the working directory)."""
        path = Path(self.output_dir.replace("{name}", self.name)).expanduser()
        if not path.is_absolute() and base is not None:
            path = base / path
        return path


def raw_run_dir(raw: Mapping[str, Any], base: Path | None = None) -> Path | None:
    """The run directory a raw (maybe invalid) spec names, or ``None`` when its name or output_dir is unusable."""
    name, out = raw.get("name"), raw.get("output_dir", "runs/{name}")
    if not isinstance(name, str) or not isinstance(out, str):
        return None
    path = Path(out.replace("{name}", name)).expanduser()
    return base / path if base is not None and not path.is_absolute() else path


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


# --------------------------------------------------------------------------------------------------
# Validation
# --------------------------------------------------------------------------------------------------


_dotted = dotted_path


def _allowed_keys(model: type[BaseModel]) -> list[str]:
    keys = []
    for field_name, field in model.model_fields.items():
        keys.append(field.alias or field_name)
    return keys


def _model_at(root: type[BaseModel], loc: tuple[Any, ...]) -> type[BaseModel] | None:
    """The pydantic model that owns the last element of ``loc`` (for key suggestions)."""
    model: type[BaseModel] | None = root
    for part in loc[:-1]:
        if model is None or isinstance(part, int):
            continue
        field = model.model_fields.get(str(part))
        if field is None:
            return None
        annotation = field.annotation
        candidates = [annotation, *getattr(annotation, "__args__", ())]
        model = next((c for c in candidates if isinstance(c, type) and issubclass(c, BaseModel)), None)
    return model


def _issues_from_validation(
    exc: ValidationError, prefix: tuple[Any, ...], root: type[BaseModel]
) -> Iterator[SpecIssue]:
    for err in exc.errors(include_url=False):
        loc = tuple(err["loc"])
        hint = None
        if err["type"] == "extra_forbidden":
            owner = _model_at(root, loc)
            allowed = _allowed_keys(owner) if owner is not None else []
            close = difflib.get_close_matches(str(loc[-1]), allowed, n=1, cutoff=0.6)
            if close:
                hint = f"did you mean {close[0]!r}?"
            elif allowed:
                hint = "allowed keys: " + ", ".join(allowed)
            yield SpecIssue(_dotted(prefix + loc), "unknown key", hint=hint)
            continue
        message = err["msg"]
        ctx = err.get("ctx") or {}
        if err["type"] == "literal_error" and "expected" in ctx:
            hint = f"allowed: {ctx['expected']}"
        yield SpecIssue(_dotted(prefix + loc), message, value=err.get("input"), hint=hint)


def _component_refs(raw: Mapping[str, Any]) -> Iterator[tuple[tuple[Any, ...], str, Any]]:
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


def _resolve_ref(
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
                _dotted((*path, "name")),
                f"unknown {kind.replace('_', ' ')} (installed: {known}; see `atgen list-plugins`)",
                value=name,
                hint=hint,
            )
        )
        return None
    except ConflictError as exc:
        issues.append(SpecIssue(_dotted((*path, "name")), str(exc), value=name))
        return None
    config_raw = raw_ref.get("config", {})
    if not isinstance(config_raw, Mapping):
        return None
    try:
        config = info.cls.Config.model_validate(dict(config_raw))
    except ValidationError as exc:
        issues.extend(_issues_from_validation(exc, (*path, "config"), info.cls.Config))
        return None
    return ResolvedComponent(info=info, config=config)


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
        if embedder is None and _needs_embeddings(strategy):
            embedder = _default_embedder(registry)
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


def _non_finite(value: Any, path: tuple[Any, ...] = ()) -> Iterator[str]:
    if isinstance(value, float) and not math.isfinite(value):
        yield _dotted(path)
    elif isinstance(value, Mapping):
        for key, item in value.items():
            yield from _non_finite(item, (*path, key))
    elif isinstance(value, list):
        for i, item in enumerate(value):
            yield from _non_finite(item, (*path, i))


def _delete_at(data: Any, loc: tuple[Any, ...]) -> bool:
    for part in loc[:-1]:
        if isinstance(data, Mapping) and part in data:
            data = data[part]
        elif isinstance(data, list) and isinstance(part, int) and part < len(data):
            data = data[part]
        else:
            return False
    if isinstance(data, dict) and loc and loc[-1] in data:
        del data[loc[-1]]
        return True
    return False


_PLACEHOLDERS: dict[tuple[Any, ...], Any] = {
    ("name",): "spec", ("data",): {}, ("strategy",): {"name": "?"}, ("annotator",): {"name": "?"},
    ("trainer",): {"name": "?"}, ("metrics",): [],
}


def _lenient_spec(raw: Mapping[str, Any]) -> tuple[ExperimentSpec | None, set[str]]:
    """The spec with every invalid value dropped (defaults instead), and the dropped paths."""
    data = json.loads(json.dumps(dict(raw), default=str))
    dropped: set[str] = set()
    for _ in range(10):
        try:
            return ExperimentSpec.model_validate(data), dropped
        except ValidationError as exc:
            progressed = False
            for err in exc.errors(include_url=False):
                loc = tuple(err["loc"])
                if err["type"] == "missing" and loc in _PLACEHOLDERS and isinstance(data, dict):
                    data[loc[0]] = _PLACEHOLDERS[loc]
                    dropped.add(_dotted(loc))
                    progressed = True
                elif _delete_at(data, loc):
                    dropped.add(_dotted(loc))
                    progressed = True
            if not progressed:
                return None, dropped
    return None, dropped


def analyse_spec(raw: Mapping[str, Any], registry: Registry) -> SpecAnalysis:
    """Validate a raw spec in both phases and run the cross-checks; collect every problem, raise none."""
    issues: list[SpecIssue] = list(getattr(raw, "issues", ()))
    raw = with_declared_defaults(raw, registry)
    non_finite = set(_non_finite(raw))
    issues.extend(
        SpecIssue(path, "not a finite number: NaN and Infinity are not allowed in a spec")
        for path in sorted(non_finite)
    )
    spec: ExperimentSpec | None = None
    try:
        spec = ExperimentSpec.model_validate(dict(raw))
    except ValidationError as exc:
        issues.extend(i for i in _issues_from_validation(exc, (), ExperimentSpec) if i.path not in non_finite)

    components: dict[tuple[Any, ...], ResolvedComponent] = {}
    for path, kind, ref in _component_refs(raw):
        found: list[SpecIssue] = []
        component = _resolve_ref(path, kind, ref, registry, found)
        issues.extend(i for i in found if i.path not in non_finite)
        if component is not None:
            components[path] = component

    if spec is not None and spec.data.source is None:
        issues.append(SpecIssue("data.source", "no data source set, and no installed one is the default",
                                hint="set data.source (see `atgen list-plugins --kind data_source`)"))
    exact = spec is not None
    dropped: set[str] = set(non_finite)
    if spec is None:
        spec, more = _lenient_spec(raw)
        dropped |= more
    analysis = SpecAnalysis(spec=spec, exact=exact, components=components, issues=issues, dropped=dropped)
    if spec is not None:
        issues.extend(i for i in _cross_checks(spec, raw, components, registry) if analysis.relevant(i))
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


def _needs_embeddings(strategy: ResolvedComponent) -> bool:
    from atgen_core.components import Strategy

    built = strategy.build()
    assert isinstance(built, Strategy)
    try:
        return built.requirements().embeddings
    finally:
        built.close()


def _default_embedder(registry: Registry) -> ResolvedComponent | None:
    name = registry.default_name("embedder")
    if name is None:
        return None
    info = registry.get("embedder", name)
    return ResolvedComponent(info=info, config=info.cls.Config())


def _cross_checks(
    spec: ExperimentSpec,
    raw: Mapping[str, Any],
    resolved: Mapping[tuple[Any, ...], ResolvedComponent],
    registry: Registry,
) -> Iterator[SpecIssue]:
    """Checks across sections; each runs when the parts it needs resolved, whatever else is wrong."""
    from atgen_core.components import Strategy

    strategy = resolved.get(("strategy",))
    if strategy is not None:
        strategy_cls = strategy.info.cls
        assert issubclass(strategy_cls, Strategy)
        cold = spec.loop.start == "cold" or spec.loop.mode == "design"
        if cold and not strategy_cls.cold_start:
            yield SpecIssue(
                "loop.start" if spec.loop.mode == "iterative" else "loop.mode",
                f"strategy {strategy.name!r} cannot pick the first batch without labelled data",
                hint="use start 'warm' (a random first batch), or a cold-start strategy",
            )
        if _needs_embeddings(strategy) and ("embedder",) not in resolved and (
            registry.default_name("embedder") is None
        ) and raw.get("embedder") is None:
            yield SpecIssue(
                "embedder",
                f"strategy {strategy.name!r} needs input embeddings but no embedder is set",
                hint="set `embedder` (see `atgen list-plugins --kind embedder`) or install a plugin providing one",
            )
    yield from _stop_when_checks(spec, resolved)
    yield from _size_checks(spec)


def _stop_when_checks(
    spec: ExperimentSpec, resolved: Mapping[tuple[Any, ...], ResolvedComponent]
) -> Iterator[SpecIssue]:
    """Stopping thresholds must name a reported metric value and lie in its range."""
    from atgen_core.components import Metric

    keys: dict[str, Any] = {}
    complete = True
    for i in range(len(spec.metrics)):
        component = resolved.get(("metrics", i))
        if component is None:
            complete = False
            continue
        metric = component.build()
        assert isinstance(metric, Metric)
        try:
            keys.update(metric.keys())
        finally:
            metric.close()
    for key, threshold in spec.loop.stop_when.items():
        path = f"loop.stop_when.{key}"
        if key not in keys:
            if not complete:
                continue  # it may belong to the metric that did not resolve (reported already)
            close = difflib.get_close_matches(key, list(keys), n=1)
            hint = f"did you mean {close[0]!r}?" if close else "reported: " + ", ".join(sorted(keys))
            yield SpecIssue(path, "no configured metric reports this value", hint=hint)
            continue
        info = keys[key]
        if not (info.low <= threshold <= info.high):
            yield SpecIssue(
                path, f"threshold outside the metric's range [{info.low}, {info.high}]", value=threshold
            )


def _size_checks(spec: ExperimentSpec) -> Iterator[SpecIssue]:
    loop, data = spec.loop, spec.data
    if data.pool_size is not None and loop.initial_size > data.pool_size:
        yield SpecIssue("loop.initial_size", f"larger than data.pool_size ({data.pool_size})", value=loop.initial_size)
    if loop.budget.labels is not None and loop.budget.labels < loop.initial_size:
        yield SpecIssue(
            "loop.budget.labels",
            f"smaller than loop.initial_size ({loop.initial_size}): the first batch could not be labelled",
            value=loop.budget.labels,
            hint="raise the budget or lower initial_size",
        )
    if data.test_split is None and data.test_size is None:
        yield SpecIssue("data.test_size", "no test set: set data.test_split or data.test_size")
    if data.test_size is not None and data.test_size >= 1 and data.test_size != int(data.test_size):
        yield SpecIssue("data.test_size", "a count must be a whole number (or use a fraction < 1)",
                        value=data.test_size)


# --------------------------------------------------------------------------------------------------
# JSON Schema
# --------------------------------------------------------------------------------------------------


def _union_for(kind: str, registry: Registry) -> Any:
    infos = registry.all(kind)
    if not infos:
        return ComponentRef
    variants = []
    for info in infos:
        model_name = "".join(p.capitalize() for p in f"{kind}_{info.name}".replace("-", "_").split("_")) + "Ref"
        variants.append(
            create_model(
                model_name,
                __config__=ConfigDict(extra="forbid"),
                __doc__=info.summary or None,
                name=(Literal[info.name], Field(description=info.summary or info.name)),  # type: ignore[valid-type,arg-type]
                config=(info.cls.Config, Field(default_factory=info.cls.Config)),
            )
        )
    from typing import Annotated, Union

    names = Literal[tuple(info.name for info in infos)]  # type: ignore[valid-type]
    if len(variants) == 1:
        return Union[names, variants[0]]  # noqa: UP007
    # A bare name is shorthand for {"name": ...}; objects are told apart by their "name".
    return Union[names, Annotated[Union[tuple(variants)], Field(discriminator="name")]]  # noqa: UP007


def build_schema(registry: Registry) -> dict[str, Any]:
    """The JSON Schema of a spec, with a discriminated union of every installed plugin's config."""
    data_model = create_model(
        "DataSpecWithSources",
        __base__=DataSpec,
        source=(_union_for("data_source", registry), _default_field(registry, "data_source", "Data source component.")),
    )
    spec_model = create_model(
        "AtgenExperimentSpec",
        __base__=ExperimentSpec,
        data=(data_model, Field(description="Data section.")),
        strategy=(_union_for("strategy", registry), Field(description="Selection strategy.")),
        annotator=(_union_for("annotator", registry), _default_field(registry, "annotator", "Annotator.")),
        trainer=(_union_for("trainer", registry), _default_field(registry, "trainer", "Trainer.")),
        metrics=(list[_union_for("metric", registry)], _default_field(registry, "metric", "Metrics.", many=True)),  # type: ignore[misc,arg-type,maybe-unrecognized-str-typeform]
        embedder=(_union_for("embedder", registry) | None, Field(None, description="Input embedder.")),  # type: ignore[maybe-unrecognized-str-typeform]
        scoring=(_union_for("scoring_backend", registry) | None, Field(None, description="Scoring backend.")),  # type: ignore[maybe-unrecognized-str-typeform]
        tracking=(list[_union_for("tracker", registry)], Field([], description="Experiment trackers.")),  # type: ignore[misc,arg-type,maybe-unrecognized-str-typeform]
    )
    schema = spec_model.model_json_schema(by_alias=True)
    schema["$schema"] = "https://json-schema.org/draft/2020-12/schema"
    schema["title"] = "atgen experiment spec"
    return schema
