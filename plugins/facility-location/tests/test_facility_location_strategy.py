"""The atgen strategy: ids in and out, reproducibility, errors, config, registration."""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import pytest
from atgen_facility_location import FacilityLocationConfig, FacilityLocationStrategy, hooks
from facility_location_testkit import clusters
from pydantic import ValidationError

from atgen_core import Embeddings, LabelledView, PoolView, Requirements, Signals
from atgen_core.plugins import load_registry
from atgen_core.registry import Registry
from atgen_core.testing import check_component, check_light_import, make_examples, selection_context

pytest_plugins = ["atgen_core.testing"]


def _setup(sizes: list[int], seed: int = 0) -> tuple[PoolView, np.ndarray, Embeddings]:
    x, label = clusters(sizes, seed=seed)
    pool = PoolView(make_examples(len(x), seed=seed))
    return pool, label, Embeddings(list(pool.ids), x)


def test_contract_and_requirements() -> None:
    strategy = check_component(FacilityLocationStrategy)
    assert isinstance(strategy, FacilityLocationStrategy)
    assert strategy.requirements() == Requirements(embeddings=True)
    assert FacilityLocationStrategy.cold_start is True


def test_selects_one_id_per_cluster_from_a_cold_start() -> None:
    pool, label, emb = _setup([10, 4, 7, 12, 6])
    strategy = FacilityLocationStrategy(FacilityLocationConfig())
    ids = strategy.select(selection_context(pool, 5, signals=Signals(embeddings=emb)))
    assert len(ids) == len(set(ids)) == 5
    position = {id_: i for i, id_ in enumerate(pool.ids)}
    assert sorted(label[[position[i] for i in ids]].tolist()) == [0, 1, 2, 3, 4]
    assert strategy.last_result is not None and strategy.last_result.n_greedy == 5


def test_rounds_with_a_growing_labelled_set() -> None:
    x, label = clusters([8, 8, 8, 8, 8, 8], seed=1)
    examples = make_examples(len(x), seed=1)
    emb = Embeddings([e.id for e in examples], x)
    by_id = {e.id: i for i, e in enumerate(examples)}
    labelled: list = []
    strategy = FacilityLocationStrategy()
    covered: list[int] = []
    for round_ in range(3):
        taken = {e.id for e in labelled}
        pool = PoolView(tuple(e for e in examples if e.id not in taken))
        ctx = selection_context(
            pool, 2, labelled=LabelledView(tuple(labelled), ("y",) * len(labelled)),
            signals=Signals(embeddings=emb), iteration=round_,
        )
        ids = strategy.select(ctx)
        assert not set(ids) & taken and set(ids) <= set(pool.ids)
        covered.extend(int(label[by_id[i]]) for i in ids)
        labelled.extend(e for e in examples if e.id in ids)
    assert sorted(covered) == [0, 1, 2, 3, 4, 5]


def test_same_selection_for_any_pool_order_and_seed() -> None:
    pool, _, emb = _setup([5, 5, 5, 5], seed=2)
    strategy = FacilityLocationStrategy()
    first = strategy.select(selection_context(pool, 6, signals=Signals(embeddings=emb), seed=1))
    shuffled = PoolView(tuple(pool.examples[i] for i in np.random.default_rng(0).permutation(len(pool))))
    again = strategy.select(selection_context(shuffled, 6, signals=Signals(embeddings=emb), seed=9))
    assert first == again


def test_random_completion_is_reproducible_by_seed() -> None:
    pool, _, emb = _setup([3, 3], seed=3)
    doubled = Embeddings(list(pool.ids), np.repeat(emb.matrix[:1], len(pool), axis=0))  # all identical
    strategy = FacilityLocationStrategy(FacilityLocationConfig(fill_order="random"))
    runs = [
        strategy.select(selection_context(pool, 4, signals=Signals(embeddings=doubled), seed=s)) for s in (5, 5, 6)
    ]
    assert runs[0] == runs[1]
    assert len(set(runs[0])) == 4
    assert runs[0][0] == min(pool.ids)  # the only positive gain goes to the group's smallest id


def test_k_larger_than_pool_and_zero() -> None:
    pool, _, emb = _setup([2, 2], seed=4)
    strategy = FacilityLocationStrategy()
    assert sorted(strategy.select(selection_context(pool, 50, signals=Signals(embeddings=emb)))) == sorted(pool.ids)
    assert strategy.select(selection_context(pool, 0, signals=Signals(embeddings=emb))) == []


def test_missing_embeddings_are_errors() -> None:
    pool, _, emb = _setup([3, 3], seed=5)
    strategy = FacilityLocationStrategy()
    with pytest.raises(RuntimeError, match="needs input embeddings"):
        strategy.select(selection_context(pool, 2))
    partial = Embeddings(list(pool.ids[1:]), emb.matrix[1:])
    with pytest.raises(KeyError, match=pool.ids[0]):
        strategy.select(selection_context(pool, 2, signals=Signals(embeddings=partial)))
    labelled = LabelledView(make_examples(1, prefix="lab"), ("y",))
    with pytest.raises(KeyError, match="lab0000"):
        strategy.select(selection_context(pool, 2, labelled=labelled, signals=Signals(embeddings=emb)))


def test_nan_embedding_names_the_id() -> None:
    pool, _, emb = _setup([3, 3], seed=6)
    matrix = emb.matrix.copy()
    matrix[2, 0] = np.nan
    with pytest.raises(ValueError, match=f"pool item '{pool.ids[2]}' contains NaN"):
        FacilityLocationStrategy().select(
            selection_context(pool, 2, signals=Signals(embeddings=Embeddings(list(pool.ids), matrix)))
        )


def test_config_is_validated() -> None:
    with pytest.raises(ValidationError, match="lambda_"):
        FacilityLocationConfig.model_validate({"lambda_": 0.5})
    with pytest.raises(ValidationError, match="n_neighbors"):
        FacilityLocationConfig(n_neighbors=0)
    with pytest.raises(ValidationError, match="epsilon"):
        FacilityLocationConfig(epsilon=1.5)
    with pytest.raises(ValidationError, match="similarity"):
        FacilityLocationConfig.model_validate({"similarity": "dot"})
    assert all(f.description for f in FacilityLocationConfig.model_fields.values())


def test_registered_through_the_installed_entry_point() -> None:
    registry = load_registry()
    info = registry.get("strategy", "facility-location")
    assert info.cls is FacilityLocationStrategy
    assert info.distribution == "atgen-facility-location"
    assert not registry.failures_of("facility-location")


def test_hooks_module(atgen_registry: Callable[..., Registry]) -> None:
    registry = atgen_registry(hooks)
    assert [(c.kind, c.name) for c in registry.all()] == [("strategy", "facility-location")]
    assert check_light_import("atgen_facility_location.hooks") == []
