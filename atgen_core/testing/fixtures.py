"""Plugin manager fixtures and a fake site of installed distributions, for discovery tests.

PYTEST_DONT_REWRITE: the helpers raise ``AssertionError`` with explicit messages themselves.
"""

from __future__ import annotations

import importlib
import sys
import textwrap
from collections.abc import Callable, Iterator, Mapping
from contextlib import ExitStack, contextmanager
from pathlib import Path
from typing import Any

import pytest

from atgen_core.plugins import (
    ENTRY_POINT_GROUP,
    AtgenPluginManager,
    build_registry,
    create_plugin_manager,
    hook_problems,
    load_registry,
)
from atgen_core.registry import Registry

__all__ = ["FakeSite", "atgen_fake_site", "atgen_pm", "atgen_registry", "registered"]


@pytest.fixture
def atgen_pm() -> AtgenPluginManager:
    """A fresh plugin manager with the atgen hookspecs and no entry points loaded."""
    return create_plugin_manager(load_entrypoints=False)


@pytest.fixture
def atgen_registry(atgen_pm: AtgenPluginManager) -> Callable[..., Registry]:
    """``atgen_registry(*plugins)``: the registry of ``atgen_pm`` with ``plugins`` registered meanwhile."""

    def build(*plugins: object) -> Registry:
        with ExitStack() as stack:
            for plugin in plugins:
                stack.enter_context(registered(atgen_pm, plugin))
            return build_registry(atgen_pm)

    return build


@contextmanager
def registered(pm: AtgenPluginManager, plugin: object, name: str | None = None) -> Iterator[object]:
    """Register ``plugin`` in ``pm`` for the ``with`` block; it is unregistered even if the block raises.

    Misspelt hook names and functions missing ``@hookimpl`` raise ``ValueError`` here, with the same
    message discovery would report.
    """
    plugin_name = name or getattr(plugin, "__name__", None) or f"plugin-{id(plugin)}"
    problems = hook_problems(pm, plugin, plugin_name)
    if problems:
        raise ValueError("; ".join(problems))
    pm.register(plugin, name=plugin_name)
    try:
        yield plugin
    finally:
        pm.unregister(plugin)


class FakeSite:
    """A directory on ``sys.path`` holding installed-looking distributions (``*.dist-info`` folders).

    ``add_distribution`` writes the metadata and the given source files; ``registry()`` runs real
    discovery restricted to this directory, so other installed plugins do not interfere.
    """

    def __init__(self, path: Path) -> None:
        self.path = path
        self.path.mkdir(parents=True, exist_ok=True)

    def add_distribution(
        self,
        name: str,
        *,
        version: str = "0.1.0",
        entry_points: Mapping[str, str] | None = None,
        files: Mapping[str, str] | None = None,
    ) -> Path:
        """Create distribution ``name`` with ``[atgen]`` ``entry_points`` and source ``files``.

        ``files`` maps paths relative to the site (``"my_pkg/hooks.py"``) to their source text.
        Returns the ``.dist-info`` directory.
        """
        for rel, text in (files or {}).items():
            target = self.path / rel
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_text(textwrap.dedent(text), encoding="utf-8")
        info = self.path / f"{name.replace('-', '_')}-{version}.dist-info"
        info.mkdir(parents=True, exist_ok=True)
        (info / "METADATA").write_text(f"Metadata-Version: 2.1\nName: {name}\nVersion: {version}\n", encoding="utf-8")
        lines = [f"[{ENTRY_POINT_GROUP}]"] + [f"{k} = {v}" for k, v in (entry_points or {}).items()]
        (info / "entry_points.txt").write_text("\n".join(lines) + "\n", encoding="utf-8")
        importlib.invalidate_caches()
        return info

    def registry(self, **kwargs: Any) -> Registry:
        """``load_registry`` over this directory only (keyword arguments are passed on)."""
        return load_registry(search_path=[str(self.path)], **kwargs)


@pytest.fixture
def atgen_fake_site(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[FakeSite]:
    """A :class:`FakeSite` on ``sys.path``; modules imported from it are forgotten afterwards."""
    site = FakeSite(tmp_path / "fake-site")
    monkeypatch.syspath_prepend(str(site.path))
    yield site
    root = str(site.path)
    for name, module in list(sys.modules.items()):
        if str(getattr(module, "__file__", None) or "").startswith(root):
            del sys.modules[name]
    importlib.invalidate_caches()
