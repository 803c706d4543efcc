"""The installed distribution registers the ``huds`` strategy through the ``atgen`` entry-point group."""

from __future__ import annotations

from importlib.metadata import entry_points

from atgen_huds import HUDSStrategy

from atgen_core.testing import check_light_import


def test_entry_point_is_listed_and_registers_the_strategy() -> None:
    eps = {ep.name: ep for ep in entry_points(group="atgen")}
    assert "huds" in eps, "install the plugin first: pip install -e plugins/huds"
    assert eps["huds"].value == "atgen_huds.hooks"
    hooks = eps["huds"].load()
    assert hooks.atgen_register_strategies() is HUDSStrategy
    assert HUDSStrategy.name == "huds" and HUDSStrategy.kind == "strategy"
    assert HUDSStrategy.summary().startswith("Hybrid Uncertainty and Diversity Sampling")


def test_importing_hooks_does_not_import_heavy_libraries() -> None:
    assert check_light_import("atgen_huds.hooks", run="m.atgen_register_strategies()") == []


def test_component_contract_and_selection_with_core_test_helpers() -> None:
    from atgen_core import Signals
    from atgen_core.testing import (
        check_component,
        fake_embeddings,
        fake_generations,
        make_pool,
        selection_context,
    )

    instance = check_component(HUDSStrategy)
    assert isinstance(instance, HUDSStrategy)
    pool, labelled = make_pool(30, labelled=5, seed=3)
    ids = list(pool.ids)
    nnll = {i: 0.1 * n for n, i in enumerate(ids)}
    signals = Signals(
        generations=fake_generations(ids, nnll=nnll),
        embeddings=fake_embeddings([*ids, *labelled.ids], seed=1),
    )
    ctx = selection_context(pool, 6, labelled=labelled, signals=signals, seed=7, iteration=2)
    picked = instance.select(ctx)
    assert len(picked) == 6 and len(set(picked)) == 6 and set(picked) <= set(ids)
    only_uncertainty = HUDSStrategy(HUDSStrategy.Config.model_validate({"lambda_": 0.0}))
    assert only_uncertainty.select(ctx) == ids[::-1][:6]
