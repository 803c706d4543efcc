"""Spec validation: every problem at once, with paths, values and suggestions; CLI exit codes."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import atgen_test_components as fakes
import pytest

from atgen_core.errors import SpecError
from atgen_core.plugins import load_registry
from atgen_core.spec import build_schema, load_spec_file, resolve_spec

TESTS = Path(__file__).parent


@pytest.fixture(scope="module")
def registry():  # type: ignore[no-untyped-def]
    return load_registry(load_entrypoints=False, plugins=[("test-components", fakes)])


def good_spec() -> dict[str, Any]:
    return {
        "name": "spec-test",
        "data": {"source": {"name": "memory", "config": {"generate": 20}}, "test_size": 5},
        "strategy": "test-random",
        "annotator": {"name": "counting-oracle", "config": {"price": 0.1}},
        "trainer": "fake-trainer",
        "metrics": ["accuracy"],
        "loop": {"initial_size": 4, "query_size": 4, "stop_when": {"accuracy": 0.9}},
    }


def issues(raw: dict[str, Any], registry) -> dict[str, str]:  # type: ignore[no-untyped-def]
    with pytest.raises(SpecError) as info:
        resolve_spec(raw, registry)
    return {i.path: i.render() for i in info.value.issues}


def test_a_good_spec_resolves_with_validated_configs(registry) -> None:  # type: ignore[no-untyped-def]
    resolved = resolve_spec(good_spec(), registry)
    assert resolved.annotator.config.price == 0.1  # type: ignore[attr-defined]
    assert resolved.strategy.name == "test-random"
    assert resolved.spec.loop.stop_when == {"accuracy": 0.9}


def test_three_mistakes_are_reported_together_with_their_paths(registry) -> None:  # type: ignore[no-untyped-def]
    raw = good_spec()
    raw["loop"] = {"query_size": 0, "stop_when": {"accuracy": 0.9}}
    raw["annotator"] = {"name": "counting-oracle", "config": {"prize": 0.1}}
    raw["strategy"] = "test-randm"
    found = issues(raw, registry)
    assert set(found) == {"loop.query_size", "annotator.config.prize", "strategy.name"}
    assert "greater than or equal to 1" in found["loop.query_size"] and "(got 0)" in found["loop.query_size"]
    assert "did you mean 'price'?" in found["annotator.config.prize"]
    assert "did you mean 'test-random'?" in found["strategy.name"]


def test_unknown_top_level_key_gets_a_suggestion(registry) -> None:  # type: ignore[no-untyped-def]
    raw = good_spec()
    raw["metric"] = ["accuracy"]
    assert "did you mean 'metrics'?" in issues(raw, registry)["metric"]


def test_keys_named_as_in_other_frameworks_point_to_ours(registry) -> None:  # type: ignore[no-untyped-def]
    raw = good_spec()
    raw["data"]["output_column"] = "summary"  # difflib alone would suggest 'input_column'
    raw["model"] = {"checkpoint": "gpt2"}
    raw["labeller"] = "counting-oracle"
    found = issues(raw, registry)
    assert "did you mean 'target_column'?" in found["data.output_column"]
    assert "did you mean 'path'?" in found["model.checkpoint"]
    assert "did you mean 'annotator'?" in found["labeller"]


def test_thresholds_are_checked_against_metric_keys_and_ranges(registry) -> None:  # type: ignore[no-untyped-def]
    raw = good_spec()
    raw["loop"] = {"stop_when": {"acuracy": 0.5}}
    assert "did you mean 'accuracy'?" in issues(raw, registry)["loop.stop_when.acuracy"]
    raw["loop"] = {"stop_when": {"accuracy": 50}}
    assert "outside the metric's range" in issues(raw, registry)["loop.stop_when.accuracy"]


def test_component_config_errors_are_rooted_at_their_path(registry) -> None:  # type: ignore[no-untyped-def]
    raw = good_spec()
    raw["metrics"] = ["accuracy", {"name": "accuracy", "config": {"x": 1}}]
    assert "metrics[1].config.x" in issues(raw, registry)


def test_malformed_json_names_line_and_column(tmp_path: Path) -> None:
    path = tmp_path / "bad.json"
    path.write_text('{\n  "name": "x",\n  "seed": ,\n}\n')
    with pytest.raises(SpecError, match="line 3, column 11"):
        load_spec_file(path)


def test_schema_has_a_discriminated_union_per_kind(registry) -> None:  # type: ignore[no-untyped-def]
    schema = build_schema(registry)
    text = json.dumps(schema)
    assert "test-random" in text and "warm-only" in text
    names, objects = schema["properties"]["strategy"]["anyOf"]
    assert set(names["enum"]) == {"test-random", "warm-only"}  # the bare-name shorthand
    assert objects["discriminator"]["propertyName"] == "name"
    assert set(objects["discriminator"]["mapping"]) == {"test-random", "warm-only"}


def test_validate_cli_reports_all_problems_and_exits_2(tmp_path: Path) -> None:
    raw = good_spec()
    raw["loop"] = {"query_size": 0, "initial_size": 4}
    raw["annotator"] = {"name": "counting-oracle", "config": {"prize": 0.1}}
    raw["strategy"] = "test-randm"
    path = tmp_path / "spec.json"
    path.write_text(json.dumps(raw))
    env = {**os.environ, "PYTHONPATH": str(TESTS)}
    proc = subprocess.run([sys.executable, "-m", "atgen_core", "validate", str(path), "-p", "atgen_test_components"],
                          capture_output=True, text=True, env=env, timeout=60)
    assert proc.returncode == 2
    assert "3 problems" in proc.stderr and "Traceback" not in proc.stderr
    for p in ("loop.query_size", "annotator.config.prize", "strategy.name"):
        assert p in proc.stderr
    path.write_text(json.dumps(good_spec()))
    ok = subprocess.run([sys.executable, "-m", "atgen_core", "validate", str(path), "-p", "atgen_test_components"],
                        capture_output=True, text=True, env=env, timeout=60)
    assert ok.returncode == 0 and "valid" in ok.stdout


def test_run_with_a_missing_column_fails_before_any_work(tmp_path: Path) -> None:
    raw = good_spec()
    raw["data"] = {"source": {"name": "memory", "config": {"rows": [{"text": "a", "target": "b"}] * 3}},
                   "test_size": 1}
    raw["output_dir"] = str(tmp_path / "run")
    path = tmp_path / "spec.json"
    path.write_text(json.dumps(raw))
    env = {**os.environ, "PYTHONPATH": str(TESTS)}
    proc = subprocess.run([sys.executable, "-m", "atgen_core", "run", str(path), "-p", "atgen_test_components", "-q"],
                          capture_output=True, text=True, env=env, timeout=60)
    assert proc.returncode == 2
    assert "column 'input' not found" in proc.stderr and "available columns: target, text" in proc.stderr
    assert 'set "input_column": "text" in data' in proc.stderr
    assert not (tmp_path / "run" / "labels.jsonl").exists()


@pytest.mark.parametrize(("text", "hint"), [
    ('{"name": "t",\n "seed": 3,\n}', "remove the comma before the closing bracket (JSON allows no trailing comma)"),
    ('{"x": [1, 2,]}', "remove the comma before the closing bracket (JSON allows no trailing comma)"),
    ('{"name": "t", // my run\n "seed": 3}', "JSON has no comments: remove it"),
    ("{'name': 't'}", "JSON strings and keys use double quotes"),
    ('{"name": "t" "seed": 3}', None),
])
def test_malformed_json_says_the_usual_cause(tmp_path: Path, text: str, hint: str | None) -> None:
    path = tmp_path / "spec.json"
    path.write_text(text)
    with pytest.raises(SpecError) as info:
        load_spec_file(path)
    (issue,) = info.value.issues
    assert issue.message.startswith("malformed JSON at line") and issue.hint == hint


def test_a_bad_schedule_is_reported_at_loop_schedule_in_our_words(registry) -> None:  # type: ignore[no-untyped-def]
    raw = good_spec()
    raw["loop"] = {"schedule": [16, 8]}
    found = issues(raw, registry)
    assert found == {"loop.schedule": "loop.schedule: must hold positive, strictly increasing label totals "
                                      "(cumulative), e.g. [16, 32, 64] (got [16, 8])"}


def test_an_invalid_test_size_is_reported_once_not_again_as_a_missing_test_set(tmp_path: Path) -> None:
    raw = good_spec()
    raw["data"]["test_size"] = "twenty"
    path = tmp_path / "spec.json"
    path.write_text(json.dumps(raw))
    env = {**os.environ, "PYTHONPATH": str(TESTS)}
    proc = subprocess.run([sys.executable, "-m", "atgen_core", "validate", str(path), "-p", "atgen_test_components"],
                          capture_output=True, text=True, env=env, timeout=60)
    assert proc.returncode == 2
    problems = [line for line in proc.stderr.splitlines() if line.startswith("  ")]
    assert len(problems) == 1 and problems[0].startswith("  data.test_size: Input should be a valid number"), problems
