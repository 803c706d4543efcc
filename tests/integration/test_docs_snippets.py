"""Every JSON snippet of the docs (docs/**/*.md and the plugin READMEs, which the site shows) is valid.

A snippet is a ```json block. A whole spec (it has ``name`` and ``data``) is validated as it is; a
partial spec (``{"strategy": ...}``) or a bare top-level fragment (``"annotator": {...}``) is merged
into a small base spec. Each is checked with ``atgen validate`` (phase 1 and 2: every component
exists and every config validates). A block that is not a spec (a benchmark spec, the config of one
component) says so with ``<!-- docs-snippet: kind (why) -->`` on the line before the fence; kinds:
``benchmark`` (checked with the benchmark loader), ``skip`` (with the reason). Needs the in-repo
plugins (the ``plugins`` nox session).
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import pytest

from atgen_core.cli import main
from atgen_core.plugins import load_registry

REPO = Path(__file__).resolve().parents[2]
SOURCES = sorted([REPO / "README.md", *(REPO / "docs").rglob("*.md"), *(REPO / "plugins").glob("*/README.md")])
_BLOCK = re.compile(r"(?:<!-- docs-snippet: (?P<mark>\w+)[^>]*-->\s*\n)?```json\n(?P<body>.*?)\n```", re.S)


def snippets() -> list[Any]:
    found = []
    for path in SOURCES:
        text = path.read_text(encoding="utf-8")
        for match in _BLOCK.finditer(text):
            line = text.count("\n", 0, match.start("body"))
            where = f"{path.relative_to(REPO)}:{line}"
            found.append(pytest.param(match.group("mark") or "spec", match.group("body"), id=where))
    return found


def parse(body: str) -> dict[str, Any]:
    """The snippet as a JSON object: a whole object, or ``"key": value`` fragments wrapped in braces."""
    try:
        value = json.loads(body)
    except json.JSONDecodeError:
        value = json.loads("{" + body + "}")
    assert isinstance(value, dict), "a spec snippet must be a JSON object or top-level fragment"
    return value


@pytest.fixture(scope="module")
def base(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    registry = load_registry()
    for kind, name in (("strategy", "random"), ("trainer", "lora"), ("data_source", "files")):
        if name not in registry.names(kind):
            pytest.skip(f"the docs snippets need the in-repo plugins ({kind} {name!r} is not installed)")
    data = tmp_path_factory.mktemp("snippet-data") / "rows.jsonl"
    data.write_text("\n".join(json.dumps({"input": f"in {i}", "target": f"out {i}"}) for i in range(20)) + "\n",
                    encoding="utf-8")
    source = {"name": "files", "config": {"train": str(data)}}
    return {"name": "docs-snippet", "data": {"source": source, "test_size": 4}, "strategy": "random"}


def test_docs_have_json_snippets() -> None:
    assert len(snippets()) >= 10


@pytest.mark.parametrize(("mark", "body"), snippets())
def test_snippet_is_valid(mark: str, body: str, base: dict[str, Any], tmp_path: Path,
                          capsys: pytest.CaptureFixture[str]) -> None:
    if mark == "skip":
        pytest.skip("marked docs-snippet: skip")
    value = parse(body)
    if mark == "benchmark":
        from atgen_core.benchmark import BenchmarkSpec

        bench = BenchmarkSpec.model_validate(value)
        registry = load_registry()
        unknown = [s.name for s in bench.strategies if s.name not in registry.names("strategy")]
        assert not unknown, f"benchmark snippet names unknown strategies {unknown}"
        return
    assert mark == "spec", f"unknown docs-snippet mark {mark!r}"
    spec = value if {"name", "data"} <= set(value) else {**base, **value}
    path = tmp_path / "spec.json"
    path.write_text(json.dumps(spec), encoding="utf-8")
    code = main(["validate", "--spec-only", str(path)])
    captured = capsys.readouterr()
    assert code == 0, f"atgen validate failed for this snippet:\n{captured.err}{captured.out}"
