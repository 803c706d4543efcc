"""The plugin is found through its real entry point (needs `pip install -e plugins/example`)."""

from __future__ import annotations

from collections.abc import Callable

from atgen_example import hooks
from atgen_example.longest_first import LongestFirstStrategy

from atgen_core.plugins import load_registry
from atgen_core.registry import Registry

pytest_plugins = ["atgen_core.testing"]


def test_registered_through_the_installed_entry_point() -> None:
    registry = load_registry()
    info = registry.get("strategy", "longest-first")
    assert info.cls is LongestFirstStrategy
    assert info.plugin == "example"
    assert info.distribution == "atgen-example"
    assert not registry.failures_of("example")


def test_hooks_module_registers_only_the_strategy(atgen_registry: Callable[..., Registry]) -> None:
    registry = atgen_registry(hooks)
    assert [(c.kind, c.name) for c in registry.all()] == [("strategy", "longest-first")]
    assert registry.ok


def test_hooks_module_imports_no_heavy_library() -> None:
    from atgen_core.testing import check_light_import

    assert check_light_import("atgen_example.hooks") == []
