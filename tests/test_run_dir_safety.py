"""Run directories that are damaged, moved, copied, half set-up or written by another atgen version:
never restarted over, never a traceback, nothing that holds a label deleted."""

from __future__ import annotations

import json
import shutil
import sqlite3
import subprocess
import sys
from pathlib import Path
from typing import Any

import atgen_test_components as fakes
import pytest

from atgen_core.errors import StoreError
from atgen_core.loop import Experiment
from atgen_core.plugins import load_registry
from atgen_core.store import STORE_VERSION, RunLock, RunStore, lock_holder
from atgen_core.types import AnnotationResult

TESTS = Path(__file__).parent
ENV = {"PYTHONPATH": str(TESTS)}


@pytest.fixture(scope="module")
def registry():  # type: ignore[no-untyped-def]
    return load_registry(load_entrypoints=False, plugins=[("test-components", fakes)])


def make_spec(run_dir: Path, **loop: Any) -> dict[str, Any]:
    return {
        "name": "safety",
        "seed": 3,
        "data": {"source": {"name": "memory", "config": {"generate": 40, "topics": 8}}, "test_size": 8},
        "strategy": "test-random",
        "annotator": "counting-oracle",
        "trainer": "fake-trainer",
        "metrics": ["accuracy"],
        "loop": {"initial_size": 4, "query_size": 4, "iterations": 1, **loop},
        "output_dir": str(run_dir),
    }


def finish(spec: dict[str, Any], registry) -> list[tuple[str, int, str]]:  # type: ignore[no-untyped-def]
    with Experiment.from_spec(spec, registry=registry, progress=False) as experiment:
        experiment.run()
        return [(r.id, r.round, r.text) for r in experiment.store.labels()]


def cli(*args: str) -> subprocess.CompletedProcess[str]:
    import os

    return subprocess.run([sys.executable, "-m", "atgen_core", *args], capture_output=True, text=True,
                          env={**os.environ, **ENV}, timeout=120)


# -- schema version -------------------------------------------------------------------------------------


OLD_SCHEMA = """
CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE selections (round INTEGER NOT NULL, rank INTEGER NOT NULL, id TEXT NOT NULL, strategy TEXT NOT NULL,
    created REAL NOT NULL, PRIMARY KEY (round, id));
CREATE TABLE attempts (round INTEGER NOT NULL, id TEXT NOT NULL, status TEXT NOT NULL, text TEXT NOT NULL,
    annotator TEXT NOT NULL, cost REAL NOT NULL, seconds REAL NOT NULL, error TEXT, meta TEXT NOT NULL,
    created REAL NOT NULL, PRIMARY KEY (round, id));
INSERT INTO selections VALUES (0, 0, 'a', 'random-initial', 1.0);
INSERT INTO attempts VALUES (0, 'a', 'ok', 'label a', 'oracle', 0.5, 0.1, NULL, '{}', 2.0);
"""


def test_a_store_without_version_is_migrated_and_keeps_its_rows(tmp_path: Path) -> None:
    con = sqlite3.connect(tmp_path / "atgen.sqlite")
    con.executescript(OLD_SCHEMA)
    con.close()
    store = RunStore(tmp_path)
    try:
        assert store.version() == STORE_VERSION
        assert store.selection(0) == ["a"] and store.drafts(0) == {}
        assert [(a["id"], a["text"], a["cost"]) for a in store.attempt_log()] == [("a", "label a", 0.5)]
        store.save_selection(1, ["b"], "s", {"b": "draft b"})
        assert store.drafts(1) == {"b": "draft b"}
    finally:
        store.close()


def test_a_store_from_a_newer_atgen_is_refused_untouched(tmp_path: Path) -> None:
    con = sqlite3.connect(tmp_path / "atgen.sqlite")
    con.execute("CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT NOT NULL)")
    con.execute(f"PRAGMA user_version = {STORE_VERSION + 1}")
    con.commit()
    con.close()
    before = (tmp_path / "atgen.sqlite").read_bytes()
    for kwargs in ({}, {"read_only": True}):
        with pytest.raises(StoreError, match=rf"newer atgen \(store version {STORE_VERSION + 1}"):
            RunStore(tmp_path, **kwargs)
    assert (tmp_path / "atgen.sqlite").read_bytes() == before


def test_every_annotation_attempt_is_kept_in_the_log(tmp_path: Path) -> None:
    store = RunStore(tmp_path)
    try:
        store.record_result(0, AnnotationResult(id="x", status="failed", error="timeout"), "llm")
        store.record_result(0, AnnotationResult(id="x", status="ok", text="label", cost=0.2), "llm")
        assert [a["status"] for a in store.attempts()] == ["ok"]
        assert [(a["id"], a["status"], a["cost"]) for a in store.attempt_log()] == [
            ("x", "failed", 0.0), ("x", "ok", 0.2)]
    finally:
        store.close()


# -- damaged stores -------------------------------------------------------------------------------------


def test_an_empty_store_is_never_restarted_over(tmp_path: Path, registry) -> None:  # type: ignore[no-untyped-def]
    run_dir = tmp_path / "run"
    finish(make_spec(run_dir), registry)
    labels = (run_dir / "labels.jsonl").read_text()
    (run_dir / "atgen.sqlite").write_bytes(b"")
    spec_file = tmp_path / "spec.json"
    spec_file.write_text(json.dumps(make_spec(run_dir)))
    for args in (("resume", str(run_dir)), ("run", str(spec_file)), ("status", str(run_dir))):
        proc = cli(*args, *(["-p", "atgen_test_components", "-q"] if args[0] != "status" else []))
        assert proc.returncode == 2, proc.stderr
        assert "0 bytes" in proc.stderr and "Traceback" not in proc.stderr
    assert (run_dir / "atgen.sqlite").stat().st_size == 0
    assert (run_dir / "labels.jsonl").read_text() == labels


def test_a_store_damaged_mid_file_is_a_clear_error(tmp_path: Path, registry) -> None:  # type: ignore[no-untyped-def]
    run_dir = tmp_path / "run"
    finish(make_spec(run_dir), registry)
    db = run_dir / "atgen.sqlite"
    data = bytearray(db.read_bytes())
    page = 4096
    assert len(data) > 4 * page
    data[2 * page: 4 * page] = b"\xff" * (2 * page)
    db.write_bytes(bytes(data))
    proc = cli("resume", str(run_dir), "-p", "atgen_test_components", "-q")
    assert proc.returncode == 2 and "Traceback" not in proc.stderr, proc.stderr
    assert "run store" in proc.stderr and "left as it is" in proc.stderr
    assert db.read_bytes() == bytes(data)


# -- set-up that failed ---------------------------------------------------------------------------------


def test_a_run_that_never_started_is_taken_over_by_the_corrected_spec(tmp_path: Path, registry,  # type: ignore[no-untyped-def]
                                                                      caplog: pytest.LogCaptureFixture) -> None:
    run_dir = tmp_path / "run"
    first = make_spec(run_dir)
    Experiment.from_spec(first, registry=registry, progress=False).close()  # set-up only, no step
    corrected = make_spec(run_dir)
    corrected["data"]["source"]["config"]["generate"] = 30
    with caplog.at_level("WARNING", logger="atgen"):
        labels = finish(corrected, registry)
    assert "never got past its set-up" in caplog.text and "takes it over" in caplog.text
    assert len(labels) == 8
    store = RunStore(run_dir, read_only=True)
    try:
        assert len(store.load_examples("pool")) == 30 - 8
        assert json.loads(store.get_meta("spec") or "{}")["data"]["source"]["config"]["generate"] == 30
    finally:
        store.close()


def test_a_started_run_of_another_spec_is_refused_before_anything_is_touched(tmp_path: Path, registry) -> None:  # type: ignore[no-untyped-def]
    run_dir = tmp_path / "run"
    finish(make_spec(run_dir), registry)
    other = make_spec(run_dir)
    other["seed"] = 4
    before = {p.name: p.stat().st_mtime_ns for p in run_dir.iterdir()}
    with pytest.raises(StoreError, match="holds a run of a different spec"):
        Experiment.from_spec(other, registry=registry, progress=False)
    assert {p.name: p.stat().st_mtime_ns for p in run_dir.iterdir()} == before


def test_a_directory_claimed_by_a_failed_set_up_is_released(tmp_path: Path, registry,  # type: ignore[no-untyped-def]
                                                            monkeypatch: pytest.MonkeyPatch) -> None:
    run_dir = tmp_path / "deep" / "run"

    def broken(self: Any, config: Any = None) -> Any:
        raise RuntimeError("trainer cannot start")

    monkeypatch.setattr(fakes.FakeTrainer, "__init__", broken)
    with pytest.raises(RuntimeError, match="trainer cannot start"):
        Experiment.from_spec(make_spec(run_dir), registry=registry, progress=False)
    assert not run_dir.exists() and not (tmp_path / "deep").exists()


# -- moved, copied, missing adapters --------------------------------------------------------------------


def test_a_moved_run_directory_resumes_with_its_own_adapters(tmp_path: Path, registry) -> None:  # type: ignore[no-untyped-def]
    finish(make_spec(tmp_path / "a"), registry)
    shutil.copytree(tmp_path / "a", tmp_path / "copy")
    (tmp_path / "a").rename(tmp_path / "moved")
    for where in ("moved", "copy"):
        labels = finish(make_spec(tmp_path / where, iterations=2), registry)
        assert len(labels) == 12
        store = RunStore(tmp_path / where, read_only=True)
        try:
            adapter = (store.step_done(2, "train") or {})["adapter"]
            assert adapter == "adapters/round-2" and (tmp_path / where / adapter / "known.json").exists()
        finally:
            store.close()


def test_a_deleted_latest_adapter_is_retrained_and_an_older_one_is_a_clear_error(tmp_path: Path, registry,  # type: ignore[no-untyped-def]
                                                                              caplog: pytest.LogCaptureFixture) -> None:
    run_dir = tmp_path / "run"
    finish(make_spec(run_dir), registry)
    known = (run_dir / "adapters" / "round-1" / "known.json").read_text()
    shutil.rmtree(run_dir / "adapters" / "round-1")
    with caplog.at_level("WARNING", logger="atgen"):
        assert len(finish(make_spec(run_dir, iterations=2), registry)) == 12
    assert "round 1: the trained model" in caplog.text
    assert (run_dir / "adapters" / "round-1" / "known.json").read_text() == known  # the same model again
    # A crash after round 3's labels but before its training: round 3 trains on top of round 2's model,
    # which cannot be retrained any more (later labels exist). That is a clear error, not a traceback.
    store = RunStore(run_dir)
    try:
        pool = [e.id for e in store.load_examples("pool") if e.id not in store.selected_ids()][:4]
        store.save_selection(3, pool, "test-random")
        for id_ in pool:
            store.record_result(3, AnnotationResult(id=id_, status="ok", text="label"), "counting-oracle")
    finally:
        store.close()
    shutil.rmtree(run_dir / "adapters" / "round-2")
    spec_file = tmp_path / "spec.json"
    spec_file.write_text(json.dumps(make_spec(run_dir, iterations=3)))
    proc = cli("run", str(spec_file), "-p", "atgen_test_components", "-q")
    assert proc.returncode == 2 and "Traceback" not in proc.stderr, proc.stderr
    assert "the model trained in round 2 is missing" in proc.stderr
    status = cli("status", str(run_dir))
    assert "status: stopped: the model trained in round 2 is missing" in status.stdout


# -- status ---------------------------------------------------------------------------------------------


def test_status_tells_a_live_run_from_a_dead_one(tmp_path: Path, registry) -> None:  # type: ignore[no-untyped-def]
    run_dir = tmp_path / "run"
    finish(make_spec(run_dir), registry)
    store = RunStore(run_dir)
    store.set_meta("status", "running")  # what a killed process leaves behind
    store.close()
    assert lock_holder(run_dir) is None
    dead = cli("status", str(run_dir))
    assert dead.returncode == 0 and "the process that ran it is gone" in dead.stdout
    lock = RunLock(run_dir)
    lock.acquire()
    try:
        import os

        assert lock_holder(run_dir) == os.getpid()
        live = cli("status", str(run_dir))
        assert f"status: running (process {os.getpid()})" in live.stdout
    finally:
        lock.release()


# -- console, signals, threads --------------------------------------------------------------------------


def test_quiet_runs_print_no_step_log_even_when_the_root_logger_is_configured(tmp_path: Path) -> None:
    spec_file = tmp_path / "spec.json"
    spec_file.write_text(json.dumps(make_spec(tmp_path / "run")))
    code = ("import logging, sys; logging.basicConfig(level=logging.INFO); from atgen_core.cli import main; "
            f"sys.exit(main(['run', {str(spec_file)!r}, '-p', 'atgen_test_components', '-q']))")
    import os

    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          env={**os.environ, **ENV}, timeout=120)
    assert proc.returncode == 0, proc.stderr
    assert "INFO" not in proc.stderr and "selected" not in proc.stderr, proc.stderr
    assert "round 1: selected 4 items" in (tmp_path / "run" / "run.log").read_text()


def test_sigterm_stops_a_run_cleanly_and_it_resumes(tmp_path: Path) -> None:
    import os
    import signal
    import time

    spec = make_spec(tmp_path / "run")
    spec["trainer"] = {"name": "fake-trainer", "config": {"log_file": str(tmp_path / "train.log")}}
    spec["loop"]["iterations"] = 3
    spec_file = tmp_path / "spec.json"
    spec_file.write_text(json.dumps(spec))
    slow = ("import sys, time, atgen_test_components as f\n"
            "orig = f.FakeTrainer.train\n"
            "def slow(self, ctx):\n    time.sleep(0.5)\n    return orig(self, ctx)\n"
            "f.FakeTrainer.train = slow\n"
            "from atgen_core.cli import main\n"
            f"sys.exit(main(['run', {str(spec_file)!r}, '-p', 'atgen_test_components', '-q']))")
    proc = subprocess.Popen([sys.executable, "-c", slow], env={**os.environ, **ENV}, text=True,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    deadline = time.time() + 60
    while not (tmp_path / "train.log").exists() and time.time() < deadline:
        time.sleep(0.05)
    proc.send_signal(signal.SIGTERM)
    _, err = proc.communicate(timeout=60)
    assert proc.returncode == 130 and "interrupted (SIGTERM)" in err and "Traceback" not in err, err
    assert lock_holder(tmp_path / "run") is None
    status = cli("status", str(tmp_path / "run"))
    assert "the process that ran it is gone" in status.stdout
    resume = cli("resume", str(tmp_path / "run"), "-p", "atgen_test_components", "-q")
    assert resume.returncode == 0, resume.stderr
    store = RunStore(tmp_path / "run", read_only=True)
    try:
        assert len(store.labels()) == 16
    finally:
        store.close()


def test_a_changed_torch_thread_count_is_recorded_and_warned_about(tmp_path: Path, registry,  # type: ignore[no-untyped-def]
                                                                    monkeypatch: pytest.MonkeyPatch,
                                                                    caplog: pytest.LogCaptureFixture) -> None:
    import types

    fake_torch = types.SimpleNamespace(get_num_threads=lambda: 4)
    monkeypatch.setitem(sys.modules, "torch", fake_torch)
    finish(make_spec(tmp_path / "run"), registry)
    store = RunStore(tmp_path / "run", read_only=True)
    assert store.get_meta("torch_threads") == "4"
    store.close()
    fake_torch.get_num_threads = lambda: 2
    with caplog.at_level("WARNING", logger="atgen"):
        finish(make_spec(tmp_path / "run", iterations=2), registry)
    assert "trained with 4 torch threads and now runs with 2" in caplog.text


def test_resuming_a_run_that_never_started_points_at_atgen_run(tmp_path: Path, registry) -> None:  # type: ignore[no-untyped-def]
    run_dir = tmp_path / "run"
    spec = make_spec(run_dir)
    Experiment.from_spec(spec, registry=registry, progress=False).close()
    store = RunStore(run_dir)
    stored = json.loads(store.get_meta("spec") or "{}")
    stored["strategy"]["name"] = "gone-strategy"
    store.set_meta("spec", json.dumps(stored))
    store.close()
    proc = cli("resume", str(run_dir), "-p", "atgen_test_components", "-q")
    assert proc.returncode == 2 and "Traceback" not in proc.stderr
    assert "unknown strategy" in proc.stderr and "never got past its set-up" in proc.stderr


def test_a_started_run_resumes_although_its_data_files_are_gone(tmp_path: Path) -> None:
    pytest.importorskip("atgen_basics")
    data = tmp_path / "data.jsonl"
    data.write_text("".join(json.dumps({"input": f"topic {i % 5} q{i}", "target": f"answer {i % 5}"}) + "\n"
                            for i in range(30)))
    spec = make_spec(tmp_path / "run")
    spec["data"] = {"source": {"name": "files", "config": {"train": str(data)}}, "test_size": 6}
    spec_file = tmp_path / "spec.json"
    spec_file.write_text(json.dumps(spec))
    first = cli("run", str(spec_file), "-p", "atgen_test_components", "-q")
    assert first.returncode == 0, first.stderr
    data.unlink()  # the run stores its pool and test set: the file is no longer needed
    spec["loop"]["iterations"] = 2
    spec_file.write_text(json.dumps(spec))
    again = cli("run", str(spec_file), "-p", "atgen_test_components", "-q")
    assert again.returncode == 0, again.stderr
    assert "labels: 12" in again.stdout


def test_status_reads_a_run_in_a_read_only_folder(tmp_path: Path, registry,  # type: ignore[no-untyped-def]
                                                  monkeypatch: pytest.MonkeyPatch,
                                                  capsys: pytest.CaptureFixture[str]) -> None:
    from atgen_core.cli import main

    run_dir = tmp_path / "run"
    finish(make_spec(run_dir), registry)
    real_connect = sqlite3.connect

    def read_only_folder(target: Any, *args: Any, **kwargs: Any) -> sqlite3.Connection:
        # What SQLite says when a WAL store's -shm file cannot be created in a read-only folder.
        if "mode=ro" in str(target):
            raise sqlite3.OperationalError("unable to open database file")
        return real_connect(target, *args, **kwargs)

    monkeypatch.setattr(sqlite3, "connect", read_only_folder)
    before = sorted(p.name for p in run_dir.iterdir())
    assert main(["status", str(run_dir)]) == 0
    out = capsys.readouterr().out
    assert "labels: 8" in out and "status: finished: iterations done" in out
    assert sorted(p.name for p in run_dir.iterdir()) == before
