"""The end-of-run verdict: built from a reference's paired seeds, never from one run."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import atgen_test_components as fakes
import pytest
from test_loop import make_spec

from atgen_core.analysis.reference import paired_interval, verdict, write_reference
from atgen_core.loop import Experiment
from atgen_core.plugins import load_registry

REFERENCE = {
    "metric": "rougeL",
    "curves": {
        "random": {"64": [0.50, 0.52, 0.51, 0.49, 0.53]},
        "better": {"64": [0.55, 0.56, 0.57, 0.54, 0.58]},
        "noisy": {"64": [0.56, 0.47, 0.55, 0.46, 0.54]},
        "worse": {"64": [0.45, 0.46, 0.44, 0.43, 0.47]},
    },
}


def test_paired_interval_matches_a_hand_computed_t_interval() -> None:
    mean, low, high = paired_interval([3.0, 5.0, 4.0], [1.0, 2.0, 2.0])
    # diffs 2, 3, 2: mean 7/3, sd 0.57735, t(2) = 4.303, half-width 4.303 * 0.57735 / sqrt(3) = 1.4343
    assert mean == pytest.approx(7 / 3)
    assert (low, high) == (pytest.approx(7 / 3 - 1.4343, abs=1e-4), pytest.approx(7 / 3 + 1.4343, abs=1e-4))


@pytest.mark.parametrize(
    ("strategy", "word"),
    [("better", "better than random"), ("worse", "worse than random"), ("noisy", "within seed noise")],
)
def test_the_verdict_follows_the_paired_interval(strategy: str, word: str) -> None:
    text = verdict(strategy, 64, 0.6, REFERENCE, "ref.json")
    assert word in text and "5 seeds" in text and "This run: 0.600" in text


def test_unknown_comparisons_say_so() -> None:
    assert "one run cannot tell" in verdict("huds", 64, 0.5, None)
    assert "not known" in verdict("huds", 64, 0.5, REFERENCE)
    assert "not known" in verdict("better", 32, 0.5, REFERENCE)
    assert "baseline" in verdict("random", 64, 0.5, REFERENCE)


def test_a_run_with_a_reference_ends_with_its_verdict_and_the_reference_is_written_from_runs(
    tmp_path: Path,
) -> None:
    registry = load_registry(load_entrypoints=False, plugins=[("test-components", fakes)])
    bench = tmp_path / "bench"
    for seed in (1, 2, 3):
        spec: dict[str, Any] = make_spec(tmp_path, seed=seed, output_dir=str(bench / f"s{seed}"))
        with Experiment.from_spec(spec, registry=registry, progress=False) as experiment:
            experiment.run()
    data = write_reference(bench, "accuracy", tmp_path / "ref.json")
    assert data["seeds"] == [1, 2, 3]
    assert sorted(data["curves"]["test-random"]) == ["0", "12", "16", "4", "8"]
    assert all(len(v) == 3 for v in data["curves"]["test-random"].values())
    # the fake strategy stands in for random too: identical curves are within noise by construction
    data["curves"]["random"] = data["curves"]["test-random"]
    (tmp_path / "ref.json").write_text(json.dumps(data))
    spec = make_spec(tmp_path, seed=1, output_dir=str(tmp_path / "one"), reference=str(tmp_path / "ref.json"))
    with Experiment.from_spec(spec, registry=registry, progress=False) as experiment:
        summary = experiment.run()
    stored = json.loads((tmp_path / "ref.json").read_text())["curves"]["test-random"]["16"]
    assert summary.verdict.startswith("Verdict: at 16 labels test-random is not distinguishable from random")
    assert "3 seeds" in summary.verdict
    assert f"This run: {stored[0]:.3f}" in summary.verdict
