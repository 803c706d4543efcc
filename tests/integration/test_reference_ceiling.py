"""scripts/reference_ceiling.py: each human reference scored against the others, with the loop's ROUGE."""

from __future__ import annotations

import importlib.util
import json
import subprocess
import sys
from pathlib import Path
from types import ModuleType

import pytest

SCRIPT = Path(__file__).resolve().parents[2] / "scripts" / "reference_ceiling.py"
pytest.importorskip("rouge_score")


@pytest.fixture(scope="module")
def ceiling() -> ModuleType:
    spec = importlib.util.spec_from_file_location("reference_ceiling", SCRIPT)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_references_of_one_input_are_pooled_once_and_scored_against_the_others(ceiling: ModuleType) -> None:
    rows = [
        {"input": "a", "references": ["the cat sat", "a cat sat"]},
        {"input": "a", "references": "the cat sat"},  # a duplicate: not counted twice
        {"input": "b", "references": ["only one"]},  # fewer than two: left out
    ]
    pooled = ceiling.pooled_references(rows, "input", "references")
    assert pooled == {"a": ["the cat sat", "a cat sat"], "b": ["only one"]}
    scores = ceiling.leave_one_out(pooled)
    # "the cat sat" vs "a cat sat": LCS "cat sat" = 2 of 3 tokens each way, F1 2/3, in both directions
    assert list(scores) == ["a"] and scores["a"] == pytest.approx([2 / 3, 2 / 3])


def test_identical_wording_scores_one_and_unrelated_wording_zero(ceiling: ModuleType) -> None:
    scores = ceiling.leave_one_out({"x": ["red fox runs", "red fox runs.", "blue whale swims"]})
    assert scores["x"][0] == pytest.approx(1.0) and scores["x"][2] == pytest.approx(0.0)


def test_command_line_prints_both_means_and_names_a_missing_column(tmp_path: Path) -> None:
    data = tmp_path / "rows.jsonl"
    data.write_text("\n".join(json.dumps(r) for r in [
        {"src": "a", "refs": ["the cat sat", "a cat sat"]},
        {"src": "b", "refs": ["red fox runs", "red fox runs", "red fox running", "blue whale fox"]},
    ]) + "\n", encoding="utf-8")
    run = [sys.executable, str(SCRIPT), str(data), "--input-column", "src", "--references-column", "refs"]
    out = subprocess.run(run, capture_output=True, text=True, check=True).stdout
    # a: 2/3, 2/3. b ("runs" and "running" stem to "run"; the repeated reference counts once): 1, 1, 1/3
    assert "2 distinct inputs, 2 with >= 2 distinct references" in out
    assert "0.733 over 5 references, 0.722 averaged per input" in out
    bad = subprocess.run([sys.executable, str(SCRIPT), str(data)], capture_output=True, text=True)
    assert bad.returncode == 2 and "has no column 'input'" in bad.stderr and "refs, src" in bad.stderr
