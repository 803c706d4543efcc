"""`atgen validate --spec-only`: the spec alone, without the data, the environment or the run directory."""

from __future__ import annotations

import json
from pathlib import Path

import atgen_test_components as fakes
import pytest

from atgen_core.cli import main


@pytest.fixture(autouse=True)
def fake_plugins(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ATGEN_PLUGIN_MODULES", fakes.__name__)


def write(tmp_path: Path, **changes: object) -> Path:
    spec = {
        "name": "only",
        "data": {"source": {"name": "memory", "config": {"generate": 40}}, "test_size": 8},
        "strategy": "test-random",
        "annotator": "counting-oracle",
        "trainer": "fake-trainer",
        "metrics": ["accuracy"],
        "loop": {"initial_size": 4, "query_size": 4, "iterations": 1},
        "output_dir": str(tmp_path / "run"),
        **changes,
    }
    path = tmp_path / "spec.json"
    path.write_text(json.dumps(spec))
    return path


def test_spec_only_skips_the_data_but_not_the_spec(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    # 500 labels per round from a pool of 32: the data check catches it, the spec alone cannot
    too_big = write(tmp_path, loop={"initial_size": 500, "query_size": 4, "iterations": 1})
    assert main(["validate", str(too_big)]) == 2
    assert "initial_size" in capsys.readouterr().err
    assert main(["validate", "--spec-only", str(too_big)]) == 0
    assert "--spec-only" in capsys.readouterr().out
    bad = write(tmp_path, strategy="no-such-strategy")
    assert main(["validate", "--spec-only", str(bad)]) == 2
    assert "no-such-strategy" in capsys.readouterr().err
    assert not (tmp_path / "run").exists()
