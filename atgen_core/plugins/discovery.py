"""Discovery: every ``atgen`` entry point loaded on its own; whatever goes wrong is recorded, not raised.

Why not ``PluginManager.load_setuptools_entrypoints``: it calls ``ep.load()`` without a ``try`` (one
broken plugin takes every command down) and silently skips an entry-point name that is already
registered.
"""

from __future__ import annotations

import importlib.metadata
import os
import re
import sys
from collections.abc import Iterator, Sequence
from dataclasses import dataclass

from atgen_core.plugins.manager import (
    DISABLE_ENV,
    ENTRY_POINT_GROUP,
    LOAD_ENV,
    AtgenPluginManager,
    describe_exception,
    normalize_name,
    register_plugin,
    trace,
)
from atgen_core.registry import DisabledPlugin, PluginFailure, PluginRecord

__all__ = ["create_plugin_manager", "load_entry_points"]


def create_plugin_manager(
    load_entrypoints: bool = True, *, search_path: Sequence[str] | None = None
) -> AtgenPluginManager:
    """A fresh plugin manager with the atgen hookspecs; with ``load_entrypoints`` it loads every plugin.

    ``search_path`` restricts discovery to distributions found in these directories (default:
    ``sys.path``); tests use it to see only the distributions they created.
    """
    pm = AtgenPluginManager()
    if load_entrypoints:
        load_entry_points(pm, search_path=search_path)
    return pm


@dataclass(frozen=True)
class _Found:
    """One ``atgen`` entry point with the distribution that declares it."""

    entry_point: importlib.metadata.EntryPoint
    distribution: str | None
    version: str | None


def _iter_entry_points(search_path: Sequence[str] | None) -> Iterator[_Found]:
    """Entry points of group ``atgen``, one distribution name once (the first on the path wins).

    The same rule as ``importlib.metadata.entry_points()``; reading ``entry_points.txt`` first keeps
    the scan cheap (metadata is parsed only for distributions that have an ``atgen`` group).
    """
    seen: set[str] = set()
    dists = importlib.metadata.distributions(path=list(search_path) if search_path is not None else sys.path)
    for dist in dists:
        try:
            text = dist.read_text("entry_points.txt")
        except Exception:  # unreadable metadata of an unrelated distribution
            continue
        if not text or not _GROUP_HEADER.search(text):
            continue
        try:
            name = dist.metadata["Name"] or ""
        except KeyError:
            name = ""
        key = normalize_name(name)
        if key in seen:
            continue
        seen.add(key)
        for ep in dist.entry_points.select(group=ENTRY_POINT_GROUP):
            yield _Found(ep, name or None, dist.version)


_GROUP_HEADER = re.compile(rf"^\[\s*{re.escape(ENTRY_POINT_GROUP)}\s*\]\s*$", re.M)


def _env_list(var: str) -> set[str] | None:
    """Normalised names listed in ``var`` (None when unset)."""
    raw = os.environ.get(var)
    if raw is None:
        return None
    return {normalize_name(part.strip()) for part in raw.split(",") if part.strip()}


def _blocked_reason(plugin: str, distribution: str | None) -> str | None:
    names = {normalize_name(plugin)} | ({normalize_name(distribution)} if distribution else set())
    disabled = _env_list(DISABLE_ENV)
    if disabled and names & disabled:
        return f"listed in {DISABLE_ENV}"
    allowed = _env_list(LOAD_ENV)
    if allowed is not None and not names & allowed:
        return f"not listed in {LOAD_ENV}"
    return None


def _shadowed(found: _Found, owner: str | None) -> PluginFailure:
    """The failure of an entry point whose name another distribution already uses."""
    ep = found.entry_point
    return PluginFailure(
        plugin=ep.name,
        distribution=found.distribution,
        version=found.version,
        module=ep.value,
        error=(
            f"entry point name {ep.name!r} is already used by {owner or 'another plugin'}; "
            "entry-point names must be unique across installed distributions"
        ),
        hint=(
            "rename the entry point under [project.entry-points.atgen] in one of the two "
            "pyproject.toml files and reinstall it"
        ),
    )


def _load_failure(found: _Found, exc: BaseException) -> PluginFailure:
    """The failure of an entry point that could not be imported, with a hint for a missing module."""
    ep, dist = found.entry_point, found.distribution
    missing = getattr(exc, "name", None) if isinstance(exc, ModuleNotFoundError) else None
    hint = f"set {DISABLE_ENV}={ep.name} to hide it"
    if missing and (ep.module == missing or ep.module.startswith(missing + ".")):
        hint = (
            f"the entry point names module {ep.module!r}, which is not installed: check "
            f"[project.entry-points.atgen] of {dist or 'the distribution'} and reinstall it (or {hint})"
        )
    elif missing:
        hint = f"install the missing module {missing!r} (or {hint})"
    return PluginFailure(ep.name, dist, found.version, describe_exception(exc), hint, module=ep.value)


def load_entry_points(pm: AtgenPluginManager, *, search_path: Sequence[str] | None = None) -> None:
    """Load and register every ``atgen`` entry point, recording failures and disabled plugins in ``pm``."""
    owners: dict[str, str | None] = {}
    for found in _iter_entry_points(search_path):
        ep, dist, version = found.entry_point, found.distribution, found.version
        reason = _blocked_reason(ep.name, dist)
        if reason is not None:
            trace(f"skip entry point {ep.name!r} of {dist}: {reason}")
            pm.disabled.append(DisabledPlugin(ep.name, dist, version, reason))
            continue
        if ep.name in owners:
            pm.load_failures.append(_shadowed(found, owners[ep.name]))
            pm.shadowed.append(PluginRecord(ep.name, dist, version, ep.value))
            continue
        owners[ep.name] = dist
        trace(f"load entry point {ep.name} = {ep.value} ({dist} {version})")
        try:
            plugin = ep.load()
        except (Exception, SystemExit) as exc:
            pm.load_failures.append(_load_failure(found, exc))
            pm.records[ep.name] = PluginRecord(ep.name, dist, version, ep.value)
            continue
        register_plugin(pm, plugin, ep.name, distribution=dist, version=version, module=ep.value)
