"""Plugin discovery and the registry: broken plugins are reported, never fatal.

Entry points come from fake distributions written into a temporary directory (``atgen_fake_site``)
and discovery is restricted to that directory, so these tests behave the same with or without real
plugins installed.
"""

from __future__ import annotations

import inspect
import types
from collections.abc import Callable, Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any, ClassVar

import numpy as np
import pytest

from atgen_core import (
    AnnotationContext,
    AnnotationItem,
    AnnotationResult,
    Annotator,
    DataContext,
    DataSource,
    EmbedContext,
    Embedder,
    Generation,
    GenerationSettings,
    Metric,
    MetricContext,
    MetricKey,
    MetricResult,
    ModelContext,
    ScoringBackend,
    ScoringRequest,
    Strategy,
    TrainContext,
    Trainer,
    TrainResult,
    hookimpl,
    hookspecs,
)
from atgen_core.components import SelectionContext
from atgen_core.plugins import (
    HOOKS_BY_KIND,
    build_registry,
    create_plugin_manager,
    get_registry,
    load_registry,
    register_plugin,
    reset_registry,
)
from atgen_core.registry import ConflictError, PluginLoadError, Registry, UnknownComponentError
from atgen_core.testing import FakeSite, make_pool, selection_context

pytest_plugins = ["atgen_core.testing"]


def strategy_module(cls_name: str, name: str, doc: str = "Pick the first ids.") -> str:
    """Source of a hooks module registering one working strategy."""
    return f'''
from atgen_core import Strategy, hookimpl

class {cls_name}(Strategy):
    """{doc}"""
    name = "{name}"
    cold_start = True

    def select(self, ctx):
        return list(ctx.pool.ids[: ctx.k])

@hookimpl
def atgen_register_strategies():
    return {cls_name}
'''


@pytest.fixture(autouse=True)
def _clean_env(monkeypatch: pytest.MonkeyPatch) -> None:
    for var in ("ATGEN_DISABLE_PLUGINS", "ATGEN_LOAD_PLUGINS", "ATGEN_TRACE_PLUGINS"):
        monkeypatch.delenv(var, raising=False)


@pytest.fixture
def good(atgen_fake_site: FakeSite) -> FakeSite:
    """A site with one healthy plugin: atgen-good 1.2.0 providing strategy 'first'."""
    atgen_fake_site.add_distribution(
        "atgen-good",
        version="1.2.0",
        entry_points={"good": "good_plugin.hooks"},
        files={"good_plugin/__init__.py": "", "good_plugin/hooks.py": strategy_module("First", "first")},
    )
    return atgen_fake_site


# --------------------------------------------------------------------------------------------------
# Healthy discovery
# --------------------------------------------------------------------------------------------------


def test_entry_point_plugin_is_registered_with_its_distribution(good: FakeSite) -> None:
    registry = good.registry()
    info = registry.get("strategy", "first")
    assert (info.plugin, info.distribution, info.version) == ("good", "atgen-good", "1.2.0")
    assert info.class_path == "good_plugin.hooks:First"
    assert info.summary == "Pick the first ids."
    assert registry.ok and registry.failures == [] and registry.conflicts == []
    [record] = registry.plugins
    assert record.module == "good_plugin.hooks"
    assert record.hooks == ("atgen_register_strategies",)
    # The class found is a working strategy.
    pool, _ = make_pool(5)
    assert list(info.cls().select(selection_context(pool, k=2))) == ["ex0000", "ex0001"]  # type: ignore[attr-defined]


def test_without_entry_points_nothing_is_loaded(good: FakeSite) -> None:
    registry = load_registry(load_entrypoints=False)
    assert registry.all() == [] and registry.plugins == []


def test_create_plugin_manager_is_fresh_each_call() -> None:
    a, b = create_plugin_manager(False), create_plugin_manager(False)
    assert a is not b
    assert a.project_name == "atgen"
    assert {c for c in dir(a.hook) if c.startswith("atgen_")} == set(hookspecs.__all__)


def test_get_registry_is_cached_until_reset(monkeypatch: pytest.MonkeyPatch) -> None:
    reset_registry()
    monkeypatch.setenv("ATGEN_LOAD_PLUGINS", "")
    first = get_registry()
    assert get_registry() is first
    reset_registry()
    assert get_registry() is not first
    reset_registry()


# --------------------------------------------------------------------------------------------------
# Broken plugins
# --------------------------------------------------------------------------------------------------


def test_plugin_that_fails_to_import_is_reported_and_others_load(good: FakeSite) -> None:
    good.add_distribution(
        "atgen-broken",
        version="0.3",
        entry_points={"broken": "broken_plugin.hooks"},
        files={
            "broken_plugin/__init__.py": "",
            "broken_plugin/hooks.py": "raise ImportError('cannot import name Foo from bar')\n",
        },
    )
    registry = good.registry()
    assert registry.names("strategy") == ["first"]
    [failure] = registry.failures
    assert (failure.plugin, failure.distribution, failure.version) == ("broken", "atgen-broken", "0.3")
    assert failure.error.startswith("ImportError: cannot import name Foo from bar")
    assert "broken_plugin/hooks.py:1" in failure.error
    assert failure.hint == "set ATGEN_DISABLE_PLUGINS=broken to hide it"
    assert failure.describe().startswith("atgen-broken 0.3 (entry point 'broken'): ImportError")
    assert not registry.ok


def test_missing_dependency_hint_names_the_module(atgen_fake_site: FakeSite) -> None:
    atgen_fake_site.add_distribution(
        "atgen-needs-x",
        entry_points={"needsx": "needsx_hooks"},
        files={"needsx_hooks.py": "import atgen_no_such_module_xyz\n"},
    )
    [failure] = atgen_fake_site.registry().failures
    assert failure.error.startswith("ModuleNotFoundError: No module named 'atgen_no_such_module_xyz'")
    assert "install the missing module 'atgen_no_such_module_xyz'" in failure.hint


def test_entry_point_naming_a_missing_module_says_so(atgen_fake_site: FakeSite) -> None:
    atgen_fake_site.add_distribution("atgen-ghost", entry_points={"ghost": "ghost_plugin_xyz.hooks"})
    [failure] = atgen_fake_site.registry().failures
    assert failure.error == "ModuleNotFoundError: No module named 'ghost_plugin_xyz'"
    assert failure.hint.startswith(
        "the entry point names module 'ghost_plugin_xyz.hooks', which is not installed: "
        "check [project.entry-points.atgen] of atgen-ghost and reinstall it"
    )


def test_misspelt_hook_is_reported_with_a_suggestion(good: FakeSite) -> None:
    good.add_distribution(
        "atgen-typo",
        entry_points={"foo": "typo_hooks"},
        files={
            "typo_hooks.py": """
                from atgen_core import hookimpl

                @hookimpl
                def atgen_register_strategy():
                    return []
            """
        },
    )
    registry = good.registry()
    [failure] = registry.failures
    assert failure.error == (
        "unknown hook 'atgen_register_strategy' in plugin 'foo'; did you mean 'atgen_register_strategies'?"
    )
    assert failure.distribution == "atgen-typo"
    assert registry.names("strategy") == ["first"]


def test_misspelt_hook_without_marker_and_unmarked_hook_are_reported(atgen_fake_site: FakeSite) -> None:
    atgen_fake_site.add_distribution(
        "atgen-sloppy",
        entry_points={"sloppy": "sloppy_hooks"},
        files={
            "sloppy_hooks.py": """
                from atgen_core import hookimpl
                from atgen_core.plugins import load_registry as atgen_imported_helper  # not a hook

                def atgen_register_metric():
                    return []

                def atgen_register_trainers():
                    return []
            """
        },
    )
    [failure] = atgen_fake_site.registry().failures
    assert "unknown hook 'atgen_register_metric' in plugin 'sloppy'; did you mean 'atgen_register_metrics'?" in (
        failure.error
    )
    assert "function 'atgen_register_trainers' in plugin 'sloppy' is not marked" in failure.error
    assert "atgen_imported_helper" not in failure.error


def test_hook_returning_non_components_names_both_classes(atgen_fake_site: FakeSite) -> None:
    atgen_fake_site.add_distribution(
        "atgen-wrong",
        entry_points={"wrong": "wrong_hooks"},
        files={
            "wrong_hooks.py": '''
                from atgen_core import Metric, MetricKey, MetricResult, Strategy, hookimpl

                class NotAComponent:
                    pass

                class AMetric(Metric):
                    """A metric."""
                    name = "a-metric"
                    def keys(self):
                        return {"a": MetricKey()}
                    def compute(self, ctx):
                        return MetricResult({"a": 1.0})

                class Abstract(Strategy):
                    """No select."""
                    name = "abstract"

                class Nameless(Strategy):
                    """No name."""
                    def select(self, ctx):
                        return []

                class Fine(Strategy):
                    """Would be fine."""
                    name = "fine"
                    def select(self, ctx):
                        return []

                @hookimpl
                def atgen_register_strategies():
                    return [NotAComponent, AMetric, Abstract, Nameless, Fine(), "fine", Fine]
            '''
        },
    )
    registry = atgen_fake_site.registry()
    [failure] = registry.failures
    assert failure.distribution == "atgen-wrong"
    error = failure.error
    assert (
        "plugin 'wrong' returned wrong_hooks:NotAComponent from atgen_register_strategies(), "
        "which is not a subclass of atgen_core.components:Strategy"
    ) in error
    assert (
        "returned wrong_hooks:AMetric from atgen_register_strategies(), but it is a "
        "atgen_core.components:Metric, not a atgen_core.components:Strategy; return it from atgen_register_metrics()"
    ) in error
    assert "wrong_hooks:Abstract from atgen_register_strategies(), which is abstract (implement: select)" in error
    assert "wrong_hooks:Nameless" in error and "no valid `name`" in error
    assert "an instance; return the class itself" in error
    assert "builtins:str instance" in error
    # A failed plugin contributes nothing, not even its valid class.
    assert registry.all() == []


def test_hook_that_raises_is_a_failure_of_that_plugin_only(good: FakeSite) -> None:
    good.add_distribution(
        "atgen-raiser",
        version="2.0",
        entry_points={"raiser": "raiser_hooks"},
        files={
            "raiser_hooks.py": """
                from atgen_core import hookimpl

                @hookimpl
                def atgen_register_metrics():
                    raise RuntimeError("boom")
            """
        },
    )
    registry = good.registry()
    [failure] = registry.failures
    assert failure.plugin == "raiser" and failure.version == "2.0"
    assert failure.error.startswith("atgen_register_metrics() raised RuntimeError: boom (at ")
    assert "raiser_hooks.py:" in failure.error
    assert "ATGEN_DISABLE_PLUGINS=raiser" in failure.hint
    assert registry.names("strategy") == ["first"]


def test_hook_with_arguments_fails_validation(atgen_fake_site: FakeSite) -> None:
    atgen_fake_site.add_distribution(
        "atgen-args",
        entry_points={"args": "args_hooks"},
        files={
            "args_hooks.py": """
                from atgen_core import hookimpl

                @hookimpl
                def atgen_register_strategies(config):
                    return []
            """
        },
    )
    [failure] = atgen_fake_site.registry().failures
    assert failure.error.startswith("invalid hook implementation:")
    assert "config" in failure.error


def test_duplicate_entry_point_names_are_reported(good: FakeSite) -> None:
    good.add_distribution(
        "atgen-good-fork",
        entry_points={"good": "fork_hooks"},
        files={"fork_hooks.py": strategy_module("Fork", "fork")},
    )
    registry = good.registry()
    [failure] = registry.failures
    assert failure.plugin == "good"
    assert "already used by" in failure.error and "must be unique" in failure.error
    # Exactly one of the two distributions was loaded, the other one is the failure.
    loaded = {info.distribution for info in registry.all()}
    assert len(loaded) == 1 and failure.distribution not in loaded
    # Both are listed as plugins; the failure belongs to the shadowed one only.
    assert sorted(str(p.distribution) for p in registry.plugins) == ["atgen-good", "atgen-good-fork"]
    for record in registry.plugins:
        if record.distribution in loaded:
            assert registry.failures_of(record) == [] and len(registry.components_of(record)) == 1
        else:
            assert registry.failures_of(record) == [failure] and registry.components_of(record) == []
    assert registry.failed_plugins == [("good", failure.distribution)]


def test_same_module_under_two_entry_points_fails_the_second(good: FakeSite) -> None:
    good.add_distribution("atgen-alias", entry_points={"alias": "good_plugin.hooks"})
    registry = good.registry()
    assert registry.names("strategy") == ["first"]
    [failure] = registry.failures
    assert failure.plugin in {"alias", "good"} and failure.error.startswith("cannot register:")


def test_hook_returning_none_contributes_nothing(atgen_fake_site: FakeSite) -> None:
    atgen_fake_site.add_distribution(
        "atgen-empty",
        entry_points={"empty": "empty_hooks"},
        files={
            "empty_hooks.py": """
                from atgen_core import hookimpl

                @hookimpl
                def atgen_register_strategies():
                    return None
            """
        },
    )
    registry = atgen_fake_site.registry()
    assert registry.ok and registry.all() == []
    assert [p.plugin for p in registry.plugins] == ["empty"]


# --------------------------------------------------------------------------------------------------
# Conflicts
# --------------------------------------------------------------------------------------------------


@pytest.fixture
def clash(good: FakeSite) -> FakeSite:
    """Two distributions both registering strategy 'first', plus a unique 'second'."""
    good.add_distribution(
        "atgen-other",
        version="0.9",
        entry_points={"other": "other_hooks"},
        files={
            "other_hooks.py": '''
                from atgen_core import Strategy, hookimpl

                class OtherFirst(Strategy):
                    """Another first."""
                    name = "first"
                    def select(self, ctx):
                        return list(ctx.pool.ids[-ctx.k:])

                class Second(Strategy):
                    """The second."""
                    name = "second"
                    def select(self, ctx):
                        return list(ctx.pool.ids[: ctx.k])

                @hookimpl(specname="atgen_register_strategies")
                def both():
                    return [OtherFirst, Second]
            '''
        },
    )
    return good


def test_conflicting_names_are_listed_with_both_distributions(clash: FakeSite) -> None:
    registry = clash.registry()
    assert registry.failures == []
    [conflict] = registry.conflicts
    assert (conflict.kind, conflict.name) == ("strategy", "first")
    assert [p.distribution for p in conflict.providers] == ["atgen-good", "atgen-other"]
    assert conflict.describe() == (
        "strategy 'first' registered by atgen-good 1.2.0 (good_plugin.hooks:First) "
        "and atgen-other 0.9 (other_hooks:OtherFirst)"
    )
    # Using the ambiguous name is an error; other names still work.
    with pytest.raises(ConflictError, match=r"atgen-good 1\.2\.0.*atgen-other 0\.9"):
        registry.get("strategy", "first")
    assert registry.get("strategy", "second").distribution == "atgen-other"
    assert len(registry.registrations) == 3


def test_conflict_raises_at_load_time_under_strict(clash: FakeSite) -> None:
    with pytest.raises(ConflictError, match="strategy 'first'"):
        clash.registry(strict=True)


def test_failures_raise_at_load_time_under_strict(good: FakeSite) -> None:
    good.add_distribution(
        "atgen-broken", entry_points={"broken": "broken_hooks"}, files={"broken_hooks.py": "1/0\n"}
    )
    with pytest.raises(PluginLoadError, match=r"atgen-broken 0\.1\.0 \(entry point 'broken'\): ZeroDivisionError"):
        good.registry(strict=True)
    assert good.registry().names("strategy") == ["first"]


def test_same_class_from_two_plugins_is_not_a_conflict(good: FakeSite) -> None:
    good.add_distribution(
        "atgen-reexport",
        entry_points={"reexport": "reexport_hooks"},
        files={
            "reexport_hooks.py": """
                from atgen_core import hookimpl
                from good_plugin.hooks import First

                @hookimpl
                def atgen_register_strategies():
                    return [First, First]
            """
        },
    )
    registry = good.registry()
    assert registry.ok
    assert len(registry.registrations) == 1


# --------------------------------------------------------------------------------------------------
# Environment variables
# --------------------------------------------------------------------------------------------------


@pytest.fixture
def two(good: FakeSite) -> FakeSite:
    good.add_distribution(
        "atgen-second",
        entry_points={"second": "second_hooks"},
        files={"second_hooks.py": strategy_module("Second", "second")},
    )
    return good


@pytest.mark.parametrize("value", ["good", "atgen-good", "atgen_good", " nothing , good "])
def test_disable_plugins_by_entry_point_or_distribution(
    two: FakeSite, monkeypatch: pytest.MonkeyPatch, value: str
) -> None:
    monkeypatch.setenv("ATGEN_DISABLE_PLUGINS", value)
    registry = two.registry()
    assert registry.names("strategy") == ["second"]
    [disabled] = registry.disabled
    assert (disabled.plugin, disabled.distribution) == ("good", "atgen-good")
    assert "ATGEN_DISABLE_PLUGINS" in disabled.reason


def test_disable_hides_a_broken_plugin(good: FakeSite, monkeypatch: pytest.MonkeyPatch) -> None:
    good.add_distribution(
        "atgen-broken", entry_points={"broken": "broken_hooks2"}, files={"broken_hooks2.py": "raise SystemExit(3)\n"}
    )
    assert [f.plugin for f in good.registry().failures] == ["broken"]
    monkeypatch.setenv("ATGEN_DISABLE_PLUGINS", "broken")
    assert good.registry().ok


def test_load_plugins_is_an_allow_list(two: FakeSite, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ATGEN_LOAD_PLUGINS", "atgen-second")
    registry = two.registry()
    assert registry.names("strategy") == ["second"]
    assert [d.plugin for d in registry.disabled] == ["good"]
    assert "not listed in ATGEN_LOAD_PLUGINS" in registry.disabled[0].reason


def test_empty_load_plugins_loads_none(two: FakeSite, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ATGEN_LOAD_PLUGINS", "")
    registry = two.registry()
    assert registry.all() == [] and registry.plugins == []
    assert sorted(d.plugin for d in registry.disabled) == ["good", "second"]


def test_disable_wins_over_load(two: FakeSite, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ATGEN_LOAD_PLUGINS", "good,second")
    monkeypatch.setenv("ATGEN_DISABLE_PLUGINS", "second")
    assert two.registry().names("strategy") == ["first"]


def test_trace_prints_discovery_and_hook_calls(
    good: FakeSite, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("ATGEN_TRACE_PLUGINS", "1")
    good.registry()
    err = capsys.readouterr().err
    assert "atgen-trace: load entry point good = good_plugin.hooks (atgen-good 1.2.0)" in err
    assert "atgen-trace: good.atgen_register_strategies() -> [good_plugin.hooks:First]" in err


# --------------------------------------------------------------------------------------------------
# Registry lookups and determinism
# --------------------------------------------------------------------------------------------------


def test_unknown_name_suggests_close_matches(two: FakeSite) -> None:
    registry = two.registry()
    with pytest.raises(UnknownComponentError) as info:
        registry.get("strategy", "frist")
    err = info.value
    assert err.suggestions == ["first"]
    assert err.known == ["first", "second"]
    assert str(err) == (
        "unknown strategy 'frist'; did you mean 'first'? (available: first, second; run `atgen list-plugins`)"
    )
    with pytest.raises(UnknownComponentError, match="available: none installed"):
        registry.get("metric", "rouge")
    with pytest.raises(ValueError, match="unknown component kind 'strategies'"):
        registry.get("strategies", "first")


def test_unknown_name_mentions_failed_plugins(good: FakeSite) -> None:
    good.add_distribution(
        "atgen-broken", entry_points={"broken": "broken_hooks3"}, files={"broken_hooks3.py": "1/0\n"}
    )
    with pytest.raises(UnknownComponentError, match="plugin\\(s\\) atgen-broken failed to load"):
        good.registry().get("strategy", "random")


def _module(name: str, **functions: Callable[[], Any]) -> types.ModuleType:
    module = types.ModuleType(name)
    for attr, fn in functions.items():
        fn.__module__ = name
        setattr(module, attr, fn)
    return module


class Alpha(Strategy):
    """First alphabetically."""

    name: ClassVar[str] = "alpha"

    def select(self, ctx: SelectionContext) -> Sequence[str]:
        return list(ctx.pool.ids[: ctx.k])


class Beta(Alpha):
    """Second alphabetically."""

    name: ClassVar[str] = "beta"


class BetaAgain(Alpha):
    """Clashes with Beta."""

    name: ClassVar[str] = "beta"


def test_registry_is_sorted_whatever_the_registration_order() -> None:
    p1 = _module("p1_hooks", atgen_register_strategies=hookimpl(lambda: [Beta, Alpha]))
    p2 = _module("p2_hooks", atgen_register_strategies=hookimpl(lambda: BetaAgain))
    a = load_registry(load_entrypoints=False, plugins=[("p1", p1), ("p2", p2)])
    b = load_registry(load_entrypoints=False, plugins=[("p2", p2), ("p1", p1)])
    assert [(i.name, i.plugin) for i in a.registrations] == [("alpha", "p1"), ("beta", "p1"), ("beta", "p2")]
    assert a.registrations == b.registrations
    assert a.conflicts == b.conflicts
    assert [i.name for i in a.all()] == ["alpha", "beta"]


def test_register_plugin_returns_the_failure() -> None:
    pm = create_plugin_manager(False)
    bad = _module("bad_hooks", atgen_register_strategy=hookimpl(lambda: []))
    failure = register_plugin(pm, bad, "bad")
    assert failure is not None and "did you mean 'atgen_register_strategies'" in failure.error
    assert register_plugin(pm, _module("ok_hooks", atgen_register_strategies=hookimpl(lambda: Alpha)), "ok") is None
    registry = build_registry(pm)
    assert registry.names("strategy") == ["alpha"]
    assert [f.plugin for f in registry.failures] == ["bad"]


# --------------------------------------------------------------------------------------------------
# One test per hook (tests/test_hookspecs_documented.py checks that each hookspec has one)
# --------------------------------------------------------------------------------------------------


class UpperAnnotator(Annotator):
    """Labels an item with its input in upper case."""

    name: ClassVar[str] = "upper"

    def annotate(self, items: Sequence[AnnotationItem], ctx: AnnotationContext) -> Iterable[AnnotationResult]:
        for item in items:
            yield AnnotationResult(item.id, "ok", item.example.input.upper())


class NoopTrainer(Trainer):
    """Refuses to train (enough to be registered)."""

    name: ClassVar[str] = "noop"

    def load(self, ctx: ModelContext, adapter: Path | None = None) -> Any:
        raise NotImplementedError("noop trainer has no model")

    def train(self, ctx: TrainContext) -> TrainResult:
        raise NotImplementedError("noop trainer does not train")


class LengthMetric(Metric):
    """Mean prediction length in words."""

    name: ClassVar[str] = "length"

    def keys(self) -> Mapping[str, MetricKey]:
        return {"length": MetricKey(0.0, float("inf"))}

    def compute(self, ctx: MetricContext) -> MetricResult:
        lengths = [float(len(p.split())) for p in ctx.predictions]
        return MetricResult({"length": sum(lengths) / max(1, len(lengths))}, {"length": lengths})


class ListSource(DataSource):
    """Two fixed rows."""

    name: ClassVar[str] = "two-rows"

    def splits(self, ctx: DataContext) -> Sequence[str]:
        return ["train"]

    def load(self, split: str, ctx: DataContext) -> Iterable[Mapping[str, Any]]:
        return [{"id": "a", "input": "x"}, {"id": "b", "input": "y"}]


class LengthEmbedder(Embedder):
    """Embeds a text as its length."""

    name: ClassVar[str] = "length-embedder"

    def embed(self, texts: Sequence[str], ctx: EmbedContext) -> np.ndarray:
        return np.asarray([[float(len(t))] for t in texts], dtype=np.float32)


class EchoBackend(ScoringBackend):
    """Scores by echoing each prompt (in-process)."""

    name: ClassVar[str] = "echo"

    def generate(self, request: ScoringRequest) -> list[Generation]:
        return [Generation(prompt, (-1.0,), (0.5,)) for prompt in request.prompts]


def _registered_via(hook: str, cls: type) -> Registry:
    module = _module(f"{hook}_plugin", **{hook: hookimpl(lambda: [cls])})
    registry = load_registry(load_entrypoints=False, plugins=[("direct", module)])
    assert registry.ok, registry.failures
    [record] = registry.plugins
    assert record.hooks == (hook,)
    return registry


def test_hook_atgen_register_strategies() -> None:
    info = _registered_via("atgen_register_strategies", Alpha).get("strategy", "alpha")
    assert info.cls is Alpha and info.plugin == "direct" and info.distribution is None


def test_hook_atgen_register_annotators() -> None:
    info = _registered_via("atgen_register_annotators", UpperAnnotator).get("annotator", "upper")
    pool, _ = make_pool(0, inputs=["hello"])
    [result] = info.cls().annotate([AnnotationItem(pool.examples[0])], AnnotationContext())  # type: ignore[attr-defined]
    assert result.text == "HELLO"


def test_hook_atgen_register_trainers() -> None:
    info = _registered_via("atgen_register_trainers", NoopTrainer).get("trainer", "noop")
    assert info.cls is NoopTrainer and info.summary == "Refuses to train (enough to be registered)."


def test_hook_atgen_register_metrics() -> None:
    info = _registered_via("atgen_register_metrics", LengthMetric).get("metric", "length")
    metric = info.cls()
    ctx = MetricContext(ids=["a", "b"], predictions=["one two", "three"], references=[["x"], ["y"]], sources=["", ""])
    assert metric.compute(ctx).values["length"] == 1.5  # type: ignore[attr-defined]


def test_hook_atgen_register_data_sources() -> None:
    info = _registered_via("atgen_register_data_sources", ListSource).get("data_source", "two-rows")
    assert [row["id"] for row in info.cls().load("train", DataContext())] == ["a", "b"]  # type: ignore[attr-defined]


def test_hook_atgen_register_embedders() -> None:
    info = _registered_via("atgen_register_embedders", LengthEmbedder).get("embedder", "length-embedder")
    out = info.cls().embed(["ab", "abcd"], EmbedContext())  # type: ignore[attr-defined]
    assert out.tolist() == [[2.0], [4.0]]


def test_hook_atgen_register_scoring_backends() -> None:
    from atgen_core import ModelSpec

    info = _registered_via("atgen_register_scoring_backends", EchoBackend).get("scoring_backend", "echo")
    request = ScoringRequest(round=0, ids=["a"], prompts=["hi"], settings=GenerationSettings(), trainer_name="t",
                             trainer_config={}, model=ModelSpec())
    assert [g.text for g in info.cls().generate(request)] == ["hi"]  # type: ignore[attr-defined]


def test_every_kind_has_exactly_one_registration_hook() -> None:
    registration = sorted(set(hookspecs.__all__) - {"atgen_register_commands"})  # the one hook with an argument
    assert sorted(HOOKS_BY_KIND.values()) == registration
    for hook in registration:
        fn = getattr(hookspecs, hook)
        assert inspect.signature(fn).parameters == {}, f"{hook} must take no arguments"


def test_a_name_in_other_case_or_with_underscores_suggests_the_registered_one() -> None:
    from atgen_core.registry import close_matches

    names = ["huds", "facility-location", "random", "hadas"]
    assert close_matches("HUDS", names)[0] == "huds"
    assert close_matches("facility_location", names)[0] == "facility-location"
    assert close_matches("Facility Location", names)[0] == "facility-location"
    assert close_matches("xyz", names) == []
