"""The ``mlflow`` tracker, read back with MLflow's own client: params, metric history at step = labels,
artifacts; kill -9 + resume continues the same MLflow run; a failing MLflow never stops the run.

The fast tests drive the loop with the core's fake components (``tests/atgen_test_components.py``);
the tiny-model test runs the real lora trainer on a 2-layer model built by the test.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

mlflow = pytest.importorskip("mlflow")
from atgen_mlflow.tracker import MlflowTracker, local_tracking_uri  # noqa: E402
from mlflow import MlflowClient  # noqa: E402

from atgen_core.loop import Experiment  # noqa: E402
from atgen_core.plugins import load_registry  # noqa: E402
from atgen_core.store import RunStore  # noqa: E402

REPO = Path(__file__).resolve().parents[3]
CORE_TESTS = REPO / "tests"


@pytest.fixture(scope="module")
def registry():  # type: ignore[no-untyped-def]
    sys.path.insert(0, str(CORE_TESTS))
    import atgen_test_components as fakes
    from atgen_mlflow import hooks

    return load_registry(load_entrypoints=False, plugins=[("test-components", fakes), ("mlflow", hooks)])


def fake_spec(tmp_path: Path, **loop: Any) -> dict[str, Any]:
    return {
        "name": "mlflow-fake", "seed": 11,
        "data": {"source": {"name": "memory", "config": {"generate": 40, "topics": 8}}, "test_size": 8},
        "strategy": "test-random",
        "annotator": {"name": "counting-oracle", "config": {"price": 0.25}},
        "trainer": "fake-trainer", "metrics": ["accuracy"],
        "loop": {"initial_size": 4, "query_size": 4, "iterations": 2, **loop},
        "tracking": ["mlflow"],
        "output_dir": str(tmp_path / "run"),
    }


def only_run(run_dir: Path) -> Any:
    client = MlflowClient(tracking_uri=local_tracking_uri(run_dir))
    runs = [r for e in client.search_experiments() for r in client.search_runs([e.experiment_id])]
    assert len(runs) == 1, [r.info.run_id for r in runs]
    return client, runs[0]


def history(client: Any, run_id: str, key: str) -> list[tuple[int, float]]:
    return sorted((m.step, m.value) for m in client.get_metric_history(run_id, key))


def test_one_mlflow_run_holds_params_every_round_and_the_artifacts(  # type: ignore[no-untyped-def]
    tmp_path: Path, registry, monkeypatch: pytest.MonkeyPatch
) -> None:
    with Experiment.from_spec(fake_spec(tmp_path), registry=registry, progress=False) as experiment:
        experiment.run()
        stored = experiment.store.metrics()
        stored_id = experiment.store.get_meta("tracking.mlflow.id")
    run_dir = tmp_path / "run"
    client, run = only_run(run_dir)
    assert run.info.run_id == stored_id and run.info.status == "FINISHED"
    assert run.data.params["loop.query_size"] == "4" and run.data.params["strategy.name"] == "test-random"
    assert run.data.tags["atgen.strategy"] == "test-random"
    assert history(client, stored_id, "accuracy") == [(n, vals["accuracy"]) for _, n, vals in stored]
    assert [s for s, _ in history(client, stored_id, "labels")] == [0, 4, 8, 12]
    assert history(client, stored_id, "money_spent") == [(0, 0.0), (4, 1.0), (8, 2.0), (12, 3.0)]
    assert len(history(client, stored_id, "time_train_s")) == 3
    artifacts = {a.path for a in client.list_artifacts(stored_id)}
    assert "metrics.csv" in artifacts
    local = Path(client.download_artifacts(stored_id, "metrics.csv", str(tmp_path)))
    assert local.read_text(encoding="utf-8") == (run_dir / "metrics.csv").read_text(encoding="utf-8")
    if (run_dir / "learning_curve.png").exists():
        assert "learning_curve.png" in artifacts
    monkeypatch.setenv("MLFLOW_TRACKING_URI", local_tracking_uri(run_dir))  # undone after the test
    frame = mlflow.search_runs(experiment_names=["mlflow-fake"])
    assert list(frame["run_id"]) == [stored_id]
    assert float(frame["metrics.accuracy"][0]) == stored[-1][2]["accuracy"]


def test_kill_9_mid_round_then_resume_leaves_one_mlflow_run(tmp_path: Path) -> None:
    spec = fake_spec(tmp_path)
    spec["annotator"]["config"].update(crash_marker=str(tmp_path / "crashed"), crash_after=2, crash_round=1)
    path = tmp_path / "spec.json"
    path.write_text(json.dumps(spec), encoding="utf-8")
    env = {k: v for k, v in os.environ.items() if k != "MLFLOW_TRACKING_URI"}  # the default local store
    env["PYTHONPATH"] = str(CORE_TESTS)
    command = [sys.executable, "-m", "atgen_core"]
    first = subprocess.run([*command, "run", str(path), "-p", "atgen_test_components", "-q"], env=env,
                           capture_output=True, text=True, timeout=300, check=False)
    assert first.returncode == -signal.SIGKILL, first.stderr
    client, run = only_run(tmp_path / "run")
    assert run.info.status == "RUNNING"  # killed: nobody ended it
    assert [s for s, _ in history(client, run.info.run_id, "labels")] == [0, 4]
    second = subprocess.run([*command, "resume", str(tmp_path / "run"), "-p", "atgen_test_components", "-q"],
                            env=env, capture_output=True, text=True, timeout=300, check=False)
    assert second.returncode == 0, second.stderr
    client, after = only_run(tmp_path / "run")
    assert after.info.run_id == run.info.run_id and after.info.status == "FINISHED"
    assert [s for s, _ in history(client, run.info.run_id, "labels")] == [0, 4, 8, 12]  # each round once
    store = RunStore(tmp_path / "run", create=False)
    try:
        assert store.spent()[0] == 12
    finally:
        store.close()


def test_log_adapter_uploads_the_latest_adapter_folder(tmp_path: Path, registry) -> None:  # type: ignore[no-untyped-def]
    spec = fake_spec(tmp_path)
    spec["tracking"] = [{"name": "mlflow", "config": {"log_adapter": True}}]
    with Experiment.from_spec(spec, registry=registry, progress=False) as experiment:
        experiment.run()
    client, run = only_run(tmp_path / "run")
    assert [a.path for a in client.list_artifacts(run.info.run_id, "adapter")] == ["adapter/round-2"]
    listed = {a.path for a in client.list_artifacts(run.info.run_id, "adapter/round-2")}
    adapter = tmp_path / "run" / "adapters" / "round-2"
    assert listed == {f"adapter/round-2/{p.name}" for p in adapter.iterdir()} and listed
    local = Path(client.download_artifacts(run.info.run_id, "adapter/round-2/known.json", str(tmp_path / "dl")))
    assert local.read_bytes() == (adapter / "known.json").read_bytes()


def test_the_adapter_is_not_uploaded_by_default(tmp_path: Path, registry) -> None:  # type: ignore[no-untyped-def]
    with Experiment.from_spec(fake_spec(tmp_path, iterations=1), registry=registry, progress=False) as experiment:
        experiment.run()
    client, run = only_run(tmp_path / "run")
    assert client.list_artifacts(run.info.run_id, "adapter") == []
    assert "metrics.csv" in {a.path for a in client.list_artifacts(run.info.run_id)}


def test_a_lost_stored_id_is_found_again_by_the_run_key_tag(tmp_path: Path, registry) -> None:  # type: ignore[no-untyped-def]
    spec = fake_spec(tmp_path, iterations=1)
    with Experiment.from_spec(spec, registry=registry, progress=False) as experiment:
        experiment.run()
        experiment.store._execute("DELETE FROM meta WHERE key = 'tracking.mlflow.id'")
    spec["loop"]["iterations"] = 2
    with Experiment.from_spec(spec, registry=registry, progress=False) as experiment:
        experiment.run()
    client, run = only_run(tmp_path / "run")
    assert [s for s, _ in history(client, run.info.run_id, "labels")] == [0, 4, 8, 12]


def test_mlflow_failing_in_log_metrics_only_warns(tmp_path: Path, registry, monkeypatch: pytest.MonkeyPatch,  # type: ignore[no-untyped-def]
                                                  caplog: pytest.LogCaptureFixture) -> None:
    def broken(self: MlflowTracker, metrics: Any, step: int) -> None:
        raise ConnectionError("MLflow server down")

    monkeypatch.setattr(MlflowTracker, "log_metrics", broken)
    with Experiment.from_spec(fake_spec(tmp_path), registry=registry, progress=False) as experiment:
        summary = experiment.run()
        assert experiment.store.spent()[0] == 12
    assert summary.stop_reason == "iterations done"
    assert "tracker mlflow: log_metrics failed (ConnectionError: MLflow server down); the run goes on" in caplog.text
    client, run = only_run(tmp_path / "run")
    assert run.info.status == "FINISHED" and client.get_metric_history(run.info.run_id, "labels") == []


def test_an_unreachable_tracking_server_only_warns(tmp_path: Path, registry, monkeypatch: pytest.MonkeyPatch,  # type: ignore[no-untyped-def]
                                                   caplog: pytest.LogCaptureFixture) -> None:
    monkeypatch.setenv("MLFLOW_HTTP_REQUEST_MAX_RETRIES", "0")
    monkeypatch.setenv("MLFLOW_HTTP_REQUEST_TIMEOUT", "2")
    spec = fake_spec(tmp_path, iterations=1)
    spec["tracking"] = [{"name": "mlflow", "config": {"tracking_uri": "http://127.0.0.1:9"}}]
    with Experiment.from_spec(spec, registry=registry, progress=False) as experiment:
        summary = experiment.run()
        assert experiment.store.spent()[0] == 8
        assert experiment.store.get_meta("tracking.mlflow.id") is None
    assert summary.stop_reason == "iterations done"
    assert "tracker mlflow: start failed" in caplog.text


def test_tiny_model_loop_is_tracked(tmp_path: Path) -> None:
    pytest.importorskip("torch")
    pytest.importorskip("atgen_lora_trainer")
    pytest.importorskip("atgen_basics")
    sys.path.insert(0, str(REPO / "plugins" / "lora-trainer" / "tests"))
    from lora_trainer_helpers import CHATML_TEMPLATE, make_model_dir

    model_dir = make_model_dir(tmp_path / "model", CHATML_TEMPLATE, "<|im_end|>")
    rows = [{"id": f"r{i}", "input": f"name: N{i % 6}, area: A{i % 2}", "target": f"N{i % 6} is in A{i % 2}."}
            for i in range(24)]
    data = tmp_path / "rows.jsonl"
    data.write_text("\n".join(json.dumps(r) for r in rows) + "\n", encoding="utf-8")
    spec = {
        "name": "mlflow-tiny", "seed": 3,
        "data": {"source": {"name": "files", "config": {"train": str(data)}}, "id_column": "id", "test_size": 4,
                 "prompt": "Describe: {input}"},
        "model": {"path": str(model_dir), "max_input_tokens": 64, "generation": {"max_new_tokens": 6, "batch_size": 8}},
        "loop": {"initial_size": 4, "query_size": 4, "iterations": 1},
        "strategy": "random",
        "trainer": {"name": "lora", "config": {"epochs": 1, "batch_size": 2, "learning_rate": 0.001}},
        "metrics": ["rouge", "exact-match"],
        "tracking": [{"name": "mlflow", "config": {"experiment": "tiny-exp", "run_name": "tiny", "log_adapter": True}}],
        "output_dir": str(tmp_path / "run"),
    }
    with Experiment.from_spec(spec, registry=load_registry(), progress=False) as experiment:
        experiment.run()
        stored = experiment.store.metrics()
    client, run = only_run(tmp_path / "run")
    assert run.info.run_name == "tiny" and run.data.params["trainer.name"] == "lora"
    assert [s for s, _ in history(client, run.info.run_id, "rougeL")] == [n for _, n, _ in stored] == [0, 4, 8]
    assert history(client, run.info.run_id, "rougeL") == [(n, vals["rougeL"]) for _, n, vals in stored]
    assert len(history(client, run.info.run_id, "train_loss")) == 2
    assert {"metrics.csv", "learning_curve.png"} <= {a.path for a in client.list_artifacts(run.info.run_id)}
    adapter = {a.path.rsplit("/", 1)[-1] for a in client.list_artifacts(run.info.run_id, "adapter/round-1")}
    assert {"adapter_config.json", "adapter_model.safetensors"} <= adapter  # the LoRA weights of the last round


def test_contract_and_light_import() -> None:
    from atgen_core.testing import HEAVY_MODULES, check_component, check_light_import

    assert isinstance(check_component(MlflowTracker), MlflowTracker)
    assert check_light_import("atgen_mlflow.hooks", (*HEAVY_MODULES, "mlflow")) == []
    assert check_light_import("atgen_mlflow.tracker", (*HEAVY_MODULES, "mlflow")) == []


def test_a_benchmark_grid_is_one_parent_with_a_child_per_cell(  # type: ignore[no-untyped-def]
    tmp_path: Path, registry, monkeypatch: pytest.MonkeyPatch
) -> None:
    from atgen_core.benchmark import run_benchmark

    monkeypatch.chdir(tmp_path)  # MLflow's own artifact default would be ./mlruns here

    uri = f"sqlite:///{tmp_path / 'shared' / 'mlflow.db'}"
    (tmp_path / "shared").mkdir()
    base = fake_spec(tmp_path, iterations=1)
    base.pop("output_dir")
    base["tracking"] = [{"name": "mlflow", "config": {"tracking_uri": uri, "experiment": "grid",
                                                       "parent": "grid-bench"}}]
    strategies = ["test-random", {"name": "test-random", "label": "again"}]
    bench = {"name": "grid-bench", "base": base, "strategies": strategies, "seeds": [1, 2],
             "output_dir": str(tmp_path / "bench")}
    path = tmp_path / "bench.json"
    path.write_text(json.dumps(bench), encoding="utf-8")
    run_benchmark(path, registry=registry, progress=False)
    client = MlflowClient(tracking_uri=uri)
    runs = client.search_runs([client.get_experiment_by_name("grid").experiment_id])
    parents = [r for r in runs if r.data.tags.get("atgen.parent") == "grid-bench"]
    assert len(parents) == 1
    children = [r for r in runs if r.data.tags.get("mlflow.parentRunId") == parents[0].info.run_id]
    assert len(runs) == 5 and len(children) == 4
    assert sorted(r.info.run_name for r in children) == sorted(
        f"grid-bench-{label}-s{seed}" for label in ("test-random", "again") for seed in (1, 2))
    assert all([s for s, _ in history(client, r.info.run_id, "labels")] == [0, 4, 8] for r in children)
    assert not (tmp_path / "mlruns").exists()
    assert {a.path for a in client.list_artifacts(children[0].info.run_id)} >= {"metrics.csv"}
    assert len(list((tmp_path / "shared" / "artifacts").rglob("metrics.csv"))) == 4  # beside the shared db
