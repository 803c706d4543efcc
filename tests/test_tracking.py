"""The ``tracker`` kind: the loop sends params, per-round metrics (step = labels) and artifacts; failures only warn."""

from __future__ import annotations

import json
import types
from collections.abc import Mapping
from pathlib import Path
from typing import Any, ClassVar

import atgen_test_components as fakes
import pytest
from pydantic import Field

from atgen_core import PluginConfig, TrackedRun, Tracker, hookimpl
from atgen_core.errors import SpecError
from atgen_core.loop import Experiment
from atgen_core.plugins import load_registry
from atgen_core.store import RunStore
from atgen_core.tracking import flatten_params

CALLS: dict[str, list[tuple[Any, ...]]] = {}


class RecordingConfig(PluginConfig):
    """Where to record, and what to break."""

    book: str = Field("default", description="Key in CALLS.")
    fail_in: list[str] = Field(default_factory=list, description="Methods that raise.")
    fail_times: int = Field(1000, description="How many calls of those methods raise before they work.")


class RecordingTracker(Tracker):
    """Records every call in CALLS (tests)."""

    name: ClassVar[str] = "recording"
    Config = RecordingConfig

    def _record(self, *call: Any) -> None:
        assert isinstance(self.config, RecordingConfig)
        CALLS.setdefault(self.config.book, []).append(call)
        failures = sum(1 for c in CALLS[self.config.book] if c[0] == call[0])
        if call[0] in self.config.fail_in and failures <= self.config.fail_times:
            raise ConnectionError(f"tracker server down ({call[0]})")

    def start(self, run: TrackedRun, resumed_id: str | None) -> str | None:
        self._record("start", run.name, resumed_id)
        return resumed_id or f"id-{run.name}"

    def log_params(self, params: Mapping[str, str]) -> None:
        self._record("params", dict(params))

    def log_metrics(self, metrics: Mapping[str, float], step: int) -> None:
        self._record("metrics", dict(metrics), step)

    def log_artifact(self, path: Path) -> None:
        self._record("artifact", path.name)

    def log_model(self, path: Path, round_: int) -> None:
        self._record("model", path, round_)

    def finish(self, status: str) -> None:
        self._record("finish", status)


class BufferedRecordingTracker(RecordingTracker):
    """A tracker whose library buffers: what it got is durable only once ``finish`` returned."""

    name: ClassVar[str] = "buffered-recording"
    buffered: ClassVar[bool] = True


plugin = types.SimpleNamespace(atgen_register_trackers=hookimpl(lambda: [RecordingTracker, BufferedRecordingTracker]))


@pytest.fixture(scope="module")
def registry():  # type: ignore[no-untyped-def]
    return load_registry(load_entrypoints=False, plugins=[("test-components", fakes), ("recording", plugin)])


def make_spec(tmp_path: Path, tracking: list[Any], **loop: Any) -> dict[str, Any]:
    return {
        "name": "track-test", "seed": 5,
        "data": {"source": {"name": "memory", "config": {"generate": 40, "topics": 8}}, "test_size": 8},
        "strategy": {"name": "test-random"},
        "annotator": {"name": "counting-oracle", "config": {"price": 0.5}},
        "trainer": {"name": "fake-trainer"}, "metrics": ["accuracy"],
        "loop": {"initial_size": 4, "query_size": 3, "iterations": 2, **loop},
        "tracking": tracking,
        "output_dir": str(tmp_path / "run"),
    }


def test_hook_atgen_register_trackers(registry) -> None:  # type: ignore[no-untyped-def]
    info = registry.get("tracker", "recording")
    assert info.cls is RecordingTracker and info.kind == "tracker"


def test_loop_sends_params_each_round_at_step_labels_and_artifacts(tmp_path: Path, registry) -> None:  # type: ignore[no-untyped-def]
    CALLS.clear()
    spec = make_spec(tmp_path, [{"name": "recording", "config": {"book": "a"}}])
    with Experiment.from_spec(spec, registry=registry, progress=False) as experiment:
        experiment.run()
        stored = experiment.store.metrics()
    calls = CALLS["a"]
    assert calls[0] == ("start", "track-test", None)
    assert calls[1][0] == "params"
    assert calls[1][1]["loop.query_size"] == "3" and calls[1][1]["strategy.name"] == "test-random"
    metrics = [c for c in calls if c[0] == "metrics"]
    assert [c[2] for c in metrics] == [n for _, n, _ in stored] == [0, 4, 7, 10]
    for (_, values, _), (round_, n, vals) in zip(metrics, stored):
        assert values["accuracy"] == vals["accuracy"]
        assert values["labels"] == n and values["round"] == round_
    assert [c[1]["money_spent"] for c in metrics] == [0.0, 2.0, 3.5, 5.0]
    assert "time_train_s" in metrics[1][1] and "train_loss" in metrics[1][1]
    curve = ["learning_curve.png"] if (tmp_path / "run" / "learning_curve.png").exists() else []  # needs matplotlib
    assert sorted(c[1] for c in calls if c[0] == "artifact") == [*curve, "metrics.csv"]
    assert calls[-1] == ("finish", "finished")
    store = RunStore(tmp_path / "run", create=False)
    try:
        assert store.get_meta("tracking.recording.id") == "id-track-test"
        assert json.loads(store.get_meta("tracking.recording.rounds") or "") == [-1, 0, 1, 2]
    finally:
        store.close()


def test_resume_reuses_the_tracker_id_and_never_resends_a_round(tmp_path: Path, registry) -> None:  # type: ignore[no-untyped-def]
    CALLS.clear()
    spec = make_spec(tmp_path, [{"name": "recording", "config": {"book": "b"}}], iterations=1)
    with Experiment.from_spec(spec, registry=registry, progress=False) as experiment:
        experiment.run()
    spec["loop"]["iterations"] = 2  # extend the stored run
    with Experiment.from_spec(spec, registry=registry, progress=False) as experiment:
        experiment.run()
    starts = [c for c in CALLS["b"] if c[0] == "start"]
    assert starts == [("start", "track-test", None), ("start", "track-test", "id-track-test")]
    assert len([c for c in CALLS["b"] if c[0] == "params"]) == 1
    assert [c[2] for c in CALLS["b"] if c[0] == "metrics"] == [0, 4, 7, 10]


def test_a_buffered_tracker_gets_again_the_rounds_it_never_finished(tmp_path: Path, registry) -> None:  # type: ignore[no-untyped-def]
    CALLS.clear()
    config = {"book": "buf", "fail_in": ["finish"], "fail_times": 1}
    tracking: list[Any] = [{"name": "buffered-recording", "config": config}]
    spec = make_spec(tmp_path, tracking, iterations=1)
    with Experiment.from_spec(spec, registry=registry, progress=False) as experiment:
        experiment.run()  # finish raises: nothing it got counts as kept (like a kill -9 before wandb wrote it)
        assert experiment.store.get_meta("tracking.buffered-recording.rounds") is None
    spec["loop"]["iterations"] = 2
    with Experiment.from_spec(spec, registry=registry, progress=False) as experiment:
        experiment.run()  # finishes cleanly: every round is recorded as sent
    spec["loop"]["iterations"] = 3
    with Experiment.from_spec(spec, registry=registry, progress=False) as experiment:
        experiment.run()
    assert [c[2] for c in CALLS["buf"] if c[0] == "metrics"] == [0, 4, 7, 0, 4, 7, 10, 13]
    assert [c[1] for c in CALLS["buf"] if c[0] == "finish"] == ["finished"] * 3


def test_trackers_get_the_latest_adapter_folder_before_finish(tmp_path: Path, registry) -> None:  # type: ignore[no-untyped-def]
    CALLS.clear()
    spec = make_spec(tmp_path, [{"name": "recording", "config": {"book": "m"}}])
    with Experiment.from_spec(spec, registry=registry, progress=False) as experiment:
        experiment.run()
    models = [c for c in CALLS["m"] if c[0] == "model"]
    assert models == [("model", tmp_path / "run" / "adapters" / "round-2", 2)]
    assert (models[0][1] / "known.json").is_file()
    assert [c[0] for c in CALLS["m"]][-2:] == ["model", "finish"]


def test_a_failing_tracker_warns_and_the_run_and_its_labels_go_on(  # type: ignore[no-untyped-def]
    tmp_path: Path, registry, caplog: pytest.LogCaptureFixture
) -> None:
    CALLS.clear()
    tracking = [
        {"name": "recording", "config": {"book": "broken", "fail_in": ["start", "metrics"]}},
    ]
    with Experiment.from_spec(make_spec(tmp_path, tracking), registry=registry, progress=False) as experiment:
        summary = experiment.run()
        labels = experiment.store.spent()[0]
    assert summary.stop_reason == "iterations done" and labels == 10
    assert "tracker recording: start failed (ConnectionError: tracker server down (start))" in caplog.text
    assert [c[0] for c in CALLS["broken"]] == ["start"]  # never started: nothing else was called


def test_metrics_that_fail_are_sent_again_at_the_next_round(tmp_path: Path, registry) -> None:  # type: ignore[no-untyped-def]
    CALLS.clear()
    tracking = [{"name": "recording", "config": {"book": "flaky", "fail_in": ["metrics"], "fail_times": 1}}]
    with Experiment.from_spec(make_spec(tmp_path, tracking), registry=registry, progress=False) as experiment:
        experiment.run()
    steps = [c[2] for c in CALLS["flaky"] if c[0] == "metrics"]
    assert steps == [0, 0, 4, 7, 10]  # the first call failed, then every round exactly once, in order
    assert CALLS["flaky"][-1] == ("finish", "finished")


def test_unknown_tracker_is_a_spec_error_naming_the_field(tmp_path: Path, registry) -> None:  # type: ignore[no-untyped-def]
    with pytest.raises(SpecError) as info:
        Experiment.from_spec(make_spec(tmp_path, ["mlfow"]), registry=registry, progress=False)
    assert "tracking[0].name: unknown tracker" in str(info.value)


def test_flatten_params_gives_dotted_string_values() -> None:
    flat = flatten_params({"loop": {"k": 4, "stop_when": {}}, "metrics": [{"name": "rouge", "config": {}}],
                           "name": "x", "rows": ["a" * 600]})
    assert flat["loop.k"] == "4" and flat["loop.stop_when"] == "{}" and flat["metrics.0.name"] == "rouge"
    assert flat["name"] == "x" and len(flat["rows"]) == 500 and flat["rows"].endswith("...")
