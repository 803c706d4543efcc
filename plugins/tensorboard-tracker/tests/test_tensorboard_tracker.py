"""The ``tensorboard`` tracker, read back with TensorBoard's own EventAccumulator: one scalar per value and
round at step = labels, never twice after a resume; params and artifacts in the log directory."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

import pytest

pytest.importorskip("tensorboard")
from atgen_tensorboard.tracker import TensorBoardTracker

from atgen_core.loop import Experiment
from atgen_core.plugins import load_registry

CORE_TESTS = Path(__file__).resolve().parents[3] / "tests"


@pytest.fixture(scope="module")
def registry():  # type: ignore[no-untyped-def]
    sys.path.insert(0, str(CORE_TESTS))
    import atgen_test_components as fakes
    from atgen_tensorboard import hooks

    return load_registry(load_entrypoints=False, plugins=[("test-components", fakes), ("tensorboard", hooks)])


def spec(tmp_path: Path, iterations: int = 2, **config: Any) -> dict[str, Any]:
    return {
        "name": "tb-fake", "seed": 2,
        "data": {"source": {"name": "memory", "config": {"generate": 40, "topics": 8}}, "test_size": 8},
        "strategy": "test-random", "annotator": {"name": "counting-oracle", "config": {"price": 0.5}},
        "trainer": "fake-trainer", "metrics": ["accuracy"],
        "loop": {"initial_size": 4, "query_size": 4, "iterations": iterations},
        "tracking": [{"name": "tensorboard", "config": config}],
        "output_dir": str(tmp_path / "run"),
    }


def scalars(log_dir: Path) -> dict[str, list[tuple[int, float]]]:
    from tensorboard.backend.event_processing import event_accumulator
    from tensorboard.util import tensor_util

    accumulator = event_accumulator.EventAccumulator(str(log_dir), size_guidance={event_accumulator.TENSORS: 0})
    accumulator.Reload()
    return {
        tag: [(e.step, float(tensor_util.make_ndarray(e.tensor_proto))) for e in accumulator.Tensors(tag)]
        for tag in accumulator.Tags()["tensors"]
    }


def test_every_round_is_a_scalar_at_step_labels(tmp_path: Path, registry) -> None:  # type: ignore[no-untyped-def]
    with Experiment.from_spec(spec(tmp_path), registry=registry, progress=False) as experiment:
        experiment.run()
        stored = experiment.store.metrics()
        assert experiment.store.get_meta("tracking.tensorboard.id") == str((tmp_path / "run" / "tensorboard").resolve())
    log_dir = tmp_path / "run" / "tensorboard"
    values = scalars(log_dir)
    assert [step for step, _ in values["accuracy"]] == [n for _, n, _ in stored] == [0, 4, 8, 12]
    assert [v for _, v in values["accuracy"]] == pytest.approx([vals["accuracy"] for _, _, vals in stored])
    assert values["money_spent"] == [(0, 0.0), (4, 2.0), (8, 4.0), (12, 6.0)]
    assert json.loads((log_dir / "params.json").read_text(encoding="utf-8"))["strategy.name"] == "test-random"
    assert (log_dir / "metrics.csv").read_text(encoding="utf-8") == (tmp_path / "run" / "metrics.csv").read_text(
        encoding="utf-8")


def test_resumed_run_appends_without_repeating_a_step(tmp_path: Path, registry) -> None:  # type: ignore[no-untyped-def]
    with Experiment.from_spec(spec(tmp_path, iterations=1, prefix="atgen/"), registry=registry,
                              progress=False) as experiment:
        experiment.run()
    with Experiment.from_spec(spec(tmp_path, iterations=2, prefix="atgen/"), registry=registry,
                              progress=False) as experiment:
        experiment.run()
    values = scalars(tmp_path / "run" / "tensorboard")
    assert [step for step, _ in values["atgen/labels"]] == [0, 4, 8, 12]
    assert len(list((tmp_path / "run" / "tensorboard").glob("events.out.tfevents.*"))) == 2


def test_contract_and_light_import() -> None:
    from atgen_core.testing import HEAVY_MODULES, check_component, check_light_import

    assert isinstance(check_component(TensorBoardTracker), TensorBoardTracker)
    assert check_light_import("atgen_tensorboard.hooks", (*HEAVY_MODULES, "tensorboard")) == []
