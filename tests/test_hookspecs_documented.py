"""Docs stay honest: every hookspec is documented with its exact signature and has a test.

After simonw/datasette's ``test_plugin_hooks_are_documented`` and ``test_plugin_hooks_have_tests``.
Also checks that the plugin directory lists every distribution under ``plugins/``.
"""

from __future__ import annotations

import inspect
import re
from pathlib import Path

import pytest

from atgen_core import hookspecs

REPO = Path(__file__).resolve().parents[1]
DOCS = REPO / "docs" / "plugins"


def hookspec_names() -> list[str]:
    """Every function in hookspecs.py marked as an atgen hookspec."""
    return sorted(
        name
        for name, fn in inspect.getmembers(hookspecs, inspect.isfunction)
        if hasattr(fn, f"{hookspecs.PROJECT_NAME}_spec")
    )


def signature_text(name: str) -> str:
    """``name(params) -> return`` as written in hookspecs.py (annotations are strings there)."""
    fn = getattr(hookspecs, name)
    sig = inspect.signature(fn)
    params = ", ".join(
        f"{p.name}: {p.annotation}" if p.annotation is not inspect.Parameter.empty else p.name
        for p in sig.parameters.values()
    )
    return f"{name}({params}) -> {sig.return_annotation}"


def test_hookspecs_are_found_and_exported() -> None:
    from atgen_core.plugins import HOOKS_BY_KIND

    names = hookspec_names()
    # one registration hook per component kind, plus the command-line hook
    assert names == sorted([*HOOKS_BY_KIND.values(), "atgen_register_commands"])
    assert names == sorted(hookspecs.__all__)


@pytest.mark.parametrize("name", hookspec_names())
def test_hookspec_is_documented_with_its_exact_signature(name: str) -> None:
    text = (DOCS / "hooks.md").read_text(encoding="utf-8")
    assert f"### `{name}`" in text, f"docs/plugins/hooks.md has no section '### `{name}`'"
    assert signature_text(name) in text, f"docs/plugins/hooks.md lacks the signature {signature_text(name)!r}"


@pytest.mark.parametrize("name", hookspec_names())
def test_hookspec_has_a_test(name: str) -> None:
    tests = "\n".join(p.read_text(encoding="utf-8") for p in (REPO / "tests").glob("test_*.py"))
    assert re.search(rf"^def test_hook_{name}\(", tests, re.M), f"no test named test_hook_{name} under tests/"


def test_hooks_doc_has_no_stale_hooks() -> None:
    text = (DOCS / "hooks.md").read_text(encoding="utf-8")
    documented = set(re.findall(r"^### `(atgen_\w+)`", text, re.M))
    assert documented == set(hookspec_names())


def test_plugin_docs_exist_and_link_each_other() -> None:
    for page in ("writing.md", "hooks.md", "testing.md", "directory.md"):
        assert (DOCS / page).is_file(), f"docs/plugins/{page} is missing"
    writing = (DOCS / "writing.md").read_text(encoding="utf-8")
    for env in ("ATGEN_DISABLE_PLUGINS", "ATGEN_LOAD_PLUGINS", "ATGEN_TRACE_PLUGINS"):
        assert env in writing
    for link in ("hooks.md", "testing.md", "directory.md"):
        assert f"]({link})" in writing


def test_testing_doc_covers_every_public_helper() -> None:
    import atgen_core.testing as testing

    text = (DOCS / "testing.md").read_text(encoding="utf-8")
    missing = [name for name in testing.__all__ if name != "HEAVY_MODULES" and f"`{name}" not in text]
    assert not missing, f"docs/plugins/testing.md does not mention {missing}"


def test_directory_lists_every_in_repo_plugin() -> None:
    text = (DOCS / "directory.md").read_text(encoding="utf-8")
    missing = []
    for pyproject in sorted((REPO / "plugins").glob("*/pyproject.toml")):
        found = re.search(r'^name\s*=\s*"([^"]+)"', pyproject.read_text(encoding="utf-8"), re.M)
        assert found, f"{pyproject} has no project name"
        name = found.group(1)
        if f"`{name}`" not in text:
            missing.append(name)
    assert not missing, f"docs/plugins/directory.md does not list {missing}"
