"""Plugin commands (``atgen_register_commands``), declared defaults, and a core that names no plugin."""

from __future__ import annotations

import argparse
import re
import types
from pathlib import Path
from typing import Any

import atgen_test_components as fakes
import pytest

from atgen_core import hookimpl
from atgen_core.cli import main
from atgen_core.errors import SpecError
from atgen_core.plugins import load_registry
from atgen_core.registry import Registry
from atgen_core.spec import resolve_spec

REPO = Path(__file__).resolve().parents[1]


def _plugin(name: str, commands: Any) -> types.ModuleType:
    module = types.ModuleType(name)
    commands.__module__ = name
    module.atgen_register_commands = hookimpl(commands)  # type: ignore[attr-defined]
    return module


def _hello(cli: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    parser = cli.add_parser("hello", help="greet someone")
    parser.add_argument("name")
    parser.set_defaults(func=lambda args: print(f"hello {args.name}") or 7)


def _broken(cli: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    cli.add_parser("half-done", help="added before the plugin fails")
    raise RuntimeError("boom")


def _clash(cli: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    parser = cli.add_parser("run", help="a plugin trying to replace a core command")
    parser.set_defaults(func=lambda args: 99)


def _registry(**plugins: Any) -> Registry:
    return load_registry(load_entrypoints=False, plugins=[(n, _plugin(n, f)) for n, f in plugins.items()])


def _help(registry: Registry, capsys: pytest.CaptureFixture[str]) -> str:
    with pytest.raises(SystemExit):
        main(["--help"], registry=registry)
    return capsys.readouterr().out


def test_hook_atgen_register_commands(capsys: pytest.CaptureFixture[str]) -> None:
    registry = _registry(greeter=_hello)
    assert [c.plugin for c in registry.commands] == ["greeter"]
    assert "hello" in _help(registry, capsys)
    assert main(["hello", "world"], registry=registry) == 7
    assert "hello world" in capsys.readouterr().out


def test_without_a_plugin_help_lists_only_core_commands(capsys: pytest.CaptureFixture[str]) -> None:
    text = _help(load_registry(load_entrypoints=False), capsys)
    assert "list-plugins" in text and "run" in text
    assert "annotate" not in text and "hello" not in text


def test_a_broken_or_clashing_plugin_adds_nothing_and_the_rest_works(capsys: pytest.CaptureFixture[str]) -> None:
    registry = _registry(broken=_broken, clash=_clash, greeter=_hello)
    text = _help(registry, capsys)
    assert "hello" in text and "half-done" not in text  # what the failing plugin added is taken back
    failures = {f.plugin: f.error for f in registry.failures}
    assert "RuntimeError: boom" in failures["broken"] and "run" in failures["clash"]
    assert main(["hello", "x"], registry=_registry(broken=_broken, clash=_clash, greeter=_hello)) == 7
    captured = capsys.readouterr()
    assert "warning: broken" in captured.err and "boom" in captured.err
    with pytest.raises(SystemExit) as exited:  # `run` is still the core's command (it needs a spec argument)
        main(["run"], registry=_registry(clash=_clash))
    assert exited.value.code == 2


def _plugin_names() -> list[str]:
    names = []
    for pyproject in sorted((REPO / "plugins").glob("*/pyproject.toml")):
        found = re.search(r'^name\s*=\s*"([^"]+)"', pyproject.read_text(encoding="utf-8"), re.M)
        assert found, pyproject
        names += [found.group(1), found.group(1).replace("-", "_")]
        names += [p.name for p in pyproject.parent.glob("atgen_*") if p.is_dir() and not p.name.endswith("-info")]
    return sorted(set(names))


def test_the_core_names_no_plugin() -> None:
    names = _plugin_names()
    assert "atgen_human_annotator" in names and "atgen-lora-trainer" in names and "atgen_basics" in names
    pattern = re.compile("|".join(re.escape(n) for n in names))
    hits = [
        f"{path.relative_to(REPO)}:{n}: {line.strip()}"
        for path in sorted((REPO / "atgen_core").rglob("*"))
        if path.is_file() and path.suffix in (".py", ".json", ".md", ".toml", ".txt", ".html")
        for n, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1)
        if pattern.search(line)
    ]
    assert not hits, "atgen_core names plugins:\n" + "\n".join(hits)


class _Default(fakes.CountingOracle):  # type: ignore[misc,name-defined]
    """A second annotator declaring itself the default."""

    name = "default-oracle"
    default = True


def _spec(**leave: Any) -> dict[str, Any]:
    spec: dict[str, Any] = {
        "name": "defaults", "data": {"source": {"name": "memory", "config": {"generate": 20}}, "test_size": 5},
        "strategy": "test-random", "annotator": "counting-oracle", "trainer": "fake-trainer", "metrics": ["accuracy"],
    }
    for key in leave:
        spec.pop(key)
    return spec


def test_a_left_out_component_is_the_declared_default() -> None:
    plain = load_registry(load_entrypoints=False, plugins=[("test-components", fakes)])
    assert plain.default_name("annotator") is None
    with pytest.raises(SpecError) as info:
        resolve_spec(_spec(annotator=None), plain)
    assert [i.path for i in info.value.issues] == ["annotator"]
    extra = types.ModuleType("defaults")
    extra.atgen_register_annotators = hookimpl(lambda: _Default)  # type: ignore[attr-defined]
    extra.atgen_register_annotators.__module__ = "defaults"  # type: ignore[attr-defined]
    registry = load_registry(load_entrypoints=False, plugins=[("test-components", fakes), ("defaults", extra)])
    assert registry.ok and registry.default_name("annotator") == "default-oracle"
    assert resolve_spec(_spec(annotator=None), registry).annotator.name == "default-oracle"
    assert resolve_spec(_spec(), registry).annotator.name == "counting-oracle"  # a named one wins
