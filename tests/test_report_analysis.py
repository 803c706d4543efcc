"""`atgen report` on run stores written directly with known curves: every reported number checked."""

from __future__ import annotations

import json
import logging
import subprocess
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from atgen_core.analysis.curves import SeedCurves
from atgen_core.analysis.savings import compare, detectable_difference, seeds_needed, sign_flip_pvalue
from atgen_core.report import build_report
from atgen_core.store import RunStore
from atgen_core.types import AnnotationResult, Example

XS = [0, 16, 32, 64]
FINISHED = "finished: iterations done"


def make_run(
    root: Path,
    label: str,
    seed: int,
    values: Sequence[float],
    *,
    xs: Sequence[int] = XS,
    status: str = FINISHED,
    pool: Sequence[str] = (),
    picks: dict[int, list[int]] | None = None,
    steps: Sequence[tuple[Any, ...]] = (),
    attempts: Sequence[tuple[int, int, float]] = (),
) -> Path:
    """A run store as the loop leaves it: spec, status, pool, selections, metrics and step timings.

    ``picks`` maps a round to pool positions; round 0 is recorded as the shared ``random-initial`` batch.
    ``steps`` holds (round, step, seconds) or (round, step, seconds, info); ``attempts`` holds
    (round, pool position, cost) of annotations.
    """
    run_dir = root / label / f"seed-{seed}"
    store = RunStore(run_dir)
    try:
        store.set_meta("spec", json.dumps({"seed": seed, "strategy": {"name": label}}))
        store.set_meta("benchmark_label", label)
        store.set_meta("status", status)
        texts = list(pool) or [f"input {i} of the pool" for i in range(20)]
        store.save_examples("pool", [Example(id=f"p{i}", input=t, prompt=t) for i, t in enumerate(texts)])
        for round_, positions in (picks or {}).items():
            store.save_selection(round_, [f"p{i}" for i in positions], "random-initial" if round_ == 0 else label)
        for round_, (n, value) in enumerate(zip(xs, values), start=-1):
            store.save_evaluation(round_, {"score": float(value)}, n, [])
        for round_, step, seconds, *info in steps:
            store.mark_step(round_, step, seconds, info[0] if info else {})
        for round_, position, cost in attempts:
            store.record_result(round_, AnnotationResult(id=f"p{position}", status="ok", text="x", cost=cost), "o")
    finally:
        store.close()
    return run_dir


def budget(summary: dict[str, Any], label: str, labels: int) -> dict[str, Any]:
    found = [
        b for b in summary["strategies"][label]["metrics"]["score"]["vs_random"]["budgets"] if b["labels"] == labels
    ]
    assert len(found) == 1
    return found[0]


RANDOM = [0.0, 0.2, 0.4, 0.6]
FAST = [0.0, 0.4, 0.6, 0.7]  # reaches random's 32-label score at 16 labels, its 64-label score at 32
SLOW = [0.0, 0.2, 0.5, 0.65]  # reaches them at 26.67 and 53.33 labels


def test_labels_to_reach_and_bootstrap_interval_on_a_constructed_grid(tmp_path: Path) -> None:
    # Random is identical on every seed; "smart" is fast on two seeds and slow on two. A bootstrap
    # resample of 4 seeds is all-slow or all-fast with probability 1/16 each (> 2.5%), so the 95%
    # interval runs exactly from the fast curve's value to the slow curve's.
    for seed in (1, 2, 3, 4):
        make_run(tmp_path, "random", seed, RANDOM)
        make_run(tmp_path, "smart", seed, FAST if seed <= 2 else SLOW)
    summary = build_report([tmp_path], tmp_path / "report")

    b32 = budget(summary, "smart", 32)
    # Mean smart curve: 0.30 at 16, 0.55 at 32; it reaches 0.4 at 16 + 16 * 0.1 / 0.25 = 22.4 labels.
    assert b32["labels_to_reach"] == pytest.approx(22.4)
    assert b32["labels_to_reach_ci"] == pytest.approx([16.0, 16 + 16 * 0.2 / 0.3])
    assert b32["savings"] == pytest.approx(32 / 22.4)
    assert b32["savings_ci"] == pytest.approx([32 / (16 + 16 * 0.2 / 0.3), 2.0])
    assert b32["diff"] == pytest.approx(0.15) and b32["diff_ci"] == pytest.approx([0.1, 0.2])
    assert b32["beyond_noise"] is True
    assert b32["p_sign_flip"] == pytest.approx(2 / 16)
    b64 = budget(summary, "smart", 64)
    assert b64["labels_to_reach"] == pytest.approx(44.8) and b64["savings"] == pytest.approx(64 / 44.8)
    assert b64["labels_to_reach_ci"] == pytest.approx([32.0, 32 + 32 * 0.1 / 0.15])
    # At 16 labels the slow seeds equal random: the difference is 0.1 on two seeds, 0 on two.
    b16 = budget(summary, "smart", 16)
    assert b16["diff"] == pytest.approx(0.1) and b16["diff_ci"][0] == pytest.approx(0.0)
    assert b16["beyond_noise"] is False

    smart = summary["strategies"]["smart"]["metrics"]["score"]
    assert smart["mean"] == pytest.approx([0.0, 0.3, 0.55, 0.675])
    assert smart["sd"] == pytest.approx(np.std([FAST, FAST, SLOW, SLOW], axis=0, ddof=1))
    report = (tmp_path / "report" / "report.md").read_text()
    assert "| 32 | 0.4000 ± 0.0000 | 0.5500 ± 0.0577 |" in report
    assert "| smart | 32 | 0.4000 | +0.1500 [0.1000, 0.2000] | 22.4 [16.0, 26.7] | 1.43 [1.20, 2.00] |" in report
    # At 16 labels: 16 * 0.2 / 0.3 = 10.7 on the mean curve, 8 when all seeds are fast, 16 when all slow.
    assert "| smart | 16 | 0.2000 | +0.1000 [0.0000, 0.2000] | 10.7 [8.0, 16.0] | within noise |" in report
    saved = json.loads((tmp_path / "report" / "summary.json").read_text())
    assert saved["verdict"] == summary["verdict"] and saved["verdict"] in report
    if summary["strategies"]["smart"]["metrics"]["score"]["vs_random"]["budgets"][-1]["p_t_test"] is not None:
        # scipy installed: the paired t-test (t = 5.2, 3 df) is significant at 64 labels.
        assert summary["verdict"].startswith("score: smart saves 1.43x [1.20, 2.00] at 64 labels (p = 0.014 paired")
    else:
        assert "smart is ahead at 64 labels, 1.43x [1.20, 2.00], but not significantly (p = 0.125" in summary["verdict"]


def test_not_reached_is_reported_as_such(tmp_path: Path) -> None:
    for seed in (1, 2, 3):
        make_run(tmp_path, "random", seed, [0.0, 0.2, 0.4, 0.6 + 0.01 * seed])
        make_run(tmp_path, "worse", seed, [0.0, 0.1, 0.2, 0.3 + 0.01 * seed])
    summary = build_report([tmp_path], tmp_path / "report")
    b64 = budget(summary, "worse", 64)
    assert b64["labels_to_reach"] is None and b64["savings"] is None
    assert b64["labels_to_reach_ci"] == (float("inf"), float("inf"))
    assert b64["diff"] == pytest.approx(-0.3) and b64["beyond_noise"] is True
    report = (tmp_path / "report" / "report.md").read_text()
    assert "| worse | 64 | 0.6200 | -0.3000 [-0.3000, -0.3000] | not reached [not reached, not reached] |" in report
    behind = "worse is behind random at 64 labels (-0.300 [-0.300, -0.300]; never reaches random's score there;"
    assert behind in summary["verdict"]
    saved = json.loads((tmp_path / "report" / "summary.json").read_text())
    assert saved["strategies"]["worse"]["metrics"]["score"]["vs_random"]["budgets"][-1]["labels_to_reach_ci"] == [
        None,
        None,
    ]


def test_small_gap_inside_the_seed_noise_prints_no_savings(tmp_path: Path) -> None:
    # The case of the issue: a 0.006 gap at the last budget with paired differences of sd ~0.017.
    gaps = [0.02, -0.01, 0.025, -0.015, 0.01]
    for seed, gap in enumerate(gaps, start=1):
        base = [0.0, 0.3, 0.5, 0.6 + 0.01 * seed]
        make_run(tmp_path, "random", seed, base)
        make_run(tmp_path, "lucky", seed, [*base[:3], base[3] + gap])
    summary = build_report([tmp_path], tmp_path / "report")
    b64 = budget(summary, "lucky", 64)
    assert b64["diff"] == pytest.approx(0.006) and b64["diff_sd"] == pytest.approx(np.std(gaps, ddof=1))
    assert b64["diff_ci"][0] < 0 < b64["diff_ci"][1] and b64["beyond_noise"] is False
    assert b64["savings"] is not None and b64["savings"] > 1  # the ratio exists but is not shown
    assert b64["p_sign_flip"] == pytest.approx(sign_flip_pvalue(gaps))
    report = (tmp_path / "report" / "report.md").read_text()
    assert "| lucky | 64 | 0.6300 | +0.0060 [" in report and "| within noise |" in report
    assert f"{b64['savings']:.2f}" not in report.split("### Against random")[1].split("| lucky | 64")[1].split("\n")[0]
    assert summary["verdict_kinds"] == {"lucky": "noise"}
    # How small a gain these 5 seeds could see, and how many seeds the observed 0.006 would need.
    assert b64["detectable"] == pytest.approx(_expected_detectable(b64["diff_sd"], 5))
    assert 0.02 < b64["detectable"] < 0.04 and b64["seeds_for_diff"] > 20
    row = report.split("### Against random")[1].split("| lucky | 64")[1].split("\n")[0]
    assert row.endswith(f"| ±{b64['detectable']:.4f} | {b64['seeds_for_diff']} |")
    assert summary["verdict"] == (f"score: lucky: within noise of random (with 5 seeds, only differences above "
                                  f"about {b64['detectable']:.3f} at 64 labels are found 80% of the time).")


def _expected_detectable(sd: float, n: int) -> float:
    try:
        from scipy import stats

        quantile = lambda q: float(stats.t.ppf(q, n - 1))  # noqa: E731
    except ImportError:
        from statistics import NormalDist

        quantile = NormalDist().inv_cdf
    return (quantile(0.975) + quantile(0.8)) * sd / n**0.5


def test_seeds_needed_is_the_first_seed_count_whose_detectable_difference_reaches_the_gap() -> None:
    needed = seeds_needed(0.01, 0.02)
    assert needed is not None and needed > 5
    assert detectable_difference(0.02, needed) <= 0.01 < detectable_difference(0.02, needed - 1)  # type: ignore[operator]
    assert seeds_needed(-0.01, 0.02) == needed  # a loss is as hard to see as a gain
    assert seeds_needed(0.0, 0.02) is None and detectable_difference(0.02, 1) is None
    assert detectable_difference(0.0, 5) is None and seeds_needed(0.01, 0.0) is None  # no spread to plan with


def test_consistent_gap_over_six_seeds_is_significant(tmp_path: Path) -> None:
    for seed in range(1, 7):
        wobble = 0.01 * (seed % 3)
        make_run(tmp_path, "random", seed, [0.0, 0.2 + wobble, 0.4 + wobble, 0.6 + wobble])
        make_run(tmp_path, "smart", seed, [0.0, 0.3 + wobble, 0.5 + wobble + 0.002 * seed, 0.7 + wobble])
    summary = build_report([tmp_path], tmp_path / "report")
    b32 = budget(summary, "smart", 32)
    assert b32["p_sign_flip"] == pytest.approx(2 / 64) and b32["beyond_noise"] is True
    assert summary["verdict_kinds"] == {"smart": "saves"}
    assert summary["verdict"].startswith("score: smart saves ")
    assert "at 64 labels" in summary["verdict"] and "6 seeds" in summary["verdict"]
    aulc = summary["strategies"]["smart"]["metrics"]["score"]
    assert aulc["p_value_sign_flip"] == pytest.approx(2 / 64) and aulc["aulc_diff_vs_random"] > 0


def test_one_seed_is_never_beyond_noise() -> None:
    random = SeedCurves([1], XS, np.array([RANDOM]))
    fast = SeedCurves([1], XS, np.array([FAST]))
    for b in compare(fast, random).budgets:
        assert b.diff > 0 and b.diff_ci == (b.diff, b.diff) and b.beyond_noise is False


def test_savings_are_undefined_when_random_does_not_improve() -> None:
    flat = SeedCurves([1, 2], [0, 8, 16], np.array([[0.30, 0.28, 0.27], [0.30, 0.29, 0.28]]))
    smart = SeedCurves([1, 2], [0, 8, 16], np.array([[0.30, 0.31, 0.33], [0.30, 0.32, 0.34]]))
    last = compare(smart, flat).budgets[-1]
    assert last.random_improved is False and last.savings is None and last.labels_to_reach is None
    # A rise smaller than random's sd over seeds at that budget is noise, not improvement.
    noisy = SeedCurves([1, 2], [0, 8, 16], np.array([[0.30, 0.29, 0.29], [0.30, 0.29, 0.315]]))
    assert compare(smart, noisy).budgets[-1].random_improved is False
    rising = SeedCurves([1, 2], [0, 8, 16], np.array([[0.30, 0.40, 0.50], [0.30, 0.40, 0.50]]))
    better = SeedCurves([1, 2], [0, 8, 16], np.array([[0.30, 0.50, 0.55], [0.30, 0.50, 0.55]]))
    last = compare(better, rising).budgets[-1]
    assert last.labels_to_reach == pytest.approx(8.0) and last.savings == pytest.approx(2.0)


def test_unfinished_runs_are_skipped_with_a_warning(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    for seed in (1, 2):
        make_run(tmp_path, "random", seed, RANDOM)
        make_run(tmp_path, "smart", seed, FAST)
    partial = make_run(tmp_path, "smart", 3, [0.0, 0.9], status="running")
    stopped = make_run(tmp_path, "random", 3, [0.0, 0.9, 0.9], status="finished: target reached")
    with caplog.at_level(logging.WARNING, logger="atgen.report"):
        summary = build_report([tmp_path], tmp_path / "report")
    assert summary["runs"] == 4
    assert {s["path"] for s in summary["skipped"]} == {partial, stopped}
    assert str(partial) in caplog.text and str(stopped) in caplog.text and "--include-unfinished" in caplog.text
    assert summary["strategies"]["smart"]["metrics"]["score"]["mean"] == pytest.approx(FAST)
    report = (tmp_path / "report" / "report.md").read_text()
    assert f"- `{partial}` (smart, seed 3): status 'running'; 2 evaluated points, the longest run has 4" in report
    assert f"- `{stopped}` (random, seed 3): 3 evaluated points, the longest run has 4" in report

    kept = build_report([tmp_path], tmp_path / "all", include_unfinished=True)
    assert kept["runs"] == 6 and kept["strategies"]["smart"]["seeds"] == [1, 2, 3]
    assert kept["strategies"]["smart"]["metrics"]["score"]["mean"][1] == pytest.approx((0.4 * 2 + 0.9) / 3)
    assert "Unfinished runs included" in (tmp_path / "all" / "report.md").read_text()


def test_shared_first_batch_is_left_out_of_the_selection_bias(tmp_path: Path) -> None:
    long_inputs = [" ".join(["long"] * 20) + f" {i}" for i in range(4)]
    pool = long_inputs + [f"short {i}" for i in range(16)]
    for seed in (1, 2):
        make_run(tmp_path, "random", seed, RANDOM, pool=pool, picks={0: [0, 1, 2, 3], 1: [4, 5], 2: [6, 7]})
        make_run(tmp_path, "short", seed, FAST, pool=pool, picks={0: [0, 1, 2, 3], 1: [10, 11], 2: [12, 13]})
    summary = build_report([tmp_path], tmp_path / "report")
    for label in ("random", "short"):
        bias = summary["strategies"][label]["bias"]
        assert bias["selected_mean_words"] == pytest.approx(2.0)  # the 21-word first batch is not counted
        assert bias["pool_mean_words"] == pytest.approx((4 * 21 + 16 * 2) / 20)
    examples = summary["strategies"]["short"]["picked_unlike_random"]
    assert len(examples) == 3 and {e["input"] for e in examples} <= {"short 6", "short 7", "short 8", "short 9"}
    assert all(e["picked_runs"] == 2 and e["random_picked_runs"] == 0 for e in examples)


def test_cluster_columns_use_scikit_learn_and_are_skipped_without_it(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    pool = [f"alpha beta {i}" for i in range(10)] + [f"gamma delta {i}" for i in range(10)]
    for seed in (1, 2):
        make_run(tmp_path, "random", seed, RANDOM, pool=pool, picks={1: [0, 10]})
        make_run(tmp_path, "one-sided", seed, FAST, pool=pool, picks={1: [0, 1]})
    if _has("sklearn"):
        summary = build_report([tmp_path], tmp_path / "with")
        one_sided = summary["strategies"]["one-sided"]["bias"]
        # Two clean topics: picking from one of them only is far from the pool's histogram.
        assert one_sided["cluster_tv_distance"] > summary["strategies"]["random"]["bias"]["cluster_tv_distance"]
        assert 0 < one_sided["coverage"] < summary["strategies"]["random"]["bias"]["coverage"] <= 1
    monkeypatch.setitem(sys.modules, "sklearn", None)
    summary = build_report([tmp_path], tmp_path / "without")
    assert "cluster_tv_distance" not in summary["strategies"]["random"]["bias"]
    assert summary["strategies"]["random"]["bias"]["selected_mean_words"] == pytest.approx(3.0)
    assert "scikit-learn is not installed" in (tmp_path / "without" / "report.md").read_text()


def _has(module: str) -> bool:
    try:
        __import__(module)
    except ImportError:
        return False
    return True


def test_untrained_evaluation_is_counted_as_shared_cost(tmp_path: Path) -> None:
    for seed in (1, 2):
        make_run(
            tmp_path,
            "random",
            seed,
            RANDOM,
            steps=[(-1, "evaluate", 10.0 * seed), (0, "train", 5.0), (0, "evaluate", 2.0), (1, "select", 0.5)],
            attempts=[(0, 0, 0.5), (1, 1, 0.25)],
        )
        make_run(
            tmp_path,
            "smart",
            seed,
            FAST,
            steps=[
                (-1, "evaluate", 0.0, {"imported": True}),
                (0, "train", 6.0),
                (0, "evaluate", 2.0),
                (1, "select", 3.0),
            ],
            attempts=[(0, 0, 0.5), (1, 2, 1.0)],
        )
    cost = build_report([tmp_path], tmp_path / "report")["cost"]
    assert cost["shared"]["step_seconds"]["evaluate"] == pytest.approx(15.0)  # mean of 10 and 20, once per seed
    assert cost["shared"]["what"] == ["untrained evaluation"] and cost["shared"]["money"] == 0.0
    # Round 0 was computed by each cell here (nothing imported in it): it stays in each strategy's cost.
    assert cost["strategies"]["random"]["step_seconds"] == pytest.approx({"evaluate": 2.0, "select": 0.5, "train": 5.0})
    assert cost["strategies"]["smart"]["step_seconds"] == pytest.approx({"evaluate": 2.0, "select": 3.0, "train": 6.0})
    assert cost["strategies"]["random"]["money"] == pytest.approx(0.75)
    assert cost["strategies"]["smart"]["money"] == pytest.approx(1.5)
    report = (tmp_path / "report" / "report.md").read_text()
    assert "| shared, once per seed | – | 0.0000 | 15.0 | 0.0 | 0.0 | 15.0 |" in report


def test_round_zero_imported_by_the_benchmark_is_shared_cost(tmp_path: Path) -> None:
    # The benchmark computes round 0 once per seed (here in random's cell) and imports it elsewhere.
    imported = {"imported_from": "shared/seed-1"}
    for seed in (1, 2):
        make_run(
            tmp_path,
            "random",
            seed,
            RANDOM,
            steps=[
                (-1, "evaluate", 10.0),
                (0, "select", 0.1),
                (0, "annotate", 1.0),
                (0, "train", 5.0),
                (0, "evaluate", 2.0),
                (1, "select", 0.5),
                (1, "train", 7.0),
            ],
            attempts=[(0, 0, 0.5), (0, 1, 0.5), (1, 2, 0.25)],
        )
        make_run(
            tmp_path,
            "smart",
            seed,
            FAST,
            steps=[
                (-1, "evaluate", 0.0, {"imported": True}),
                (0, "select", 0.0, imported),
                (0, "annotate", 0.0),
                (0, "train", 0.0, imported),
                (0, "evaluate", 0.0, {"imported": True}),
                (1, "select", 3.0),
                (1, "train", 6.0),
            ],
            attempts=[(0, 0, 0.0), (0, 1, 0.0), (1, 3, 1.0)],
        )
    cost = build_report([tmp_path], tmp_path / "report")["cost"]
    assert cost["shared"]["what"] == ["untrained evaluation", "round 0"]
    assert cost["shared"]["step_seconds"] == pytest.approx(
        {"annotate": 1.0, "evaluate": 12.0, "select": 0.1, "train": 5.0}
    )
    assert cost["shared"]["money"] == pytest.approx(1.0)
    assert cost["strategies"]["random"]["step_seconds"] == pytest.approx(
        {"annotate": 0.0, "evaluate": 0.0, "select": 0.5, "train": 7.0}
    )
    assert cost["strategies"]["smart"]["step_seconds"] == pytest.approx(
        {"annotate": 0.0, "evaluate": 0.0, "select": 3.0, "train": 6.0}
    )
    assert cost["strategies"]["random"]["money"] == pytest.approx(0.25)
    assert cost["strategies"]["smart"]["money"] == pytest.approx(1.0)


def test_html_through_markdown_or_a_note(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    make_run(tmp_path, "random", 1, RANDOM)
    if _has("markdown"):
        build_report([tmp_path], tmp_path / "report")
        page = (tmp_path / "report" / "report.html").read_text()
        assert "<table>" in page and "<h1>atgen report (1 runs)</h1>" in page
    monkeypatch.setitem(sys.modules, "markdown", None)
    summary = build_report([tmp_path], tmp_path / "report")
    assert summary["html"] is False and not (tmp_path / "report" / "report.html").exists()
    assert "only report.md is written" in (tmp_path / "report" / "report.md").read_text()
    assert summary["verdict"] == "score: no strategy to compare with random (run random and at least one other)."


def test_report_cli_include_unfinished(tmp_path: Path) -> None:
    make_run(tmp_path, "random", 1, RANDOM)
    make_run(tmp_path, "random", 2, [0.0, 0.5], status="running")
    args = [sys.executable, "-m", "atgen_core", "report", str(tmp_path), "-o", str(tmp_path / "r")]
    proc = subprocess.run(args, capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr
    assert "1 unfinished run(s) left out" in proc.stderr and "seed-2" in proc.stderr
    assert "wrote" in proc.stdout and "(1 runs)" in proc.stdout
    proc = subprocess.run([*args, "--include-unfinished"], capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr
    assert "(2 runs)" in proc.stdout and "included anyway" in proc.stderr
    bad = subprocess.run([*args, "-m", "nope"], capture_output=True, text=True, timeout=120)
    assert bad.returncode == 2 and "metric 'nope' is not in the runs; they report: score" in bad.stderr


def test_a_dip_of_random_is_not_counted_as_a_saving() -> None:
    # Random falls from 16 to 32 labels (as on E2E: 0.604 -> 0.581) and is back only at 64. A strategy a
    # little above random at 32 "reaches random's score" before 16 labels, but so does random itself:
    # the saving is 1x, not 32 / 15 = 2.1x as when the budget was the numerator.
    xs = [0, 16, 32, 64]
    random = SeedCurves([1, 2], xs, np.array([[0.30, 0.60, 0.57, 0.62], [0.30, 0.60, 0.59, 0.64]]))
    smart = SeedCurves([1, 2], xs, np.array([[0.30, 0.60, 0.60, 0.62], [0.30, 0.60, 0.61, 0.64]]))
    b32 = compare(smart, random).budgets[1]
    assert b32.labels == 32 and b32.labels_to_reach == pytest.approx(16 * 0.28 / 0.30)
    assert b32.random_labels_to_reach == pytest.approx(16 * 0.28 / 0.30)
    assert b32.savings == pytest.approx(1.0) and b32.savings_ci == pytest.approx((1.0, 1.0))
    # Where random rises, its own labels are the budget and the ratio is budget / labels to reach.
    b64 = compare(smart, random).budgets[2]
    assert b64.random_labels_to_reach == pytest.approx(64.0) and b64.savings == pytest.approx(1.0)


def test_the_verdict_does_not_call_a_lead_over_a_dip_of_random_a_saving() -> None:
    from atgen_core.analysis.verdict import strategy_verdict

    xs = [0, 16, 32]
    random = SeedCurves([1, 2, 3], xs, np.array([[0.3, 0.60, 0.57], [0.3, 0.61, 0.58], [0.3, 0.59, 0.56]]))
    smart = SeedCurves([1, 2, 3], xs, np.array([[0.3, 0.60, 0.59], [0.3, 0.61, 0.60], [0.3, 0.59, 0.585]]))
    comparison = compare(smart, random)
    kind, clause = strategy_verdict("smart", comparison)
    assert kind == "ahead" and "saves" not in clause, clause
    # "significantly" with scipy's paired t-test (p = 0.006); the sign flip alone cannot go below 0.25 here.
    how = "significantly " if comparison.budgets[-1].p_t_test is not None else ""
    assert clause.startswith(f"smart is {how}ahead at 32 labels, +0.022 [0.020, 0.025]"), clause
    # Random's mean at 32 labels (0.57) is on its own curve at 16 * 0.27 / 0.30 = 14.4 labels.
    assert "yet no labels saved: random's curve dipped and had this score at 14 labels" in clause, clause
