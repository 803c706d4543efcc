"""The loop and the store stay small rooms: modules under 400 lines, functions under 60 lines."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

CORE = Path(__file__).resolve().parents[1] / "atgen_core"
FILES = sorted([*(CORE / "loop").glob("*.py"), *CORE.glob("store*.py")])


def long_functions(path: Path, limit: int = 60) -> list[str]:
    """Functions of ``path`` longer than ``limit`` lines whose docstring gives no reason for it."""
    out = []
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
            length = (node.end_lineno or node.lineno) - node.lineno + 1
            if length > limit and "long because" not in (ast.get_docstring(node) or ""):
                out.append(f"{path.name}:{node.lineno} {node.name} ({length} lines)")
    return out


def test_the_rooms_exist() -> None:
    names = {p.name for p in FILES}
    assert {"experiment.py", "round.py", "driver.py", "store.py", "store_labels.py"} <= names


@pytest.mark.parametrize("path", FILES, ids=lambda p: p.name)
def test_module_is_under_400_lines_and_its_functions_under_60(path: Path) -> None:
    assert len(path.read_text(encoding="utf-8").splitlines()) < 400
    assert long_functions(path) == []


def test_the_check_finds_a_long_function(tmp_path: Path) -> None:
    body = "\n".join(f"    x{i} = {i}" for i in range(70))
    module = tmp_path / "m.py"
    module.write_text(f"def short():\n    return 1\n\n\ndef long():\n{body}\n", encoding="utf-8")
    assert long_functions(module) == ["m.py:5 long (71 lines)"]
