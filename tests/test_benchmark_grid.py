"""`atgen benchmark`: validation, dry run, benchmark.json, locked cells, parallel cells, threads, shared round 0."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import atgen_test_components as fakes
import pytest

from atgen_core.annotation import RunAnnotationStore
from atgen_core.bench import runner
from atgen_core.bench.calibrate import Calibration, cell_seconds
from atgen_core.bench.grid import BenchmarkError, label_schedule
from atgen_core.bench.plan import dry_run
from atgen_core.bench.runner import apply_threads, default_threads, record_benchmark_json, run_benchmark, run_cell
from atgen_core.bench.validate import validate_benchmark
from atgen_core.errors import SpecError
from atgen_core.plugins import load_registry
from atgen_core.spec import ExperimentSpec
from atgen_core.store import RunLock, RunStore
from atgen_core.types import Requirements

TESTS = Path(__file__).parent


@pytest.fixture
def registry() -> Any:
    return load_registry(load_entrypoints=False, plugins=[("test-components", fakes)])


def write_bench(tmp_path: Path, *, loop: dict[str, Any] | None = None, strategies: list[Any] | None = None,
                seeds: list[int] | None = None, base: dict[str, Any] | None = None, **extra: Any) -> Path:
    spec = {
        "name": "base",
        "data": {"source": {"name": "memory", "config": {"generate": 60, "topics": 12}}, "test_size": 12},
        "annotator": {"name": "counting-oracle", "config": {"log_file": str(tmp_path / "requests.log")}},
        "trainer": {"name": "fake-trainer", "config": {"log_file": str(tmp_path / "train.log")}},
        "metrics": ["accuracy"],
        "strategy": "test-random",
        "loop": loop or {"initial_size": 4, "query_size": 4, "iterations": 2},
        **(base or {}),
    }
    (tmp_path / "base.json").write_text(json.dumps(spec))
    bench = {
        "name": "tiny",
        "base": "base.json",
        "strategies": strategies
        or [{"name": "test-random", "label": "random"}, {"name": "warm-only", "label": "first"}],
        "seeds": seeds or [1],
        "output_dir": str(tmp_path / "bench"),
        **extra,
    }
    path = tmp_path / "bench.json"
    path.write_text(json.dumps(bench))
    return path


def cli(*args: str, timeout: float = 300) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "PYTHONPATH": str(TESTS)}
    return subprocess.run([sys.executable, "-m", "atgen_core", *args, "-p", "atgen_test_components"],
                          capture_output=True, text=True, env=env, timeout=timeout)


def train_log(tmp_path: Path) -> list[dict[str, Any]]:
    return [json.loads(line) for line in (tmp_path / "train.log").read_text().splitlines()]


def snapshot(folder: Path) -> dict[str, float]:
    return {str(p.relative_to(folder)): p.stat().st_mtime for p in folder.rglob("*")} if folder.exists() else {}


# -- 1. validate ----------------------------------------------------------------------------------------


def test_validate_accepts_a_benchmark_spec_and_describes_the_grid(tmp_path: Path) -> None:
    proc = cli("validate", str(write_bench(tmp_path, seeds=[1, 2])))
    assert proc.returncode == 0, proc.stderr
    assert "valid benchmark 'tiny': 2 strategies x 2 seeds = 4 cells" in proc.stdout
    assert "trainer=fake-trainer" in proc.stdout and "labels per round 4/8/12" in proc.stdout
    assert not (tmp_path / "bench").exists()


def test_validate_reports_benchmark_problems_where_the_user_fixes_them(tmp_path: Path) -> None:
    path = write_bench(tmp_path, strategies=["random-typo", {"name": "test-random", "config": {"bogus": 1}},
                                             "warm-only"], base={"data": {"source": "memory"}})
    raw = json.loads(path.read_text())
    raw["seed"] = raw.pop("seeds")
    path.write_text(json.dumps(raw))
    proc = cli("validate", str(path))
    assert proc.returncode == 2 and "Traceback" not in proc.stderr
    assert "seeds: Field required" in proc.stderr
    assert "seed: unknown key; did you mean 'seeds'?" in proc.stderr
    assert "data: Field required" not in proc.stderr and "base: unknown key" not in proc.stderr

    raw["seeds"] = raw.pop("seed")
    path.write_text(json.dumps(raw))
    proc = cli("validate", str(path))
    assert proc.returncode == 2
    lines = proc.stderr.splitlines()
    assert any(line.startswith("  strategies[0].name: unknown strategy") for line in lines), proc.stderr
    assert any(line.startswith("  strategies[1].config.bogus: unknown key") for line in lines), proc.stderr
    # A problem of the base spec is reported once, against the base file, not once per cell.
    assert sum("base.json data.test_size: no test set" in line for line in lines) == 1, proc.stderr


def test_a_strategy_specific_problem_names_its_entry(tmp_path: Path, registry: Any) -> None:
    path = write_bench(tmp_path, loop={"mode": "design", "initial_size": 4})
    with pytest.raises(Exception) as info:
        validate_benchmark(path, registry)
    rendered = str(info.value)
    assert "base.json loop.mode (with strategy first): strategy 'warm-only' cannot pick" in rendered


def test_a_problem_of_the_environment_stops_the_grid_before_any_cell_starts(
    tmp_path: Path, registry: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    # As a data path with an unset ${VAR}: before, each cell started, failed after a second, and the next
    # cell did the same, once per cell.
    monkeypatch.delenv("ATGEN_TEST_DATA_VAR", raising=False)
    path = write_bench(tmp_path, seeds=[1, 2], base={"data": {
        "source": {"name": "memory", "config": {"generate": 60, "topics": 12, "require_env": "ATGEN_TEST_DATA_VAR"}},
        "test_size": 12}})
    with pytest.raises(SpecError) as info:
        run_benchmark(path, registry=registry, progress=False)
    lines = str(info.value).splitlines()
    problem = [line for line in lines if "environment variable ATGEN_TEST_DATA_VAR is not set" in line]
    # Reported once, against the base spec (every cell reads the same data), not against a strategy.
    assert len(problem) == 1 and "base.json data.source.config.require_env" in problem[0], lines
    assert not (tmp_path / "bench").exists() and not (tmp_path / "train.log").exists()
    # The spec alone is fine: checking without the environment passes.
    assert len(validate_benchmark(path, registry, environment=False).cells) == 4

    monkeypatch.setenv("ATGEN_TEST_DATA_VAR", "set")
    run_benchmark(path, registry=registry, progress=False)
    assert len(train_log(tmp_path)) > 0


# -- 2. dry run -----------------------------------------------------------------------------------------


# The spec model requires these (specs that leave them out get the declared defaults before validation).
PLAIN_COMPONENTS = {"annotator": "a", "trainer": "t", "metrics": ["m"]}


def test_label_schedule_reads_the_loop_generically() -> None:
    plain = ExperimentSpec.model_validate({"name": "x", "data": {}, "strategy": "s", **PLAIN_COMPONENTS,
                                           "loop": {"initial_size": 4, "query_size": 8, "iterations": 3}}).loop
    assert label_schedule(plain) == [4, 12, 20, 28]
    assert label_schedule(plain, pool_size=15) == [4, 12, 15]
    doubling = SimpleNamespace(mode="iterative", schedule=[16, 32, 64, 128], budget=SimpleNamespace(labels=None),
                               initial_size=16, query_size=16, iterations=3)
    assert label_schedule(doubling) == [16, 32, 64, 128]  # type: ignore[arg-type]
    assert label_schedule(doubling, pool_size=100) == [16, 32, 64, 100]  # type: ignore[arg-type]


def test_cell_estimate_follows_the_documented_formula() -> None:
    cal = Calibration(load=2.0, train_fixed=0.5, per_train_example=1.0, per_prompt=0.1, per_metric_example=0.0,
                      per_embedded_text=0.0, pool_size=100, test_size=10, train_examples=4, prompts=4)
    spec = ExperimentSpec.model_validate({"name": "x", "data": {}, "strategy": "s", **PLAIN_COMPONENTS})
    needs_outputs = Requirements(generations=True)
    # base: 2 + 10 x 0.1; round 0: 0.5 + 4 + 1; round 1: 0.5 + 8 + 1 + 96 x 0.1; round 2: 0.5 + 12 + 1 + 92 x 0.1
    full = cell_seconds(cal, spec, needs_outputs, [4, 8, 12], rounds_done=0, base_done=False, round0_shared=False)
    assert full == pytest.approx(3 + 5.5 + 19.1 + 22.7)
    shared = cell_seconds(cal, spec, needs_outputs, [4, 8, 12], rounds_done=0, base_done=True, round0_shared=True)
    assert shared == pytest.approx(19.1 + 22.7)
    no_signals = cell_seconds(cal, spec, Requirements(), [4, 8, 12], rounds_done=2, base_done=True,
                              round0_shared=True)
    assert no_signals == pytest.approx(13.5)


def test_dry_run_shows_each_cells_state_and_an_estimate_without_writing(tmp_path: Path, registry: Any) -> None:
    path = write_bench(tmp_path, seeds=[1, 2])
    valid = validate_benchmark(path, registry)
    assert run_cell(valid, 0, progress=False) == "finished"
    from atgen_core.loop import Experiment

    with Experiment(valid.resolved[3], valid.cells[3].run_dir, progress=False) as partial:
        partial.query(), partial.annotate(), partial.train(), partial.evaluate()
    before = snapshot(tmp_path / "bench")
    trained_before = len(train_log(tmp_path))
    text = dry_run(path, registry, jobs=2, threads=1)
    assert snapshot(tmp_path / "bench") == before  # nothing written into the benchmark directory
    rows = {tuple(line.split()[:2]): line for line in text.splitlines() if line.startswith(("random", "first"))}
    assert "finished" in rows[("random", "1")] and "4/8/12" in rows[("random", "1")]
    assert "partial: 1/3 rounds, 4 labels" in rows[("first", "2")]
    assert "not started" in rows[("first", "1")] and "not started" in rows[("random", "2")]
    assert "1 finished, 1 partial, 2 not started; 2 at a time, 1 thread(s) each" in text
    assert "estimate:" in text and "wall time with --jobs 2" in text
    calls = train_log(tmp_path)[trained_before:]
    assert [c["n"] for c in calls] == [2, 6]  # calibration trained twice, on a handful of referenced examples


def test_dry_run_cli_without_calibration(tmp_path: Path) -> None:
    proc = cli("benchmark", "--dry-run", "--no-calibration", str(write_bench(tmp_path)))
    assert proc.returncode == 0, proc.stderr
    assert "2 not started" in proc.stdout and "estimate" not in proc.stdout
    assert not (tmp_path / "bench").exists() and not (tmp_path / "train.log").exists()


# -- 3. benchmark.json, locks, jobs, threads ----------------------------------------------------------


def test_benchmark_json_is_written_once_extended_and_never_overwritten(tmp_path: Path, registry: Any) -> None:
    valid = validate_benchmark(write_bench(tmp_path), registry)
    root = tmp_path / "bench"
    root.mkdir()
    record_benchmark_json(root, valid.bench)
    first = (root / "benchmark.json").read_text()
    record_benchmark_json(root, valid.bench)
    assert (root / "benchmark.json").read_text() == first
    more = validate_benchmark(write_bench(tmp_path, seeds=[3]), registry).bench
    record_benchmark_json(root, more)
    assert json.loads((root / "benchmark.json").read_text())["seeds"] == [1, 3]
    other = validate_benchmark(write_bench(tmp_path, budgets=[4], strategies=["test-random"]), registry).bench
    with pytest.raises(BenchmarkError, match=r"records a different benchmark \(differs in: budgets\)"):
        record_benchmark_json(root, other)
    assert json.loads((root / "benchmark.json").read_text())["seeds"] == [1, 3]
    assert sorted(p.name for p in root.iterdir()) == [".benchmark.lock", "benchmark.json"]  # no temp files left


def test_a_cell_locked_by_another_process_is_skipped_then_waited_for(
    tmp_path: Path, registry: Any, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    path = write_bench(tmp_path)
    held = RunLock(tmp_path / "bench" / "random" / "seed-1")
    held.acquire()
    waits: list[float] = []

    def sleep(seconds: float) -> None:  # the other process finishes while the benchmark waits for it
        waits.append(seconds)
        held.release()

    monkeypatch.setattr(runner, "time", SimpleNamespace(perf_counter=time.perf_counter, sleep=sleep))
    caplog.set_level("INFO", logger="atgen")
    try:
        run_benchmark(path, registry=registry, progress=False)
    finally:
        held.release()
    assert waits == [runner.POLL_SECONDS]
    assert "random seed 1: running elsewhere" in caplog.text
    assert "is running elsewhere: waiting for it" in caplog.text
    for label in ("random", "first"):
        store = RunStore(tmp_path / "bench" / label / "seed-1", create=False)
        assert (store.get_meta("status") or "").startswith("finished")
        store.close()


def test_cells_run_in_parallel_worker_processes(tmp_path: Path, registry: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PYTHONPATH", str(TESTS))
    path = write_bench(tmp_path, seeds=[1, 2])
    root = run_benchmark(path, registry=registry, progress=False, jobs=2, threads=1,
                         plugins=["atgen_test_components"])
    calls = train_log(tmp_path)
    assert {c["threads"] for c in calls} == {"1"} and os.getpid() not in {c["pid"] for c in calls}
    assert len({c["pid"] for c in calls}) == 4  # one worker process per cell
    assert sorted(c["round"] for c in calls) == [0, 0, 1, 1, 1, 1, 2, 2, 2, 2]  # round 0 once per seed
    assert len((tmp_path / "requests.log").read_text().split()) == 2 * 4 + 4 * 8
    assert len(list((root / "logs").glob("*.log"))) == 4


def test_a_user_error_in_one_cell_stops_the_grid_instead_of_repeating_in_every_cell(
    tmp_path: Path, registry: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("PYTHONPATH", str(TESTS))
    path = write_bench(tmp_path, seeds=[1, 2, 3], base={"trainer": {"name": "fake-trainer", "config": {
        "log_file": str(tmp_path / "train.log"), "user_error": "the API rejected the key"}}})
    with pytest.raises(BenchmarkError) as info:
        run_benchmark(path, registry=registry, progress=False, jobs=2, threads=1, plugins=["atgen_test_components"])
    message = str(info.value)
    # The two cells that were running fail with the reason from their log; the other four never start.
    assert message.count("failed with a user error (exit 2: the API rejected the key; see ") == 2, message
    assert "not started after that user error:" in message, message
    assert len(train_log(tmp_path)) == 2


def test_two_benchmark_processes_on_one_grid_share_the_work(tmp_path: Path) -> None:
    path = write_bench(tmp_path, seeds=[1, 2])
    env = {**os.environ, "PYTHONPATH": str(TESTS)}
    command = [sys.executable, "-m", "atgen_core", "benchmark", str(path), "-p", "atgen_test_components", "-q",
               "--no-report"]
    procs = [subprocess.Popen(command, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
             for _ in range(2)]
    outputs = [p.communicate(timeout=300) for p in procs]
    assert [p.returncode for p in procs] == [0, 0], outputs
    # Every cell ran once: round 0 trained once per seed, later rounds once per cell; nothing labelled twice.
    assert sorted(c["round"] for c in train_log(tmp_path)) == [0, 0, 1, 1, 1, 1, 2, 2, 2, 2]
    assert len((tmp_path / "requests.log").read_text().split()) == 2 * 4 + 4 * 8
    assert json.loads((tmp_path / "bench" / "benchmark.json").read_text())["seeds"] == [1, 2]


def test_threads_default_to_cores_per_job_and_reach_torch(monkeypatch: pytest.MonkeyPatch) -> None:
    cores = len(os.sched_getaffinity(0))
    assert default_threads(1) == cores and default_threads(cores * 2) == 1
    calls: list[int] = []
    monkeypatch.setitem(sys.modules, "torch", SimpleNamespace(set_num_threads=calls.append))
    for var in ("OMP_NUM_THREADS", "MKL_NUM_THREADS"):
        monkeypatch.setenv(var, "9")
    apply_threads(3)
    assert calls == [3] and os.environ["OMP_NUM_THREADS"] == "3" and os.environ["MKL_NUM_THREADS"] == "3"


# -- 4. shared round 0 ----------------------------------------------------------------------------------


def round0(run_dir: Path) -> dict[str, Any]:
    store = RunStore(run_dir, create=False)
    try:
        return {
            "selection": store.selection(0),
            "labels": [(r.id, r.text, r.annotator) for r in store.labels() if r.round == 0],
            "metrics": [(r, n, v) for r, n, v in store.metrics() if r <= 0],
            "generations": store.generations(0),
            "train": store.step_done(0, "train"),
            "attempts": {i: {"cost": a.cost, "meta": dict(a.meta)}
                         for i, a in RunAnnotationStore(store).answers(0).items()},
            "spent": store.spent(),
        }
    finally:
        store.close()


def test_round_zero_is_computed_once_per_seed_and_imported_by_the_other_strategies(
    tmp_path: Path, registry: Any
) -> None:
    path = write_bench(tmp_path, base={"annotator": {"name": "counting-oracle", "config": {
        "log_file": str(tmp_path / "requests.log"), "price": 0.5}}})
    root = run_benchmark(path, registry=registry, progress=False)
    first, second = round0(root / "random" / "seed-1"), round0(root / "first" / "seed-1")
    for key in ("selection", "labels", "metrics", "generations"):
        assert first[key] == second[key], key
    assert len(first["selection"]) == 4 and first["metrics"][1][1] == 4  # round 0 evaluated at 4 labels
    assert sorted(c["round"] for c in train_log(tmp_path)) == [0, 1, 1, 2, 2]  # round 0 trained once
    # The imported labels were paid once, by the first cell: recorded as imported, at no cost here.
    assert all(a["cost"] == 0.0 and a["meta"]["imported_from"] == str(root / "random" / "seed-1")
               and a["meta"]["source_cost"] == 0.5 for a in second["attempts"].values())
    assert first["spent"] == (12, 6.0) and second["spent"] == (12, 4.0)
    adapter = root / "first" / "seed-1" / second["train"]["adapter"]  # stored relative to the run directory
    assert adapter == root / "first" / "seed-1" / "adapters" / "round-0" and (adapter / "known.json").is_file()
    assert (root / "first" / "seed-1" / "generations" / "round-0.jsonl").is_file()


def test_a_finished_cell_carried_over_without_adapters_shares_nothing_and_the_grid_goes_on(
    tmp_path: Path, registry: Any
) -> None:
    # scripts/grid_archive.py moves only the stores of finished cells to another machine.
    import shutil

    path = write_bench(tmp_path, strategies=[{"name": "test-random", "label": "random"}])
    root = run_benchmark(path, registry=registry, progress=False)
    shutil.rmtree(root / "random" / "seed-1" / "adapters")
    shutil.rmtree(root / "shared")
    path = write_bench(tmp_path, strategies=[{"name": "test-random", "label": "random"},
                                             {"name": "warm-only", "label": "first"}])
    run_benchmark(path, registry=registry, progress=False)
    shared = next(p for p in (root / "shared").glob("seed-1-*") if p.is_dir()) / "round-0"
    # What is shared now came from the cell that had its adapter, never from the adapter-less store.
    assert json.loads((shared / "round0.json").read_text())["source"] == str(root / "first" / "seed-1")
    assert (shared / "adapter" / "known.json").is_file()
    # The new cell trained its own round 0 (the first run trained rounds 0-2) and finished.
    assert sorted(c["round"] for c in train_log(tmp_path)) == [0, 0, 1, 1, 2, 2]
    assert round0(root / "first" / "seed-1")["selection"] == round0(root / "random" / "seed-1")["selection"]
    store = RunStore(root / "first" / "seed-1", create=False)
    assert (store.get_meta("status") or "").startswith("finished")
    store.close()


def test_a_second_pass_says_which_cells_had_already_finished(
    tmp_path: Path, registry: Any, caplog: pytest.LogCaptureFixture
) -> None:
    path = write_bench(tmp_path)
    run_benchmark(path, registry=registry, progress=False)
    caplog.clear()
    with caplog.at_level("INFO", logger="atgen"):
        run_benchmark(path, registry=registry, progress=False)
    lines = [r.getMessage() for r in caplog.records if r.getMessage().startswith("[")]
    assert lines == ["[1/2] random seed 1: already finished", "[2/2] first seed 1: already finished"]
    assert sorted(c["round"] for c in train_log(tmp_path)) == [0, 1, 1, 2, 2]  # nothing trained again


def test_round_zero_is_not_shared_when_the_strategy_picks_it(tmp_path: Path, registry: Any) -> None:
    path = write_bench(tmp_path, loop={"start": "cold", "initial_size": 4, "query_size": 4, "iterations": 1},
                       strategies=[{"name": "test-random", "label": "a"},
                                   {"name": "test-random", "label": "b", "config": {"crash_round": 5}}])
    root = run_benchmark(path, registry=registry, progress=False)
    assert sorted(c["round"] for c in train_log(tmp_path)) == [0, 0, 1, 1]
    assert round0(root / "b" / "seed-1")["metrics"][0][0] == -1  # the untrained evaluation is still shared
    store = RunStore(root / "b" / "seed-1", create=False)
    assert store.step_done(-1, "evaluate") == {"imported": True}
    store.close()


def test_round_zero_is_not_shared_under_a_money_budget(tmp_path: Path, registry: Any) -> None:
    path = write_bench(tmp_path, loop={"initial_size": 4, "query_size": 4, "iterations": 1, "budget": {"money": 100}},
                       base={"annotator": {"name": "counting-oracle", "config": {"price": 0.5}}})
    root = run_benchmark(path, registry=registry, progress=False)
    assert sorted(c["round"] for c in train_log(tmp_path)) == [0, 0, 1, 1]
    assert round0(root / "first" / "seed-1")["spent"] == (8, 4.0)  # each strategy paid for its own first batch


def test_an_adapter_saved_in_a_subfolder_is_copied_with_its_layout_and_loads(
    tmp_path: Path, registry: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    from dataclasses import replace

    original = fakes.FakeTrainer.train

    def nested(self: Any, ctx: Any) -> Any:  # a trainer that saves into <output_dir>/adapter, like lora
        return original(self, replace(ctx, output_dir=ctx.output_dir / "adapter"))

    monkeypatch.setattr(fakes.FakeTrainer, "train", nested)
    path = write_bench(tmp_path, strategies=[{"name": "test-random", "label": "a"},
                                             {"name": "test-random", "label": "b", "config": {"crash_round": 9}}])
    root = run_benchmark(path, registry=registry, progress=False)
    imported = round0(root / "b" / "seed-1")
    assert imported["train"]["adapter"] == "adapters/round-0/adapter"  # relative to the run directory
    assert (root / "b" / "seed-1" / "adapters" / "round-0" / "adapter" / "known.json").is_file()
    # Round 1 scored its candidates with the model loaded from the imported adapter, and the run finished.
    store = RunStore(root / "b" / "seed-1", create=False)
    assert [r for r, _, _ in store.metrics()] == [-1, 0, 1, 2]
    assert (store.get_meta("status") or "").startswith("finished")
    store.close()
    assert sorted(c["round"] for c in train_log(tmp_path)) == [0, 1, 1, 2, 2]


def test_each_finished_cell_says_how_long_the_rest_of_the_grid_takes_at_this_pace(
    tmp_path: Path, registry: Any, caplog: pytest.LogCaptureFixture
) -> None:
    from atgen_core.bench.runner import _Pace

    pace = _Pace(cells=5, jobs=2)
    assert pace.done(60.0) == "; 4 cell(s) left, about 2 min at this pace"  # 60 s x ceil(4 / 2)
    assert pace.done(None) == "; 3 cell(s) left, about 2 min at this pace"  # finished before: no new timing
    assert pace.done(3000.0) == "; 2 cell(s) left, about 26 min at this pace"  # mean 1530 s x 1
    assert pace.done(12000.0) == "; 1 cell(s) left, about 1 h 24 min at this pace"  # mean 5020 s
    assert pace.done(1.0) == ""  # the last one
    with caplog.at_level("INFO", logger="atgen"):
        run_benchmark(write_bench(tmp_path), registry=registry, progress=False)
    done = [r.getMessage() for r in caplog.records if ": finished after " in r.getMessage()]
    assert len(done) == 2 and "1 cell(s) left, about " in done[0] and "left" not in done[1]
