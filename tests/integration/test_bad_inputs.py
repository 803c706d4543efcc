"""A table of bad specs and bad environments: every one is a clear error (exit 2, no traceback) from both
``atgen validate`` and ``atgen run``, names what is wrong, never prints a secret, and leaves every
directory exactly as it was (nothing created, nothing changed).
"""

from __future__ import annotations

import json
import os
import sqlite3
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

pytest.importorskip("atgen_basics")
pytest.importorskip("atgen_lora_trainer")
pytest.importorskip("atgen_openai_annotator")
pytest.importorskip("atgen_human_annotator")

from atgen_core.cli import main

TESTS = Path(__file__).parents[1]
SECRET = "sk-proj-Abc123def456ghi789jkl012mno345"

Spec = dict[str, Any]


def rows(n: int, offset: int = 0) -> str:
    return "".join(json.dumps({"text": f"question {i}", "answer": f"answer {i}", "uid": f"u{i}"}) + "\n"
                   for i in range(offset, offset + n))


def base_spec(tmp: Path) -> Spec:
    return {
        "name": "bad-input",
        "data": {
            "source": {"name": "files", "config": {"train": "train.jsonl", "test": "test.jsonl"}},
            "test_split": "test", "input_column": "text", "target_column": "answer", "prompt": "Q: {text}",
        },
        "strategy": "test-random",
        "annotator": "counting-oracle",
        "trainer": "fake-trainer",
        "metrics": ["accuracy"],
        "loop": {"initial_size": 4, "query_size": 4, "iterations": 1},
        "output_dir": str(tmp / "runs" / "{name}"),
    }


def setdeep(spec: Spec, path: str, value: Any) -> Spec:
    node = spec
    parts = path.split(".")
    for part in parts[:-1]:
        node = node.setdefault(part, {})
    node[parts[-1]] = value
    return spec


@dataclass
class Case:
    name: str
    expect: list[str]
    edit: Callable[[Spec, Path], Any] = lambda spec, tmp: None
    env: dict[str, str | None] = field(default_factory=dict)
    raw_text: str | None = None
    """Write this text as the spec file instead of the (edited) spec."""
    forbid: list[str] = field(default_factory=list)


def _write(tmp: Path, name: str, text: str | bytes) -> None:
    path = tmp / name
    path.parent.mkdir(parents=True, exist_ok=True)
    if isinstance(text, bytes):
        path.write_bytes(text)
    else:
        path.write_text(text, encoding="utf-8")


def _stored_run(tmp: Path, version: int | None = None, garbage: bool = False, empty: bool = False) -> None:
    run = tmp / "runs" / "bad-input"
    run.mkdir(parents=True)
    db = run / "atgen.sqlite"
    if empty:
        db.write_bytes(b"")
        (run / "labels.jsonl").write_text('{"id": "x"}\n')
    elif garbage:
        db.write_bytes(b"this is not a database" * 100)
    else:
        con = sqlite3.connect(db)
        con.execute("CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT NOT NULL)")
        con.execute(f"PRAGMA user_version = {version}")
        con.commit()
        con.close()


def _started_run_of_another_spec(spec: Spec, tmp: Path) -> None:
    from atgen_core.store import RunStore

    other = {**json.loads(json.dumps(spec)), "seed": 1}
    (tmp / "other.json").write_text(json.dumps(other))
    assert main(["run", str(tmp / "other.json"), "-p", "atgen_test_components", "-q"]) == 0
    store = RunStore(tmp / "runs" / "bad-input", read_only=True)
    assert len(store.labels()) == 8
    store.close()


CASES = [
    Case("missing train file", ["data.source.config.train", "does not exist"],
         lambda s, t: setdeep(s, "data.source.config.train", "nope.jsonl")),
    Case("prompt names an unknown column", ["data.prompt", "'txet'", "did you mean {text}"],
         lambda s, t: setdeep(s, "data.prompt", "Q: {txet}")),
    Case("wrong input column", ["data.input_column", "'question'", "available columns: answer, text, uid"],
         lambda s, t: setdeep(s, "data.input_column", "question")),
    Case("wrong target column", ["data.target_column", "'answr'", "did you mean 'answer'"],
         lambda s, t: setdeep(s, "data.target_column", "answr")),
    Case("wrong id column", ["data.id_column", "'id'"], lambda s, t: setdeep(s, "data.id_column", "id")),
    Case("unset ${VAR} in a data path", ["data.source.config.train", "ATGEN_T_DATA_DIR is not set"],
         lambda s, t: setdeep(s, "data.source.config.train", "${ATGEN_T_DATA_DIR}/train.jsonl"),
         env={"ATGEN_T_DATA_DIR": None}),
    Case("empty data file", ["data.source.config.train", "is empty"], lambda s, t: _write(t, "train.jsonl", "")),
    Case("malformed JSONL data", ["train.jsonl", "line 2 is not valid JSON"],
         lambda s, t: _write(t, "train.jsonl", rows(1) + "{oops\n")),
    Case("test split not provided", ["data.test_split", "'heldout'"],
         lambda s, t: setdeep(s, "data.test_split", "heldout")),
    Case("unknown strategy", ["strategy.name", "unknown strategy", "did you mean 'test-random'"],
         lambda s, t: s.update(strategy="test-randon")),
    Case("negative query size", ["loop.query_size", "greater than or equal to 1"],
         lambda s, t: setdeep(s, "loop.query_size", -2)),
    Case("stop_when on an unconfigured metric", ["loop.stop_when.rougeL", "no configured metric"],
         lambda s, t: setdeep(s, "loop.stop_when", {"rougeL": 0.5})),
    Case("NaN threshold", ["loop.stop_when.accuracy", "not a finite number"], raw_text="NAN_STOP"),
    Case("Infinity test_size", ["data.test_size", "not a finite number"], raw_text="INF_TEST_SIZE"),
    Case("Infinity temperature", ["model.generation.temperature", "not a finite number"],
         raw_text="INF_TEMPERATURE"),
    Case("duplicate key", ["loop.query_size", "more than once"], raw_text="DUPLICATE"),
    Case("empty spec file", ["the spec file is empty"], raw_text=""),
    Case("malformed spec JSON", ["malformed JSON at line 1"], raw_text='{"name": "x",'),
    Case("spec is a list", ["must be a JSON object"], raw_text="[1, 2]"),
    Case("output_dir is a file", ["output_dir", "is a file"],
         lambda s, t: (_write(t, "occupied", "x"), s.update(output_dir=str(t / "occupied")))),
    Case("output_dir below a file", ["output_dir", "is a file"],
         lambda s, t: (_write(t, "blocker", "x"), s.update(output_dir=str(t / "blocker" / "run")))),
    Case("initial size larger than the pool", ["loop.initial_size", "larger than the pool (12 examples)"],
         lambda s, t: setdeep(s, "loop.initial_size", 13)),
    Case("query size larger than the rest of the pool", ["loop.query_size", "12 - 10 = 2"],
         lambda s, t: (setdeep(s, "loop.initial_size", 10), setdeep(s, "loop.query_size", 3))),
    Case("label budget below the first batch", ["loop.budget.labels", "smaller than loop.initial_size"],
         lambda s, t: setdeep(s, "loop.budget", {"labels": 2})),
    Case("model folder missing", ["model.path", "no-model' does not exist"],
         lambda s, t: (s.update(trainer="lora"), setdeep(s, "model.path", str(t / "no-model")))),
    Case("GGUF file missing", ["model.path", "GGUF file", "does not exist"],
         lambda s, t: (s.update(trainer="lora"), setdeep(s, "model.path", str(t / "m.gguf")))),
    Case("malformed hub id", ["model.path", "well-formed hub id"],
         lambda s, t: (s.update(trainer="lora"), setdeep(s, "model.path", "HuggingFaceTB//SmolLM2 135M"))),
    Case("API key variable unset", ["annotator.config.api_key_env", "ATGEN_T_KEY is not set"],
         lambda s, t: s.update(annotator={"name": "openai", "config": {"model": "m", "api_key_env": "ATGEN_T_KEY"}}),
         env={"ATGEN_T_KEY": None}),
    Case("API endpoint whose host does not resolve",
         ["annotator.config.base_url", "api.llm-provider.invalid cannot be reached", "check the address for typos"],
         lambda s, t: s.update(annotator={"name": "openai", "config": {
             "model": "m", "api_key_env": None, "base_url": "https://api.llm-provider.invalid/v1"}})),
    Case("API key pasted as the variable name", ["annotator.config.api_key_env", "hidden"],
         lambda s, t: s.update(annotator={"name": "openai", "config": {"model": "m", "api_key_env": SECRET}}),
         forbid=[SECRET, SECRET[:12]]),
    Case("API key in extra_params", ["annotator.config.extra_params"],
         lambda s, t: s.update(annotator={"name": "openai", "config": {
             "model": "m", "api_key_env": None, "extra_params": {"api_key": SECRET}}}),
         forbid=[SECRET, SECRET[:12]]),
    Case("guidelines file missing", ["annotator.config.guidelines_file", "not found"],
         lambda s, t: s.update(annotator={"name": "human", "config": {"guidelines_file": "guide.md"}})),
    Case("misspelt key", ["loop.qurey_size", "did you mean 'query_size'"],
         lambda s, t: setdeep(s, "loop.qurey_size", 4)),
    Case("invalid name", ["name", "should match pattern"], lambda s, t: s.update(name="my run!")),
    Case("unknown annotator", ["annotator.name", "unknown annotator"], lambda s, t: s.update(annotator="oracel")),
    Case("0-byte store in the run dir", ["output_dir", "0 bytes", "never starts over"],
         lambda s, t: _stored_run(t, empty=True)),
    Case("store written by a newer atgen", ["output_dir", "newer atgen", "store version 99"],
         lambda s, t: _stored_run(t, version=99)),
    Case("not a database in the run dir", ["output_dir", "cannot read the run store"],
         lambda s, t: _stored_run(t, garbage=True)),
    Case("run dir holds a started run of another spec", ["output_dir", "holds a run of a different spec",
                                                         "differs in: seed"],
         lambda s, t: _started_run_of_another_spec(s, t)),
]

_RAW = {
    "NAN_STOP": ("loop", '"loop": {"initial_size": 4, "query_size": 4, "stop_when": {"accuracy": NaN}}'),
    "INF_TEST_SIZE": ("data", None),
    "INF_TEMPERATURE": ("model", '"model": {"generation": {"temperature": Infinity}}'),
    "DUPLICATE": ("loop", '"loop": {"initial_size": 4, "query_size": 4, "query_size": 8}'),
}


def _spec_text(case: Case, spec: Spec) -> str:
    if case.raw_text is None:
        return json.dumps(spec)
    if case.raw_text not in _RAW:
        return case.raw_text
    key, fragment = _RAW[case.raw_text]
    if case.raw_text == "INF_TEST_SIZE":
        spec["data"].pop("test_split")
        spec["data"]["test_size"] = "__INF__"
        return json.dumps(spec).replace('"__INF__"', "Infinity")
    spec.pop(key, None)
    body = json.dumps(spec)
    return body[:-1] + ", " + fragment + "}"


def _snapshot(root: Path) -> dict[str, tuple[int, int]]:
    return {str(p.relative_to(root)): (p.stat().st_size, p.stat().st_mtime_ns) for p in sorted(root.rglob("*"))}


@pytest.mark.parametrize("case", CASES, ids=[c.name for c in CASES])
def test_bad_input_is_a_clear_error_that_changes_nothing(
    case: Case, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.syspath_prepend(str(TESTS))
    monkeypatch.chdir(tmp_path)
    for name, value in case.env.items():
        if value is None:
            monkeypatch.delenv(name, raising=False)
        else:
            monkeypatch.setenv(name, value)
    _write(tmp_path, "train.jsonl", rows(12))
    _write(tmp_path, "test.jsonl", rows(4, offset=100))
    spec = base_spec(tmp_path)
    case.edit(spec, tmp_path)
    spec_file = tmp_path / "spec.json"
    spec_file.write_text(_spec_text(case, spec), encoding="utf-8")
    before = _snapshot(tmp_path)
    for command in ("validate", "run"):
        extra = ["-q"] if command == "run" else []
        code = main([command, str(spec_file), "-p", "atgen_test_components", *extra])
        err = capsys.readouterr().err
        assert code == 2, f"{command}: exit {code}\n{err}"
        assert "Traceback" not in err and "bug" not in err, err
        for text in case.expect:
            assert text in err, f"{command}: {text!r} not in:\n{err}"
        for text in case.forbid:
            assert text not in err, f"{command} printed a secret:\n{err}"
        assert _snapshot(tmp_path) == before, f"{command} changed the directory"


def test_the_base_spec_of_the_table_is_valid_and_runs(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.syspath_prepend(str(TESTS))
    _write(tmp_path, "train.jsonl", rows(12))
    _write(tmp_path, "test.jsonl", rows(4, offset=100))
    spec_file = tmp_path / "spec.json"
    spec_file.write_text(json.dumps(base_spec(tmp_path)))
    assert main(["validate", str(spec_file), "-p", "atgen_test_components"]) == 0
    assert "data: 12 pool examples, 4 test examples" in capsys.readouterr().out
    assert main(["run", str(spec_file), "-p", "atgen_test_components", "-q"]) == 0
    assert (tmp_path / "runs" / "bad-input" / "labels.jsonl").read_text().count("\n") == 8


def test_five_mistakes_are_all_reported_in_one_validate(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.syspath_prepend(str(TESTS))
    _write(tmp_path, "train.jsonl", rows(12))
    spec = base_spec(tmp_path)
    spec["strategy"] = "test-randon"
    spec["loop"]["query_size"] = -1
    spec["data"]["prompt"] = "Q: {inpt}"
    spec["loop"]["stop_when"] = {"bleu": 0.3}
    spec_file = tmp_path / "spec.json"
    spec_file.write_text(json.dumps(spec))  # test.jsonl is missing
    assert main(["validate", str(spec_file), "-p", "atgen_test_components"]) == 2
    err = capsys.readouterr().err
    assert err.startswith(f"5 problems in {spec_file}:"), err
    for path in ("strategy.name", "loop.query_size", "data.prompt", "loop.stop_when.bleu", "data.source.config.test"):
        assert f"  {path}: " in err, (path, err)
    assert not (tmp_path / "runs").exists()


def test_unexpected_exception_is_reported_as_a_bug(monkeypatch: pytest.MonkeyPatch,
                                                   capsys: pytest.CaptureFixture[str]) -> None:
    import atgen_core.cli.spec_cmd as spec_cmd

    def boom(args: Any) -> int:
        raise ZeroDivisionError("boom")

    monkeypatch.setattr(spec_cmd, "_validate", boom)
    assert main(["validate", os.devnull]) == 1
    err = capsys.readouterr().err
    assert "Traceback" in err and "ZeroDivisionError" in err and "This is a bug in atgen" in err
