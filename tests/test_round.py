"""The Round notion: which model each step of a round uses, and the fallbacks when training is missing."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from atgen_core.errors import StoreError
from atgen_core.loop.round import BASE_ROUND, ModelPlan, Round, RoundModels
from atgen_core.store import RunStore


def _trained(store: RunStore, run_dir: Path, round_: int, *, make: bool = True) -> Path:
    """Store round ``round_``'s training with its adapter folder (created unless ``make`` is False)."""
    folder = run_dir / "adapters" / f"round-{round_}"
    if make:
        folder.mkdir(parents=True)
    store.mark_step(round_, "train", 1.0, {"adapter": f"adapters/round-{round_}"})
    return folder


@pytest.fixture
def store(tmp_path: Path) -> Iterator[RunStore]:
    s = RunStore(tmp_path)
    yield s
    s.close()


def test_round_names_its_model_before_its_files_and_its_label(tmp_path: Path) -> None:
    assert Round(0).model_before == BASE_ROUND
    assert Round(3).model_before == 2
    assert Round(BASE_ROUND).is_base and not Round(0).is_base
    assert [Round(BASE_ROUND).label, Round(2).label] == ["base", "2"]
    assert [Round(BASE_ROUND).file_stem, Round(2).file_stem] == ["base", "round-2"]
    assert Round(2).adapter_dir(tmp_path) == tmp_path / "adapters" / "round-2"


def test_round_rng_is_a_pure_function_of_seed_round_and_purpose() -> None:
    first = Round(1).rng(7, 2).integers(0, 1_000_000, 5).tolist()
    assert Round(1).rng(7, 2).integers(0, 1_000_000, 5).tolist() == first
    assert Round(2).rng(7, 2).integers(0, 1_000_000, 5).tolist() != first
    assert Round(1).rng(7, 1).integers(0, 1_000_000, 5).tolist() != first


def test_nothing_trained_every_step_uses_the_base_model(store: RunStore, tmp_path: Path) -> None:
    models = RoundModels(store, tmp_path)
    assert models.plan(Round(0)) == ModelPlan(Round(0), scoring=BASE_ROUND, evaluation=BASE_ROUND)
    assert models.adapter(BASE_ROUND) is None
    assert models.adapter(3) is None


def test_round_scores_with_the_previous_adapter_and_evaluates_its_own(store: RunStore, tmp_path: Path) -> None:
    zero = _trained(store, tmp_path, 0)
    one = _trained(store, tmp_path, 1)
    models = RoundModels(store, tmp_path)
    assert models.plan(Round(1)) == ModelPlan(Round(1), scoring=0, evaluation=1)
    assert models.adapter(Round(1).model_before) == zero
    assert models.adapter(1) == one
    assert models.adapter(Round(0).model_before) is None  # round 0 scores with the base model


def test_untrained_round_falls_back_to_the_latest_trained_one(store: RunStore, tmp_path: Path) -> None:
    zero = _trained(store, tmp_path, 0)  # round 1 was never trained (e.g. all its labels failed)
    models = RoundModels(store, tmp_path)
    assert models.trained_round(1) == 0
    assert models.plan(Round(2)) == ModelPlan(Round(2), scoring=0, evaluation=0)
    assert models.adapter(1) == zero
    assert models.stored_adapter(1) is None  # no fallback when asking for round 1's own training


def test_a_missing_adapter_folder_is_an_error_naming_the_round_and_path(store: RunStore, tmp_path: Path) -> None:
    _trained(store, tmp_path, 0)
    gone = _trained(store, tmp_path, 1, make=False)
    models = RoundModels(store, tmp_path)
    with pytest.raises(StoreError, match=r"trained in round 1 is missing: .*round-1"):
        models.adapter(2)
    assert models.stored_adapter(1) == gone  # the stored path is still readable (to retrain it)
    assert models.adapter(0) == tmp_path / "adapters" / "round-0"
