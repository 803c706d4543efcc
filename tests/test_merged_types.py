"""One type per notion: GenerationSettings (spec section and handle argument), Budget (limit and what is
left), Strategy.cold_start (whether a strategy needs labelled data)."""

from __future__ import annotations

from dataclasses import asdict, replace
from pathlib import Path
from typing import Any

import atgen_test_components as fakes
import pytest
from pydantic import ValidationError

from atgen_core import Budget, DataContext, DataSource, GenerationSettings, Strategy
from atgen_core.data import load_data
from atgen_core.errors import SpecError
from atgen_core.loop import ComponentError, Experiment
from atgen_core.plugins import load_registry
from atgen_core.spec import resolve_spec
from atgen_core.types import Requirements


@pytest.fixture(scope="module")
def registry():  # type: ignore[no-untyped-def]
    return load_registry(load_entrypoints=False, plugins=[("test-components", fakes)])


def spec(**changes: Any) -> dict[str, Any]:
    raw: dict[str, Any] = {
        "name": "merged-types",
        "data": {"source": {"name": "memory", "config": {"generate": 20}}, "test_size": 5},
        "strategy": "test-random",
        "annotator": "counting-oracle",
        "trainer": "fake-trainer",
        "metrics": ["accuracy"],
        "loop": {"initial_size": 4, "query_size": 4},
    }
    raw.update(changes)
    return raw


def issues(raw: dict[str, Any], registry) -> dict[str, str]:  # type: ignore[no-untyped-def]
    with pytest.raises(SpecError) as info:
        resolve_spec(raw, registry)
    return {i.path: i.render() for i in info.value.issues}


def test_the_spec_generation_section_is_the_settings_handles_get(registry) -> None:  # type: ignore[no-untyped-def]
    resolved = resolve_spec(spec(model={"generation": {"max_new_tokens": 7, "do_sample": True}}), registry)
    settings = resolved.spec.model.generation
    assert isinstance(settings, GenerationSettings)
    seeded = settings.with_seed(11)
    assert (seeded.max_new_tokens, seeded.do_sample, seeded.seed) == (7, True, 11)
    assert asdict(replace(seeded, top_p=0.5))["top_p"] == 0.5  # still a dataclass for plugins
    dumped = resolved.spec.model_dump(mode="json")["model"]["generation"]
    assert "seed" not in dumped and dumped["max_new_tokens"] == 7


def test_settings_are_checked_in_code_as_in_a_spec(registry) -> None:  # type: ignore[no-untyped-def]
    with pytest.raises(ValidationError, match="max_new_tokens"):
        GenerationSettings(max_new_tokens=0)
    found = issues(spec(model={"generation": {"max_new_tokens": 0, "top_q": 1.0}}), registry)
    assert "greater than or equal to 1" in found["model.generation.max_new_tokens"]
    typo = found["model.generation.top_q"]
    assert "unknown key" in typo and "did you mean 'top_p'?" in typo


def test_the_seed_of_decoding_is_not_a_spec_key(registry) -> None:  # type: ignore[no-untyped-def]
    found = issues(spec(model={"generation": {"seed": 3}}), registry)
    assert "top-level `seed`" in found["model.generation"]


def test_budget_is_the_spec_limit_and_what_is_left(registry) -> None:  # type: ignore[no-untyped-def]
    resolved = resolve_spec(spec(loop={"initial_size": 4, "budget": {"labels": 8, "money": 2.5}}), registry)
    assert resolved.spec.loop.budget == Budget(labels=8, money=2.5, currency="USD")
    assert Budget(labels=0, money=0.0).labels == 0  # nothing left is a valid remaining budget
    found = issues(spec(loop={"initial_size": 4, "budget": {"labels": 0, "money": 0}}), registry)
    assert "smaller than loop.initial_size" in found["loop.budget.labels"]
    assert "buys nothing" in found["loop.budget.money"]
    with pytest.raises(ValidationError):
        Budget(money=-1.0)


def test_cold_start_is_the_one_declaration_of_needing_labels() -> None:
    assert "labelled" not in Requirements.__dataclass_fields__
    assert Strategy.cold_start is False


def test_the_loop_refuses_a_warm_only_strategy_when_every_first_label_failed(
    tmp_path: Path,
    registry,  # type: ignore[no-untyped-def]
) -> None:
    raw = spec(strategy="warm-only", output_dir=str(tmp_path / "run"))
    resolved = resolve_spec(raw, registry)
    source = resolved.data_source.build()
    assert isinstance(source, DataSource)
    data = load_data(source, resolved.spec.data, resolved.spec.seed, DataContext(seed=resolved.spec.seed))
    raw["annotator"] = {"name": "counting-oracle", "config": {"fail_ids": [e.id for e in data.pool]}}
    experiment = Experiment.from_spec(raw, registry=registry, progress=False)
    with pytest.raises(ComponentError, match="'warm-only' needs labelled data but none exists yet"):
        experiment.run()
