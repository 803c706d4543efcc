"""The active-learning loop on fake components: starts, modes, stopping rules, budgets, resume, locks."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import atgen_test_components as fakes
import pytest

from atgen_core.errors import AtgenError, RunLockedError, SpecError, StoreError
from atgen_core.loop import BASE_ROUND, ComponentError, Experiment
from atgen_core.plugins import load_registry
from atgen_core.store import RunStore

TESTS = Path(__file__).parent


@pytest.fixture(scope="module")
def registry():  # type: ignore[no-untyped-def]
    return load_registry(load_entrypoints=False, plugins=[("test-components", fakes)])


def make_spec(tmp_path: Path, **changes: Any) -> dict[str, Any]:
    spec: dict[str, Any] = {
        "name": "loop-test",
        "seed": 7,
        "data": {"source": {"name": "memory", "config": {"generate": 60, "topics": 12}}, "test_size": 12},
        "strategy": {"name": "test-random"},
        "annotator": {"name": "counting-oracle", "config": {"log_file": str(tmp_path / "requests.log")}},
        "trainer": {"name": "fake-trainer"},
        "metrics": ["accuracy"],
        "loop": {"initial_size": 4, "query_size": 4, "iterations": 3},
        "output_dir": str(tmp_path / "run"),
    }
    for key, value in changes.items():
        if isinstance(value, dict) and isinstance(spec.get(key), dict):
            spec[key] = {**spec[key], **value}
        else:
            spec[key] = value
    return spec


def run(spec: dict[str, Any], registry) -> Experiment:  # type: ignore[no-untyped-def]
    experiment = Experiment.from_spec(spec, registry=registry, progress=False)
    experiment.run()
    return experiment


def state(run_dir: Path) -> dict[str, Any]:
    store = RunStore(run_dir, create=False)
    try:
        rounds = []
        r = 0
        while (sel := store.selection(r)) is not None:
            rounds.append(sel)
            r += 1
        return {
            "selections": rounds,
            "labels": [(x.id, x.round, x.text) for x in store.labels()],
            "metrics": store.metrics(),
            "attempts": sorted((a["round"], a["id"], a["status"]) for a in store.attempts()),
        }
    finally:
        store.close()


def expected_accuracy(experiment: Experiment) -> float:
    labelled = experiment.labelled()
    topics = {e.input.split()[1] for e, text in zip(labelled.examples, labelled.labels) if text == e.target}
    hits = sum(1 for e in experiment.test if e.input.split()[1] in topics)
    return hits / len(experiment.test)


def test_warm_start_runs_every_round_and_metrics_follow_the_labels(tmp_path: Path, registry) -> None:  # type: ignore[no-untyped-def]
    with run(make_spec(tmp_path), registry) as experiment:
        final = state(experiment.run_dir)
        assert [len(s) for s in final["selections"]] == [4, 4, 4, 4]
        store = experiment.store
        assert store._one("SELECT strategy FROM selections WHERE round = 0")[0] == "random-initial"
        assert store._one("SELECT strategy FROM selections WHERE round = 1")[0] == "test-random"
        all_ids = [i for s in final["selections"] for i in s]
        assert len(set(all_ids)) == 16
        assert {e.id for e in experiment.test}.isdisjoint(all_ids)
        rounds = [(r, n) for r, n, _ in final["metrics"]]
        assert rounds == [(BASE_ROUND, 0), (0, 4), (1, 8), (2, 12), (3, 16)]
        assert final["metrics"][0][2]["accuracy"] == 0.0
        assert final["metrics"][-1][2]["accuracy"] == pytest.approx(expected_accuracy(experiment))
        labels = {x[0]: x[2] for x in final["labels"]}
        by_id = {e.id: e for e in experiment.pool}
        assert all(labels[i] == by_id[i].target for i in all_ids)
    run_dir = tmp_path / "run"
    assert (run_dir / "metrics.csv").read_text().splitlines()[0] == "round,labels,accuracy"
    assert len((run_dir / "labels.jsonl").read_text().splitlines()) == 16
    assert (run_dir / "generations" / "round-3.jsonl").exists()
    assert "round 3" in (run_dir / "run.log").read_text()


def test_same_seed_same_run_and_other_seed_differs(tmp_path: Path, registry) -> None:  # type: ignore[no-untyped-def]
    run(make_spec(tmp_path / "a"), registry).close()
    run(make_spec(tmp_path / "b"), registry).close()
    run(make_spec(tmp_path / "c", seed=8), registry).close()
    a, b, c = (state(tmp_path / x / "run") for x in "abc")
    assert a["selections"] == b["selections"]
    assert a["selections"] != c["selections"]


def test_cold_start_lets_the_strategy_pick_the_first_batch(tmp_path: Path, registry) -> None:  # type: ignore[no-untyped-def]
    spec = make_spec(tmp_path, loop={"start": "cold", "iterations": 1})
    with run(spec, registry) as experiment:
        assert experiment.store._one("SELECT strategy FROM selections WHERE round = 0")[0] == "test-random"


def test_cold_start_with_a_warm_only_strategy_is_a_spec_error(tmp_path: Path, registry) -> None:  # type: ignore[no-untyped-def]
    spec = make_spec(tmp_path, strategy="warm-only", loop={"start": "cold"})
    with pytest.raises(SpecError) as info:
        Experiment.from_spec(spec, registry=registry)
    assert info.value.issues[0].path == "loop.start"


def test_experimental_design_mode_selects_trains_and_evaluates_once(tmp_path: Path, registry) -> None:  # type: ignore[no-untyped-def]
    spec = make_spec(tmp_path, loop={"mode": "design", "initial_size": 10}, trainer={
        "name": "fake-trainer", "config": {"log_file": str(tmp_path / "train.log")}})
    with run(spec, registry) as experiment:
        final = state(experiment.run_dir)
        assert [len(s) for s in final["selections"]] == [10]
        assert [r for r, _, _ in final["metrics"]] == [BASE_ROUND, 0]
        assert experiment.store._one("SELECT strategy FROM selections WHERE round = 0")[0] == "test-random"
    assert [json.loads(x)["n"] for x in (tmp_path / "train.log").read_text().splitlines()] == [10]


def test_label_budget_stops_the_loop(tmp_path: Path, registry) -> None:  # type: ignore[no-untyped-def]
    spec = make_spec(tmp_path, loop={"budget": {"labels": 6}})
    with run(spec, registry) as experiment:
        assert [len(s) for s in state(experiment.run_dir)["selections"]] == [4, 2]
        assert experiment.summary().labels == 6
        assert experiment.store.get_meta("status") == "finished: budget spent"


def test_money_budget_is_never_exceeded(tmp_path: Path, registry) -> None:  # type: ignore[no-untyped-def]
    spec = make_spec(tmp_path, loop={"budget": {"money": 3.0}})
    spec["annotator"]["config"]["price"] = 0.5
    with run(spec, registry) as experiment:
        n_labels, money = experiment.store.spent()
        assert (n_labels, money) == (6, 3.0)
        skipped = [a for a in experiment.store.attempts() if a["status"] == "skipped"]
        assert len(skipped) == 2 and all(a["error"] == "over the money budget" for a in skipped)
        assert experiment.store.get_meta("status") == "finished: budget spent"
    requested = (tmp_path / "requests.log").read_text().split()
    assert len(requested) == 6  # skipped items were never sent


def test_metric_threshold_stops_the_loop(tmp_path: Path, registry) -> None:  # type: ignore[no-untyped-def]
    spec = make_spec(tmp_path, loop={"stop_when": {"accuracy": 0.3}, "iterations": 10})
    with run(spec, registry) as experiment:
        metrics = experiment.store.metrics()
        last = metrics[-1][2]["accuracy"]
        assert last >= 0.3
        assert all(vals["accuracy"] < 0.3 for _, _, vals in metrics[:-1])
        assert experiment.store.selection(metrics[-1][0] + 1) is None
        assert experiment.store.get_meta("status", ).startswith("finished: target reached")  # type: ignore[union-attr]


def test_failed_labels_are_reported_and_never_trained_on(tmp_path: Path, registry) -> None:  # type: ignore[no-untyped-def]
    probe = make_spec(tmp_path / "probe", loop={"iterations": 0})
    with run(probe, registry) as experiment:
        first = state(experiment.run_dir)["selections"][0]
    spec = make_spec(tmp_path, loop={"iterations": 0}, trainer={
        "name": "fake-trainer", "config": {"log_file": str(tmp_path / "train.log")}})
    spec["annotator"]["config"]["fail_ids"] = first[:2]
    with run(spec, registry) as experiment:
        final = state(experiment.run_dir)
        assert {x[0] for x in final["labels"]} == set(first[2:])
        assert [(a[1], a[2]) for a in final["attempts"] if a[2] != "ok"] == sorted((i, "failed") for i in first[:2])
    assert json.loads((tmp_path / "train.log").read_text().splitlines()[0])["n"] == 2


def test_a_strategy_returning_positions_is_rejected(tmp_path: Path, registry) -> None:  # type: ignore[no-untyped-def]
    spec = make_spec(tmp_path, strategy={"name": "test-random", "config": {"positions": True}})
    with Experiment.from_spec(spec, registry=registry, progress=False) as experiment:
        with pytest.raises(ComponentError, match="never positions"):
            experiment.run()


def test_second_process_on_a_run_directory_is_refused(tmp_path: Path, registry) -> None:  # type: ignore[no-untyped-def]
    spec = make_spec(tmp_path)
    with Experiment.from_spec(spec, registry=registry, progress=False):
        with pytest.raises(RunLockedError, match="in use by another atgen process"):
            Experiment.from_spec(spec, registry=registry)
        path = tmp_path / "spec.json"
        path.write_text(json.dumps(spec))
        proc = subprocess.run(
            [sys.executable, "-m", "atgen_core", "run", str(path), "-p", "atgen_test_components", "-q"],
            capture_output=True, text=True, env={**os.environ, "PYTHONPATH": str(TESTS)}, timeout=60,
        )
        assert proc.returncode == 2
        assert "in use by another atgen process" in proc.stderr


def test_a_changed_spec_is_refused_but_more_iterations_continue_the_run(tmp_path: Path, registry) -> None:  # type: ignore[no-untyped-def]
    run(make_spec(tmp_path, loop={"iterations": 1}), registry).close()
    with pytest.raises(StoreError, match="differs in: seed"):
        Experiment.from_spec(make_spec(tmp_path, seed=99, loop={"iterations": 1}), registry=registry)
    with run(make_spec(tmp_path, loop={"iterations": 2}), registry) as experiment:
        assert [len(s) for s in state(experiment.run_dir)["selections"]] == [4, 4, 4]
    assert len((tmp_path / "requests.log").read_text().split()) == 12


def test_embeddings_are_computed_once_per_run_and_cached(tmp_path: Path, registry) -> None:  # type: ignore[no-untyped-def]
    fakes.CountingEmbedder.calls.clear()
    spec = make_spec(tmp_path, strategy={"name": "test-random", "config": {"embeddings": True}},
                     embedder="hash-embedder")
    run(spec, registry).close()
    assert fakes.CountingEmbedder.calls == [48]  # the whole pool, once
    assert list((tmp_path / "run" / "cache").glob("embeddings-*.npz"))


@pytest.mark.parametrize(("backend", "embedded_by"), [("in-process-scoring", "loop"), ("embedding-scoring", "backend")])
def test_embeddings_go_through_a_backend_only_when_it_can_embed(  # type: ignore[no-untyped-def]
    tmp_path: Path, registry, backend: str, embedded_by: str
) -> None:
    fakes.CountingEmbedder.calls.clear()
    fakes.InProcessScoring.calls.clear()
    strategy = {"name": "test-random", "config": {"embeddings": True}}
    plain = state(run(make_spec(tmp_path / "plain", strategy=strategy, embedder="hash-embedder"), registry).run_dir)
    fakes.CountingEmbedder.calls.clear()
    spec = make_spec(tmp_path / "scored", strategy=strategy, embedder="hash-embedder", scoring=backend)
    scored = state(run(spec, registry).run_dir)
    assert scored["selections"] == plain["selections"] and scored["labels"] == plain["labels"]
    # Both ways embed the whole pool once per run (48 items); only the backend that can embed is asked to.
    assert fakes.CountingEmbedder.calls == [48]
    embeds = [c for c in fakes.InProcessScoring.calls if c.startswith("embed")]
    assert embeds == (["embed:48"] if embedded_by == "backend" else [])
    assert fakes.InProcessScoring.calls.count("generate") == 3


def test_scoring_subsample_restricts_the_scored_pool(tmp_path: Path, registry) -> None:  # type: ignore[no-untyped-def]
    spec = make_spec(tmp_path, loop={"scoring_subsample": 10, "iterations": 2})
    with run(spec, registry) as experiment:
        info = experiment.store.step_done(1, "select")
        assert info is not None and info["scored"] == 10


def test_step_by_step_api(tmp_path: Path, registry) -> None:  # type: ignore[no-untyped-def]
    spec = make_spec(tmp_path)
    with Experiment.from_spec(spec, registry=registry, progress=False) as experiment:
        with pytest.raises(AtgenError, match="query"):
            experiment.annotate()
        ids = experiment.query(3)
        assert len(ids) == 3
        experiment.teach({ids[0]: "my own label"})
        experiment.annotate()
        labels = {x.id: x.text for x in experiment.store.labels()}
        assert labels[ids[0]] == "my own label" and len(labels) == 3
        experiment.train()
        values = experiment.evaluate()
        assert values["accuracy"] == pytest.approx(expected_accuracy(experiment))
        assert len(experiment.query()) == 4
        with pytest.raises(AtgenError, match="not in the selection"):
            experiment.teach({"nope": "x"})


CRASH_POINTS = {
    "annotate": ("annotator", {"crash_round": 1, "crash_after": 2}),
    "train": ("trainer", {"crash_round": 1}),
    "select": ("strategy", {"crash_round": 2}),
}


@pytest.mark.parametrize("point", sorted(CRASH_POINTS))
def test_kill_9_then_resume_ends_in_the_uninterrupted_state(tmp_path: Path, registry, point: str) -> None:  # type: ignore[no-untyped-def]
    reference = make_spec(tmp_path / "ref")
    run(reference, registry).close()
    expected = state(tmp_path / "ref" / "run")

    spec = make_spec(tmp_path / "crash")
    (tmp_path / "crash").mkdir(exist_ok=True)
    component, options = CRASH_POINTS[point]
    ref = spec[component] if isinstance(spec[component], dict) else {"name": spec[component]}
    ref = {**ref, "config": {**ref.get("config", {}), **options, "crash_marker": str(tmp_path / "marker")}}
    spec[component] = ref
    path = tmp_path / "spec.json"
    path.write_text(json.dumps(spec))
    env = {**os.environ, "PYTHONPATH": str(TESTS)}
    cmd = [sys.executable, "-m", "atgen_core", "run", str(path), "-p", "atgen_test_components", "-q"]
    first = subprocess.run(cmd, capture_output=True, text=True, env=env, timeout=120)
    assert first.returncode == -9, first.stderr
    assert (tmp_path / "marker").exists()
    resume = [sys.executable, "-m", "atgen_core", "resume", str(tmp_path / "crash" / "run"),
              "-p", "atgen_test_components", "-q"]
    second = subprocess.run(resume, capture_output=True, text=True, env=env, timeout=120)
    assert second.returncode == 0, second.stderr
    assert state(tmp_path / "crash" / "run") == expected
    requests = (tmp_path / "crash" / "requests.log").read_text().split()
    assert len(requests) == len(set(requests)) == 16  # nobody asked twice


def test_status_reports_progress_budget_and_last_metrics(tmp_path: Path, registry) -> None:  # type: ignore[no-untyped-def]
    spec = make_spec(tmp_path, loop={"budget": {"labels": 10, "money": 5.0}, "iterations": 1})
    spec["annotator"]["config"]["price"] = 0.25
    with run(spec, registry) as experiment:
        accuracy = experiment.store.metrics()[-1][2]["accuracy"]
    proc = subprocess.run([sys.executable, "-m", "atgen_core", "status", str(tmp_path / "run")],
                          capture_output=True, text=True, timeout=60)
    assert proc.returncode == 0, proc.stderr
    out = proc.stdout
    assert "status: finished: iterations done" in out
    assert "labels: 8, 2 left" in out
    assert "spent: 2.0000 USD, 3.0000 left" in out
    assert f"accuracy={accuracy:.4f}" in out and "round 1, 8 labels" in out
    missing = subprocess.run([sys.executable, "-m", "atgen_core", "status", str(tmp_path / "nope")],
                             capture_output=True, text=True, timeout=60)
    assert missing.returncode == 2 and "not an atgen run directory" in missing.stderr


def test_a_doubling_schedule_selects_the_difference_each_round(tmp_path: Path, registry) -> None:  # type: ignore[no-untyped-def]
    spec = make_spec(tmp_path)
    spec["loop"] = {"schedule": [3, 6, 12, 24]}
    with run(spec, registry) as experiment:
        sizes = [len(experiment.store.selection(r) or []) for r in range(5)]
        assert sizes == [3, 3, 6, 12, 0]
        assert [n for _, n, _ in experiment.store.metrics()] == [0, 3, 6, 12, 24]
    # the stored spec (with the derived sizes) reopens, and a longer schedule extends the run
    spec["loop"] = {"schedule": [3, 6, 12, 24, 30]}
    with run(spec, registry) as experiment:
        assert [n for _, n, _ in experiment.store.metrics()] == [0, 3, 6, 12, 24, 30]


@pytest.mark.parametrize(
    ("loop", "message"),
    [
        ({"schedule": [8, 4]}, "strictly increasing"),
        ({"schedule": [4, 8], "initial_size": 2}, "replaces initial_size"),
        ({"schedule": [4, 8], "mode": "design"}, "one round"),
    ],
)
def test_a_bad_schedule_is_a_spec_error(tmp_path: Path, registry, loop: dict[str, Any], message: str) -> None:  # type: ignore[no-untyped-def]
    spec = make_spec(tmp_path)
    spec["loop"] = loop
    with pytest.raises(SpecError, match=message):
        Experiment.from_spec(spec, registry=registry, progress=False)
    assert not (tmp_path / "run").exists()


def test_each_metric_gets_its_own_persistent_cache(tmp_path: Path, registry, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    compute = fakes.AccuracyMetric.compute
    seen: list[str | None] = []

    def caching_compute(self, ctx):  # type: ignore[no-untyped-def]
        seen.append(ctx.cache.get("evaluations"))  # what the previous evaluation stored
        ctx.cache.put("evaluations", str(len(seen)))
        return compute(self, ctx)

    monkeypatch.setattr(fakes.AccuracyMetric, "compute", caching_compute)
    run(make_spec(tmp_path, loop={"iterations": 1}), registry).close()
    assert seen == [None, "1", "2"]  # base round, round 0, round 1: the cache persists across evaluations
    store = RunStore(tmp_path / "run", create=False)
    try:
        assert store.cache("metric:accuracy").get("evaluations") == "3"
        assert store.cache("annotator:counting-oracle").get("evaluations") is None  # namespaces are separate
    finally:
        store.close()
