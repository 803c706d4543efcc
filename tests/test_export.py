"""``atgen export``: the labelled set (and pool) round-trips through datasets / JSONL / Parquet with exact values."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import atgen_test_components as fakes
import pytest

from atgen_core.cli import main
from atgen_core.export import export_run
from atgen_core.loop import Experiment
from atgen_core.plugins import load_registry
from atgen_core.store import RunStore
from atgen_core.types import AnnotationResult, Example

datasets = pytest.importorskip("datasets")


def _hand_made_run(run_dir: Path) -> None:
    """A store with labels whose text differs from the data's targets, a failure and an unselected item."""
    store = RunStore(run_dir)
    try:
        pool = [
            Example(id="a", input="in a", prompt="P: in a", target="gold a", references=("gold a", "alt a"),
                    fields={"topic": "x"}),
            Example(id="b", input="in b ü", prompt="P: in b", target=None),
            Example(id="c", input="in c", prompt="P: in c", target="gold c"),
            Example(id="d", input="in d", prompt="P: in d", target="gold d"),
        ]
        store.save_examples("pool", pool)
        store.save_examples("test", [Example(id="t", input="t", prompt="P: t", target="t")])
        store.save_selection(0, ["b", "a"], "random-initial")
        store.record_result(0, AnnotationResult(id="b", status="ok", text="label b — ü", cost=0.25, seconds=1.5,
                                                meta={"model": "m"}), "api")
        store.record_result(0, AnnotationResult(id="a", status="ok", text="label a", cost=0.5), "api")
        store.save_selection(1, ["c"], "huds")
        store.record_result(1, AnnotationResult(id="c", status="failed", error="boom", cost=0.1), "api")
    finally:
        store.close()


def test_datasets_folder_round_trips_with_the_exact_labels(tmp_path: Path) -> None:
    run_dir = tmp_path / "run"
    _hand_made_run(run_dir)
    out = tmp_path / "ds"
    assert main(["export", str(run_dir), "--format", "datasets", "-o", str(out)]) == 0
    loaded = datasets.load_from_disk(str(out))
    assert isinstance(loaded, datasets.Dataset)
    assert loaded["id"] == ["b", "a"]
    assert loaded["target"] == ["label b — ü", "label a"]
    assert loaded["dataset_target"] == [None, "gold a"]
    assert loaded["input"] == ["in b ü", "in a"]
    assert loaded["annotator"] == ["api", "api"]
    assert loaded["cost"] == [0.25, 0.5]
    assert loaded["round"] == [0, 0]
    assert loaded["rank"] == [0, 1]
    assert loaded["strategy"] == ["random-initial", "random-initial"]
    assert loaded["references"] == [[], ["gold a", "alt a"]]
    assert json.loads(loaded["meta"][0]) == {"model": "m"}
    assert json.loads(loaded["fields"][1]) == {"topic": "x"}


def test_include_pool_gives_every_example_its_selection_round_and_outcome(tmp_path: Path) -> None:
    run_dir = tmp_path / "run"
    _hand_made_run(run_dir)
    result = export_run(run_dir, "datasets", include_pool=True)
    assert result.path == run_dir / "export" / "datasets"
    assert dict(result.rows) == {"labelled": 2, "pool": 4}
    loaded = datasets.load_from_disk(str(result.path))
    assert set(loaded) == {"labelled", "pool"}
    pool = loaded["pool"]
    assert pool["id"] == ["a", "b", "c", "d"]
    assert pool["selected_round"] == [0, 0, 1, None]
    assert pool["strategy"] == ["random-initial", "random-initial", "huds", None]
    assert pool["status"] == ["ok", "ok", "failed", None]
    assert pool["label"] == ["label a", "label b — ü", None, None]


def test_jsonl_and_parquet_hold_the_same_rows(tmp_path: Path) -> None:
    pa_parquet = pytest.importorskip("pyarrow.parquet")
    run_dir = tmp_path / "run"
    _hand_made_run(run_dir)
    jsonl = export_run(run_dir, "jsonl", tmp_path / "j", include_pool=True).path
    parquet = export_run(run_dir, "parquet", tmp_path / "p", include_pool=True).path
    for split in ("labelled", "pool"):
        lines = (jsonl / f"{split}.jsonl").read_text(encoding="utf-8").splitlines()
        from_jsonl = [json.loads(line) for line in lines]
        from_parquet = pa_parquet.read_table(parquet / f"{split}.parquet").to_pylist()
        assert from_jsonl == from_parquet
    labelled = [json.loads(x) for x in (jsonl / "labelled.jsonl").read_text(encoding="utf-8").splitlines()]
    assert [(r["id"], r["target"], r["cost"]) for r in labelled] == [("b", "label b — ü", 0.25), ("a", "label a", 0.5)]


def test_export_of_a_real_loop_matches_the_store(tmp_path: Path) -> None:
    registry = load_registry(load_entrypoints=False, plugins=[("test-components", fakes)])
    spec = {
        "name": "export-test", "seed": 3,
        "data": {"source": {"name": "memory", "config": {"generate": 30, "topics": 6}}, "test_size": 6},
        "strategy": {"name": "test-random"},
        "annotator": {"name": "counting-oracle", "config": {"price": 0.01}},
        "trainer": {"name": "fake-trainer"}, "metrics": ["accuracy"],
        "loop": {"initial_size": 3, "query_size": 2, "iterations": 2},
        "output_dir": str(tmp_path / "run"),
    }
    with Experiment.from_spec(spec, registry=registry, progress=False) as experiment:
        experiment.run()
        stored = [(r.id, r.round, r.text, r.annotator, r.cost) for r in experiment.store.labels()]
    loaded = datasets.load_from_disk(str(export_run(tmp_path / "run").path))
    rows = list(zip(loaded["id"], loaded["round"], loaded["target"], loaded["annotator"], loaded["cost"]))
    assert rows == stored
    assert len(rows) == 7
    assert loaded["strategy"][:3] == ["random-initial"] * 3
    assert set(loaded["strategy"][3:]) == {"test-random"}


def test_user_mistakes_exit_2_with_a_clear_message(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["export", str(tmp_path / "nope")]) == 2
    assert "not an atgen run directory" in capsys.readouterr().err
    run_dir = tmp_path / "run"
    _hand_made_run(run_dir)
    assert main(["export", str(run_dir), "-o", str(run_dir)]) == 2
    assert "would hold the run directory" in capsys.readouterr().err
    (tmp_path / "full").mkdir()
    (tmp_path / "full" / "x.txt").write_text("keep me", encoding="utf-8")
    assert main(["export", str(run_dir), "--format", "jsonl", "-o", str(tmp_path / "full")]) == 2
    assert "--overwrite" in capsys.readouterr().err
    assert (tmp_path / "full" / "x.txt").read_text(encoding="utf-8") == "keep me"


def test_push_to_hub_offline_is_a_clear_error(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    run_dir = tmp_path / "run"
    _hand_made_run(run_dir)
    env = {"HF_HUB_OFFLINE": "1", "PATH": "/usr/bin:/bin"}
    proc = subprocess.run([sys.executable, "-m", "atgen_core", "export", str(run_dir), "--push-to-hub", "me/labels"],
                          capture_output=True, text=True, env=env, timeout=120, check=False)
    assert proc.returncode == 2, proc.stderr
    assert "offline mode is on" in proc.stderr and "me/labels" in proc.stderr
    assert "Traceback" not in proc.stderr


def test_importing_the_export_module_imports_neither_datasets_nor_torch() -> None:
    code = ("import sys, atgen_core.export, atgen_core.cli.export_cmd; "
            "print(sorted(m for m in ('datasets', 'torch', 'pyarrow') if m in sys.modules))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True, timeout=60)
    assert out.stdout.strip() == "[]"
