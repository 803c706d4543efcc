"""Every spec under examples/ validates against the installed plugins (run with all plugins installed)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from atgen_core.plugins import load_registry
from atgen_core.spec import load_spec_file, resolve_spec

EXAMPLES = sorted((Path(__file__).parents[2] / "examples").glob("*.json"))


@pytest.fixture(scope="module")
def registry():  # type: ignore[no-untyped-def]
    return load_registry()


@pytest.mark.parametrize("path", EXAMPLES, ids=[p.name for p in EXAMPLES])
def test_example_spec_validates(path: Path, registry) -> None:  # type: ignore[no-untyped-def]
    raw = load_spec_file(path)
    resolved = resolve_spec(raw, registry, source=str(path), base_dir=path.parent)
    assert resolved.spec.name == raw["name"]
    assert resolved.strategy.name == (raw["strategy"] if isinstance(raw["strategy"], str) else raw["strategy"]["name"])


def test_examples_reference_the_published_schema_file() -> None:
    for path in EXAMPLES:
        assert json.loads(path.read_text())["$schema"] == "../docs/atgen-spec.schema.json"


@pytest.mark.parametrize("path", EXAMPLES, ids=[p.name for p in EXAMPLES])
def test_example_spec_validates_against_the_published_json_schema(path: Path) -> None:
    jsonschema = pytest.importorskip("jsonschema")
    schema = json.loads((path.parent.parent / "docs" / "atgen-spec.schema.json").read_text())
    jsonschema.validate(json.loads(path.read_text()), schema)
