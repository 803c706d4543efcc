"""`atgen benchmark` on a tiny grid of fake components, and the report's numbers against the stores."""

from __future__ import annotations

import json
import math
import os
import subprocess
import sys
from pathlib import Path

import atgen_test_components as fakes
import numpy as np
import pytest

from atgen_core.benchmark import run_benchmark
from atgen_core.plugins import load_registry
from atgen_core.report import aulc, build_report, labels_to_reach, sign_flip_pvalue
from atgen_core.store import RunStore

TESTS = Path(__file__).parent


def test_aulc_is_the_mean_level_of_the_curve() -> None:
    assert aulc([(0, 0.0), (10, 1.0)]) == pytest.approx(0.5)
    assert aulc([(0, 0.0), (10, 1.0), (20, 1.0)]) == pytest.approx(0.75)
    assert aulc([(5, 0.3)]) == 0.3


def test_labels_to_reach_interpolates_and_reports_never() -> None:
    assert labels_to_reach([(0, 0.0), (10, 0.4), (20, 0.8)], 0.6) == pytest.approx(15.0)
    assert labels_to_reach([(0, 0.0), (10, 0.4)], 0.9) is None


def test_sign_flip_pvalue_is_exact() -> None:
    assert sign_flip_pvalue([1.0, 1.0, 1.0]) == pytest.approx(2 / 8)
    assert sign_flip_pvalue([1.0, -1.0]) == pytest.approx(1.0)


def bench_spec(tmp_path: Path) -> Path:
    base = {
        "name": "base",
        "data": {"source": {"name": "memory", "config": {"generate": 60, "topics": 12}}, "test_size": 12},
        "annotator": {"name": "counting-oracle", "config": {"log_file": str(tmp_path / "requests.log")}},
        "trainer": "fake-trainer",
        "metrics": ["accuracy"],
        "strategy": "test-random",
        "loop": {"initial_size": 4, "query_size": 4, "iterations": 2},
    }
    (tmp_path / "base.json").write_text(json.dumps(base))
    bench = {
        "name": "tiny",
        "base": "base.json",
        "strategies": [{"name": "test-random", "label": "random"}, {"name": "warm-only", "label": "first"}],
        "seeds": [1, 2],
        "output_dir": str(tmp_path / "bench"),
    }
    path = tmp_path / "bench.json"
    path.write_text(json.dumps(bench))
    return path


def test_tiny_grid_end_to_end_and_report_numbers_match_the_stores(tmp_path: Path) -> None:
    registry = load_registry(load_entrypoints=False, plugins=[("test-components", fakes)])
    root = run_benchmark(bench_spec(tmp_path), registry=registry, progress=False)
    runs = {(label, seed): root / label / f"seed-{seed}" for label in ("random", "first") for seed in (1, 2)}
    finals: dict[tuple[str, int], float] = {}
    curves: dict[tuple[str, int], list[tuple[int, float]]] = {}
    for key, run_dir in runs.items():
        store = RunStore(run_dir, create=False)
        try:
            rows = store.metrics()
            curves[key] = [(n, v["accuracy"]) for _, n, v in rows]
            finals[key] = rows[-1][2]["accuracy"]
            assert [n for _, n, _ in rows] == [0, 4, 8, 12]
            base_info = store.step_done(-1, "evaluate")
            assert base_info is not None
            assert base_info.get("imported", False) == (key[0] == "first")  # computed once per seed
        finally:
            store.close()
    requests = (tmp_path / "requests.log").read_text().split()
    assert len(requests) == 4 * 12 - 2 * 4  # round 0 (4 labels) is annotated once per seed, then shared

    summary = build_report([root], tmp_path / "report")
    for label in ("random", "first"):
        m = summary["strategies"][label]["metrics"]["accuracy"]
        assert m["final"] == pytest.approx(np.mean([finals[(label, 1)], finals[(label, 2)]]))
        assert m["aulc"] == pytest.approx(np.mean([aulc(curves[(label, s)]) for s in (1, 2)]))
        assert m["labels"] == [0, 4, 8, 12]
    first = summary["strategies"]["first"]["metrics"]["accuracy"]
    diffs = [aulc(curves[("first", s)]) - aulc(curves[("random", s)]) for s in (1, 2)]
    assert first["aulc_diff_vs_random"] == pytest.approx(np.mean(diffs))
    assert first["p_value_sign_flip"] == pytest.approx(sign_flip_pvalue(diffs))
    random_mean = summary["strategies"]["random"]["metrics"]["accuracy"]["mean"]
    for b in first["vs_random"]["budgets"]:  # every budget after the untrained point
        j = first["labels"].index(b["labels"])
        assert b["random_mean"] == pytest.approx(random_mean[j])
        finals_at = [curves[("first", s)][j][1] - curves[("random", s)][j][1] for s in (1, 2)]
        assert b["diff"] == pytest.approx(np.mean(finals_at))
        if b["random_improved"]:
            reach = labels_to_reach(list(zip(first["labels"], first["mean"])), random_mean[j])
            assert b["labels_to_reach"] == (pytest.approx(reach) if reach is not None else None)
    assert [b["labels"] for b in first["vs_random"]["budgets"]] == [4, 8, 12]
    bias = summary["strategies"]["random"]["bias"]
    assert bias["selected_mean_words"] == pytest.approx(4.0)
    assert 0.0 <= bias.get("cluster_tv_distance", 0.0) <= 1.0  # present only with scikit-learn
    report = (tmp_path / "report" / "report.md").read_text()
    assert "| first | 12 |" in report and "Selection bias" in report and summary["verdict"] in report
    assert json.loads((tmp_path / "report" / "summary.json").read_text())["runs"] == 4

    # Running the benchmark again redoes nothing.
    run_benchmark(bench_spec(tmp_path), registry=registry, progress=False)
    assert len((tmp_path / "requests.log").read_text().split()) == 4 * 12 - 2 * 4


def test_benchmark_and_report_cli(tmp_path: Path) -> None:
    env = {**os.environ, "PYTHONPATH": str(TESTS)}
    path = bench_spec(tmp_path)
    proc = subprocess.run([sys.executable, "-m", "atgen_core", "benchmark", str(path), "-p", "atgen_test_components",
                           "-q"], capture_output=True, text=True, env=env, timeout=300)
    assert proc.returncode == 0, proc.stderr
    report = subprocess.run([sys.executable, "-m", "atgen_core", "report", str(tmp_path / "bench"), "-o",
                             str(tmp_path / "r")], capture_output=True, text=True, env=env, timeout=120)
    assert report.returncode == 0, report.stderr
    assert "## accuracy" in report.stdout and "wrote" in report.stdout
    assert not math.isnan(json.loads((tmp_path / "r" / "summary.json").read_text())["strategies"]["first"]
                          ["metrics"]["accuracy"]["aulc"])
