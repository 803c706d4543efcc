"""``atgen_core.testing``: fixtures, the component contract check and the synthetic data helpers."""

from __future__ import annotations

import math
import types
from collections.abc import Callable, Sequence
from typing import ClassVar

import numpy as np
import pytest
from pydantic import ConfigDict, Field

from atgen_core import (
    GenerationSettings,
    Metric,
    MetricContext,
    MetricKey,
    MetricResult,
    ModelHandle,
    PluginConfig,
    SelectionContext,
    Strategy,
    hookimpl,
)
from atgen_core.plugins import AtgenPluginManager, build_registry
from atgen_core.registry import Registry
from atgen_core.testing import (
    FakeModel,
    FakeSite,
    check_component,
    check_light_import,
    fake_embeddings,
    fake_generations,
    fake_samples,
    make_examples,
    make_pool,
    registered,
    selection_context,
)

pytest_plugins = ["atgen_core.testing"]


class TopConfig(PluginConfig):
    top_k: int = Field(3, ge=1, description="How many to keep.")


class Top(Strategy):
    """Keep the first ids."""

    name: ClassVar[str] = "top"
    Config: ClassVar[type[PluginConfig]] = TopConfig

    def select(self, ctx: SelectionContext) -> Sequence[str]:
        return list(ctx.pool.ids[: ctx.k])


def _hooks(name: str, **hooks: Callable[[], object]) -> types.ModuleType:
    module = types.ModuleType(name)
    for attr, fn in hooks.items():
        fn.__module__ = name
        setattr(module, attr, fn)
    return module


# --------------------------------------------------------------------------------------------------
# Fixtures and registered()
# --------------------------------------------------------------------------------------------------


def test_atgen_pm_loads_no_entry_points(atgen_pm: AtgenPluginManager) -> None:
    assert atgen_pm.list_name_plugin() == []
    assert build_registry(atgen_pm).all() == []


def test_registered_unregisters_even_when_the_block_raises(atgen_pm: AtgenPluginManager) -> None:
    plugin = _hooks("top_hooks", atgen_register_strategies=hookimpl(lambda: Top))
    with pytest.raises(RuntimeError, match="inside"), registered(atgen_pm, plugin, name="top"):
        assert build_registry(atgen_pm).names("strategy") == ["top"]
        raise RuntimeError("inside")
    assert not atgen_pm.is_registered(plugin)
    assert build_registry(atgen_pm).all() == []


def test_registered_rejects_misspelt_hooks(atgen_pm: AtgenPluginManager) -> None:
    plugin = _hooks("typo_hooks", atgen_register_embedder=hookimpl(lambda: []))
    with pytest.raises(ValueError, match="did you mean 'atgen_register_embedders'"), registered(atgen_pm, plugin):
        pass
    assert atgen_pm.list_name_plugin() == []


def test_atgen_registry_fixture(atgen_registry: Callable[..., Registry]) -> None:
    plugin = _hooks("top_hooks2", atgen_register_strategies=hookimpl(lambda: [Top]))
    registry = atgen_registry(plugin)
    assert registry.get("strategy", "top").plugin == "top_hooks2"
    assert atgen_registry().all() == []  # unregistered again


def test_fake_site_modules_are_importable(atgen_fake_site: FakeSite) -> None:
    atgen_fake_site.add_distribution(
        "atgen-site-test", entry_points={"sitetest": "sitetest_hooks"},
        files={"sitetest_hooks.py": "VALUE = 42\n"},
    )
    import sitetest_hooks  # type: ignore[import-not-found]

    assert sitetest_hooks.VALUE == 42
    assert [p.distribution for p in atgen_fake_site.registry().plugins] == ["atgen-site-test"]


# --------------------------------------------------------------------------------------------------
# check_component
# --------------------------------------------------------------------------------------------------


def test_check_component_accepts_a_good_component() -> None:
    instance = check_component(Top)
    assert isinstance(instance, Top) and instance.config == TopConfig()


def test_check_component_reports_every_problem() -> None:
    class LooseConfig(PluginConfig):
        model_config = ConfigDict(extra="allow", frozen=True)
        size: int = 3
        mode: str = Field("a", description="")

    class Loose(Strategy):
        name: ClassVar[str] = "loose"
        Config: ClassVar[type[PluginConfig]] = LooseConfig

        def select(self, ctx: SelectionContext) -> Sequence[str]:
            return []

    with pytest.raises(AssertionError) as info:
        check_component(Loose, check_imports=False)
    message = str(info.value)
    assert "breaks the component contract" in message
    assert "no docstring" in message
    assert "allows unknown keys (extra='allow')" in message
    assert "config field 'size' has no description" in message
    assert "config field 'mode' has no description" in message


def test_check_component_abstract_and_bad_config() -> None:
    class Half(Metric):
        """Only keys."""

        name: ClassVar[str] = "half"

        def keys(self) -> dict[str, MetricKey]:
            return {"x": MetricKey()}

    with pytest.raises(AssertionError, match="abstract methods not implemented: compute"):
        check_component(Half, check_imports=False)

    class NotPluginConfig(Strategy):
        """Wrong config base."""

        name: ClassVar[str] = "wrong-config"
        Config = dict  # type: ignore[assignment]

        def select(self, ctx: SelectionContext) -> Sequence[str]:
            return []

    with pytest.raises(AssertionError, match=r"must be a subclass of atgen_core\.PluginConfig"):
        check_component(NotPluginConfig, check_imports=False)


def test_check_component_required_fields_and_given_config() -> None:
    class NeedsConfig(PluginConfig):
        path: str = Field(description="Required path.")

    class Needs(Strategy):
        """Needs a path."""

        name: ClassVar[str] = "needs"
        Config: ClassVar[type[PluginConfig]] = NeedsConfig

        def select(self, ctx: SelectionContext) -> Sequence[str]:
            return []

    # A required field is fine: the default error names it; no instance can be built without config.
    assert check_component(Needs, check_imports=False) is None
    instance = check_component(Needs, config={"path": "x"}, check_imports=False)
    assert isinstance(instance, Needs)
    with pytest.raises(AssertionError, match="the given config does not validate"):
        check_component(Needs, config={"path": 3, "extra": 1}, check_imports=False)


def test_check_component_instantiation_and_metric_keys() -> None:
    class Exploding(Strategy):
        """Fails in __init__."""

        name: ClassVar[str] = "exploding"

        def __init__(self, config: PluginConfig | None = None) -> None:
            raise RuntimeError("no GPU")

        def select(self, ctx: SelectionContext) -> Sequence[str]:
            return []

    with pytest.raises(AssertionError, match="Exploding\\(config\\) raised RuntimeError: no GPU"):
        check_component(Exploding, check_imports=False)

    class NoKeys(Metric):
        """Reports nothing."""

        name: ClassVar[str] = "no-keys"

        def keys(self) -> dict[str, MetricKey]:
            return {}

        def compute(self, ctx: MetricContext) -> MetricResult:
            return MetricResult({})

    with pytest.raises(AssertionError, match="expected a non-empty mapping of MetricKey"):
        check_component(NoKeys, check_imports=False)


def test_check_component_detects_heavy_imports(atgen_fake_site: FakeSite) -> None:
    atgen_fake_site.add_distribution(
        "atgen-heavy",
        files={
            "tt_fake_heavy_lib.py": "LOADED = True\n",
            "tt_heavy_component.py": '''
                import tt_fake_heavy_lib
                from atgen_core import Strategy

                class Heavy(Strategy):
                    """Imports a heavy library at module level."""
                    name = "heavy"
                    def select(self, ctx):
                        return []
            ''',
            "tt_light_component.py": '''
                from atgen_core import Strategy

                class Light(Strategy):
                    """Imports the heavy library lazily."""
                    name = "light"
                    def select(self, ctx):
                        import tt_fake_heavy_lib
                        return []
            ''',
        },
    )
    import tt_heavy_component  # type: ignore[import-not-found]
    import tt_light_component  # type: ignore[import-not-found]

    heavy = ("tt_fake_heavy_lib",)
    assert check_light_import("tt_heavy_component", heavy) == ["tt_fake_heavy_lib"]
    assert check_light_import("tt_light_component", heavy) == []
    # selecting runs the lazy import: caught when the check runs code after the import
    assert check_light_import("tt_light_component", heavy, run="m.Light().select(None)") == ["tt_fake_heavy_lib"]
    with pytest.raises(AssertionError, match="importing tt_heavy_component imports tt_fake_heavy_lib"):
        check_component(tt_heavy_component.Heavy, heavy=heavy)
    assert isinstance(check_component(tt_light_component.Light, heavy=heavy), tt_light_component.Light)
    with pytest.raises(AssertionError, match="failed"):
        check_light_import("tt_module_that_does_not_exist")


def test_core_modules_import_no_torch() -> None:
    assert check_light_import("atgen_core.plugins") == []
    assert check_light_import("atgen_core.cli.plugins_cmd") == []


# --------------------------------------------------------------------------------------------------
# Synthetic data and signals
# --------------------------------------------------------------------------------------------------


def test_make_pool_is_deterministic_and_ids_are_unique() -> None:
    pool, labelled = make_pool(20, labelled=5, seed=3)
    again, _ = make_pool(20, labelled=5, seed=3)
    other, _ = make_pool(20, labelled=5, seed=4)
    assert pool == again and pool.inputs != other.inputs
    assert pool.ids[:2] == ("ex0000", "ex0001") and labelled.ids[0] == "lab0000"
    assert len(set(pool.ids) | set(labelled.ids)) == 25
    assert labelled.labels == tuple(e.target for e in labelled.examples)
    assert all(3 <= len(e.input.split()) <= 12 for e in pool)
    first = pool.examples[0]
    assert first.prompt == f"Input: {first.input}\nOutput:"
    assert first.references == (first.target,)


def test_make_pool_with_given_inputs() -> None:
    pool, labelled = make_pool(99, inputs=["a", "b c"])
    assert pool.inputs == ("a", "b c") and len(labelled) == 0
    assert [e.target for e in make_examples(1, inputs=["x y z"])] == ["z y x"]


def test_selection_context_rng_depends_on_seed_and_iteration() -> None:
    pool, _ = make_pool(3)
    a = selection_context(pool, 2, seed=1, iteration=2).rng.random()
    b = selection_context(pool, 2, seed=1, iteration=2).rng.random()
    c = selection_context(pool, 2, seed=1, iteration=3).rng.random()
    assert a == b != c
    assert list(Top().select(selection_context(pool, 2))) == ["ex0000", "ex0001"]


def test_fake_generations_carry_the_given_scores() -> None:
    ids = ["a", "b", "c"]
    gens = fake_generations(ids, nnll=[0.5, 2.0, 1.25], entropy={"a": 3.0, "b": 0.1, "c": 1.0}, texts=["x", "y", "z"])
    assert [gens[i].nnll for i in ids] == pytest.approx([0.5, 2.0, 1.25])
    assert [gens[i].mean_entropy for i in ids] == pytest.approx([3.0, 0.1, 1.0])
    assert gens["b"].text == "y" and gens["a"].num_tokens == 4
    assert max(ids, key=lambda i: gens[i].nnll) == "b"
    with pytest.raises(ValueError, match="2 values for 3 ids"):
        fake_generations(ids, nnll=[1.0, 2.0])
    with pytest.raises(KeyError, match="'c'"):
        fake_generations(ids, entropy={"a": 1.0, "b": 1.0})


def test_fake_samples() -> None:
    samples = fake_samples({"a": ["one two", "one three"]})
    assert [g.text for g in samples["a"]] == ["one two", "one three"]
    assert samples["a"][0].num_tokens == 2


def test_fake_embeddings() -> None:
    emb = fake_embeddings(["a", "b", "c"], dim=5, seed=1)
    assert emb.matrix.shape == (3, 5) and emb.matrix.dtype == np.float32
    assert np.allclose(np.linalg.norm(emb.matrix, axis=1), 1.0, atol=1e-6)
    assert np.array_equal(emb.matrix, fake_embeddings(["a", "b", "c"], dim=5, seed=1).matrix)
    given = fake_embeddings(["x", "y"], vectors={"x": [1, 0], "y": [0, 2]})
    assert given.take(["y", "x"]).tolist() == [[0.0, 2.0], [1.0, 0.0]]


def test_fake_model_is_a_model_handle() -> None:
    model = FakeModel(outputs={"short": "answer"}, dim=8)
    assert isinstance(model, ModelHandle)
    settings = GenerationSettings()
    short, long = model.generate(["short", "a much longer prompt with many words"], settings)
    assert short.text == "answer"
    assert long.nnll > short.nnll  # longer prompts look less certain
    samples = model.sample(["p q"], 3, settings)
    assert len(samples[0]) == 3 and len({g.text for g in samples[0]}) == 3
    vectors = model.embed(["red cat", "red cat", "blue dog"])
    assert np.allclose(vectors[0], vectors[1]) and not np.allclose(vectors[0], vectors[2])
    assert math.isclose(float(np.linalg.norm(vectors[2])), 1.0, rel_tol=1e-6)
    assert model.calls == [("generate", 2), ("sample", 1), ("embed", 3)]
