"""The ``wandb`` tracker, read back with wandb's own reader of its offline transaction log
(``wandb.sdk.internal.datastore`` + the ``Record`` protobuf, what ``wandb sync`` uploads): config,
every round at step = labels, the learning curve as media, metrics.csv as a run file; kill -9 +
resume logs to one wandb run id, each round once; a failing wandb never stops the run.

The loop is driven by the core's fake components (``tests/atgen_test_components.py``).
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

pytest.importorskip("wandb")
datastore = pytest.importorskip(
    "wandb.sdk.internal.datastore", reason="wandb's offline-log reader ships up to wandb 0.29 (the test extra pins it)"
)
from atgen_wandb.tracker import WandbTracker, run_id_for  # noqa: E402
from wandb.proto import wandb_internal_pb2  # noqa: E402

from atgen_core.loop import Experiment  # noqa: E402
from atgen_core.plugins import load_registry  # noqa: E402
from atgen_core.store import RunStore  # noqa: E402

REPO = Path(__file__).resolve().parents[3]
CORE_TESTS = REPO / "tests"


@dataclass
class Segment:
    """What one process logged to wandb (one ``offline-run-*`` folder), as decoded from its .wandb file."""

    folder: Path
    run_id: str = ""
    project: str = ""
    config: dict[str, Any] = field(default_factory=dict)
    rows: list[dict[str, Any]] = field(default_factory=list)
    exit_code: int | None = None


def read_segments(run_dir: Path) -> list[Segment]:
    out = []
    for folder in sorted((run_dir / "wandb").glob("offline-run-*")):
        (log_file,) = folder.glob("run-*.wandb")
        store = datastore.DataStore()
        store.open_for_scan(str(log_file))
        segment = Segment(folder, run_id=log_file.stem[len("run-"):])  # the run record may be lost by a kill
        while (data := store.scan_data()) is not None:
            record = wandb_internal_pb2.Record()
            record.ParseFromString(data)
            kind = record.WhichOneof("record_type")
            if kind == "run":
                assert record.run.run_id == segment.run_id
                segment.project = record.run.project
                segment.config.update({u.key: json.loads(u.value_json) for u in record.run.config.update})
            elif kind == "config":
                segment.config.update({u.key: json.loads(u.value_json) for u in record.config.update})
            elif kind == "history":
                segment.rows.append({i.key or "/".join(i.nested_key): json.loads(i.value_json)
                                     for i in record.history.item})
            elif kind == "exit":
                segment.exit_code = record.exit.exit_code
        out.append(segment)
    return out


def series(segments: list[Segment], key: str) -> list[tuple[int, Any]]:
    return [(row["_step"], row[key]) for s in segments for row in s.rows if key in row]


@pytest.fixture(scope="module")
def registry():  # type: ignore[no-untyped-def]
    sys.path.insert(0, str(CORE_TESTS))
    import atgen_test_components as fakes
    from atgen_wandb import hooks

    return load_registry(load_entrypoints=False, plugins=[("test-components", fakes), ("wandb", hooks)])


@pytest.fixture(autouse=True)
def offline_by_default(monkeypatch: pytest.MonkeyPatch) -> None:
    for var in ("WANDB_MODE", "WANDB_DIR", "WANDB_RUN_ID", "WANDB_RESUME"):
        monkeypatch.delenv(var, raising=False)


def fake_spec(tmp_path: Path, **loop: Any) -> dict[str, Any]:
    return {
        "name": "wandb-fake", "seed": 11,
        "data": {"source": {"name": "memory", "config": {"generate": 40, "topics": 8}}, "test_size": 8},
        "strategy": "test-random",
        "annotator": {"name": "counting-oracle", "config": {"price": 0.25}},
        "trainer": "fake-trainer", "metrics": ["accuracy"],
        "loop": {"initial_size": 4, "query_size": 4, "iterations": 2, **loop},
        "tracking": ["wandb"],
        "output_dir": str(tmp_path / "run"),
    }


def test_one_offline_run_holds_config_every_round_and_the_curve(tmp_path: Path, registry) -> None:  # type: ignore[no-untyped-def]
    with Experiment.from_spec(fake_spec(tmp_path), registry=registry, progress=False) as experiment:
        experiment.run()
        stored = experiment.store.metrics()
        stored_id = experiment.store.get_meta("tracking.wandb.id")
    run_dir = tmp_path / "run"
    (segment,) = read_segments(run_dir)
    assert segment.run_id == stored_id and stored_id.startswith("atgen-") and segment.project == "wandb-fake"
    assert segment.exit_code == 0
    assert segment.config["loop"]["query_size"] == 4 and segment.config["strategy"]["name"] == "test-random"
    assert series([segment], "accuracy") == [(n, vals["accuracy"]) for _, n, vals in stored]
    assert [step for step, _ in series([segment], "labels")] == [0, 4, 8, 12]
    assert series([segment], "money_spent") == [(0, 0.0), (4, 1.0), (8, 2.0), (12, 3.0)]
    assert len(series([segment], "time_train_s")) == 3
    files = segment.folder / "files"
    assert (files / "metrics.csv").read_text(encoding="utf-8") == (run_dir / "metrics.csv").read_text(encoding="utf-8")
    assert (run_dir / "learning_curve.png").exists()
    ((step, media),) = series([segment], "learning_curve/path")
    assert step == 12 and (files / media).read_bytes() == (run_dir / "learning_curve.png").read_bytes()


def test_kill_9_mid_round_then_resume_logs_to_one_wandb_run(tmp_path: Path) -> None:
    spec = fake_spec(tmp_path)
    spec["annotator"]["config"].update(crash_marker=str(tmp_path / "crashed"), crash_after=2, crash_round=1)
    path = tmp_path / "spec.json"
    path.write_text(json.dumps(spec), encoding="utf-8")
    env = {k: v for k, v in os.environ.items() if not k.startswith("WANDB_")}
    env["PYTHONPATH"] = str(CORE_TESTS)
    command = [sys.executable, "-m", "atgen_core"]
    first = subprocess.run([*command, "run", str(path), "-p", "atgen_test_components", "-q"], env=env,
                           capture_output=True, text=True, timeout=300, check=False)
    assert first.returncode == -signal.SIGKILL, first.stderr
    (killed,) = read_segments(tmp_path / "run")
    # wandb-core writes its log in blocks: the killed process may have lost what it logged (here, all of it)
    assert killed.exit_code is None and {s for s, _ in series([killed], "labels")} <= {0, 4}
    second = subprocess.run([*command, "resume", str(tmp_path / "run"), "-p", "atgen_test_components", "-q"],
                            env=env, capture_output=True, text=True, timeout=300, check=False)
    assert second.returncode == 0, second.stderr
    segments = read_segments(tmp_path / "run")
    assert len(segments) == 2 and {s.run_id for s in segments} == {killed.run_id}  # one wandb run
    killed, resumed = segments
    # no clean finish before the kill: the resumed process sends every round, each once
    assert [s for s, _ in series([resumed], "labels")] == [0, 4, 8, 12] and resumed.exit_code == 0
    assert set(series([killed], "accuracy")) <= set(series([resumed], "accuracy"))
    store = RunStore(tmp_path / "run", create=False)
    try:
        assert store.get_meta("tracking.wandb.id") == killed.run_id and store.spent()[0] == 12
    finally:
        store.close()


def test_the_id_follows_the_run_key_even_if_the_stored_id_is_lost(tmp_path: Path, registry) -> None:  # type: ignore[no-untyped-def]
    spec = fake_spec(tmp_path, iterations=1)
    with Experiment.from_spec(spec, registry=registry, progress=False) as experiment:
        experiment.run()
        first = experiment.store.get_meta("tracking.wandb.id")
        experiment.store._execute("DELETE FROM meta WHERE key = 'tracking.wandb.id'")
    spec["loop"]["iterations"] = 2
    with Experiment.from_spec(spec, registry=registry, progress=False) as experiment:
        experiment.run()
        assert experiment.store.get_meta("tracking.wandb.id") == first
    segments = read_segments(tmp_path / "run")
    assert {s.run_id for s in segments} == {first}
    assert [s for s, _ in series(segments, "labels")] == [0, 4, 8, 12]


def test_wandb_failing_in_log_metrics_only_warns(tmp_path: Path, registry, monkeypatch: pytest.MonkeyPatch,  # type: ignore[no-untyped-def]
                                                 caplog: pytest.LogCaptureFixture) -> None:
    def broken(self: WandbTracker, metrics: Any, step: int) -> None:
        raise OSError("disk full")

    monkeypatch.setattr(WandbTracker, "log_metrics", broken)
    with Experiment.from_spec(fake_spec(tmp_path), registry=registry, progress=False) as experiment:
        summary = experiment.run()
        assert experiment.store.spent()[0] == 12
    assert summary.stop_reason == "iterations done"
    assert "tracker wandb: log_metrics failed (OSError: disk full); the run goes on" in caplog.text
    (segment,) = read_segments(tmp_path / "run")
    assert series([segment], "labels") == [] and segment.exit_code == 0


def test_run_id_is_stable_and_wandb_safe() -> None:
    assert run_id_for("/runs/a@2026") == run_id_for("/runs/a@2026") != run_id_for("/runs/b@2026")
    assert run_id_for("x").replace("-", "").isalnum() and len(run_id_for("x")) == 22


def test_contract_and_light_import() -> None:
    from atgen_core.testing import HEAVY_MODULES, check_component, check_light_import

    assert isinstance(check_component(WandbTracker), WandbTracker)
    assert check_light_import("atgen_wandb.hooks", (*HEAVY_MODULES, "wandb")) == []
