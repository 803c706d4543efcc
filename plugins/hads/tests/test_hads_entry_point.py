"""The installed distribution registers the ``hadas`` strategy through the ``atgen`` entry-point group."""

from __future__ import annotations

from importlib.metadata import entry_points

from atgen_hads import HADASStrategy

from atgen_core.testing import check_light_import


def test_entry_point_is_listed_and_registers_the_strategy() -> None:
    eps = {ep.name: ep for ep in entry_points(group="atgen")}
    assert "hads" in eps, "install the plugin first: pip install -e plugins/hads"
    assert eps["hads"].value == "atgen_hads.hooks"
    hooks = eps["hads"].load()
    assert hooks.atgen_register_strategies() is HADASStrategy
    assert HADASStrategy.name == "hadas" and HADASStrategy.kind == "strategy"
    assert HADASStrategy.summary().startswith("Hallucination-aware, diversity-aware sampling")


def test_importing_the_plugin_does_not_import_heavy_libraries() -> None:
    run = (
        "import atgen_hads; m.atgen_register_strategies(); atgen_hads.HADASStrategy(atgen_hads.HADASConfig()).detectors"
    )
    assert check_light_import("atgen_hads.hooks", run=run) == []


def test_component_contract_with_core_test_helpers() -> None:
    from atgen_core import Signals
    from atgen_core.testing import check_component, fake_generations, make_pool, selection_context

    instance = check_component(HADASStrategy)
    assert isinstance(instance, HADASStrategy)
    model_free = check_component(HADASStrategy, config={"detectors": ["unsupported-content"]})
    assert isinstance(model_free, HADASStrategy)
    pool, labelled = make_pool(12, labelled=4, seed=2)
    ids = list(pool.ids)
    # half the outputs repeat their input, half invent words absent from every input
    texts = {i: (e.input if n % 2 == 0 else "zebra quantum saxophone") for n, (i, e) in enumerate(zip(ids, pool))}
    signals = Signals(generations=fake_generations(ids, texts=texts))
    ctx = selection_context(pool, 6, labelled=labelled, signals=signals)
    assert sorted(model_free.select(ctx)) == sorted(ids[1::2])
