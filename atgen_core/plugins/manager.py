"""The plugin manager of project ``atgen``: settings, tracing, and checking and registering one plugin."""

from __future__ import annotations

import importlib.metadata
import inspect
import os
import re
import sys
import traceback

import pluggy

from atgen_core import hookspecs
from atgen_core.components import KINDS
from atgen_core.registry import DisabledPlugin, PluginFailure, PluginRecord, close_matches

__all__ = [
    "DISABLE_ENV",
    "ENTRY_POINT_GROUP",
    "HOOKS_BY_KIND",
    "KNOWN_HOOKS",
    "LOAD_ENV",
    "TRACE_ENV",
    "AtgenPluginManager",
    "describe_exception",
    "hook_problems",
    "normalize_name",
    "register_plugin",
    "trace",
]

ENTRY_POINT_GROUP = "atgen"
DISABLE_ENV = "ATGEN_DISABLE_PLUGINS"
LOAD_ENV = "ATGEN_LOAD_PLUGINS"
TRACE_ENV = "ATGEN_TRACE_PLUGINS"


def _hook_for_kind(kind: str) -> str:
    """The registration hook of a kind: ``atgen_register_`` plus the kind's plural."""
    plural = kind[:-1] + "ies" if kind.endswith("y") else kind + "s"
    return f"atgen_register_{plural}"


HOOKS_BY_KIND: dict[str, str] = {kind: _hook_for_kind(kind) for kind in KINDS}
"""Component kind -> the registration hook that provides it (e.g. ``strategy`` ->
``atgen_register_strategies``); tests check that each one is a hookspec."""

KNOWN_HOOKS: tuple[str, ...] = tuple(sorted(hookspecs.__all__))


def normalize_name(name: str) -> str:
    """PEP 503 normalisation, so ``atgen_Foo`` and ``atgen-foo`` name the same distribution."""
    return re.sub(r"[-_.]+", "-", name).lower()


def _tracing() -> bool:
    return os.environ.get(TRACE_ENV, "").strip().lower() not in ("", "0", "false", "no")


def trace(message: str) -> None:
    """Print ``message`` to stderr when ``ATGEN_TRACE_PLUGINS`` is set."""
    if _tracing():
        print(f"atgen-trace: {message}", file=sys.stderr)


_IMPORTLIB_DIR = os.path.dirname(importlib.metadata.__file__ or "").rsplit(os.sep, 1)[0] + os.sep
_PACKAGE_DIR = os.path.dirname(os.path.abspath(__file__)) + os.sep


def describe_exception(exc: BaseException) -> str:
    """``Type: message`` plus the innermost frame, which usually points at the plugin's own line."""
    text = f"{type(exc).__name__}: {exc}".rstrip(": ")
    frames = [
        f for f in traceback.extract_tb(exc.__traceback__) if not f.filename.startswith(("<frozen", _IMPORTLIB_DIR))
    ]
    if frames and not frames[-1].filename.startswith(_PACKAGE_DIR):
        last = frames[-1]
        text += f" (at {last.filename}:{last.lineno})"
    return text


class AtgenPluginManager(pluggy.PluginManager):
    """A pluggy manager for project ``atgen`` that remembers where each plugin came from and what failed."""

    def __init__(self) -> None:
        super().__init__(hookspecs.PROJECT_NAME)
        self.add_hookspecs(hookspecs)
        self.records: dict[str, PluginRecord] = {}
        """Plugin name -> record, for every plugin registered or attempted."""
        self.load_failures: list[PluginFailure] = []
        """Failures found while loading and registering (hook results are checked later)."""
        self.disabled: list[DisabledPlugin] = []
        self.shadowed: list[PluginRecord] = []
        """Entry points not loaded because another distribution already uses their name."""


def hook_problems(pm: pluggy.PluginManager, plugin: object, name: str) -> list[str]:
    """Mistakes in a plugin's hook functions that pluggy would let pass silently.

    Finds hook implementations whose name matches no hookspec (usually a typo, reported with a
    suggestion) and functions that are named like a hook but lack ``@hookimpl``.
    """
    problems: list[str] = []
    own_module = plugin.__name__ if inspect.ismodule(plugin) else None
    for attr in sorted(dir(plugin)):
        opts = pm.parse_hookimpl_opts(plugin, attr)
        if opts is not None:
            hook = opts.get("specname") or attr
            if hook not in KNOWN_HOOKS:
                problems.append(_unknown_hook(hook, name))
            continue
        if not attr.startswith("atgen_"):
            continue
        try:
            value = inspect.getattr_static(plugin, attr)
        except AttributeError:
            continue
        if isinstance(value, (staticmethod, classmethod)):
            value = value.__func__
        if not inspect.isroutine(value):
            continue
        if own_module is not None and getattr(value, "__module__", None) != own_module:
            continue  # a helper imported from elsewhere, not meant as a hook
        if attr in KNOWN_HOOKS:
            problems.append(
                f"function {attr!r} in plugin {name!r} is not marked as a hook implementation; "
                "decorate it with @hookimpl (from atgen_core import hookimpl)"
            )
        else:
            problems.append(_unknown_hook(attr, name))
    return problems


def _unknown_hook(hook: str, plugin: str) -> str:
    matches = close_matches(hook, KNOWN_HOOKS, n=1)
    if matches:
        return f"unknown hook {hook!r} in plugin {plugin!r}; did you mean {matches[0]!r}?"
    return f"unknown hook {hook!r} in plugin {plugin!r}; known hooks: {', '.join(KNOWN_HOOKS)}"


def register_plugin(
    pm: AtgenPluginManager,
    plugin: object,
    name: str | None = None,
    *,
    distribution: str | None = None,
    version: str | None = None,
    module: str | None = None,
) -> PluginFailure | None:
    """Check and register one plugin object; on a problem record and return a failure instead of raising."""
    name = name or getattr(plugin, "__name__", None) or f"plugin-{id(plugin)}"
    module = module or getattr(plugin, "__name__", None) or type(plugin).__module__
    failure: PluginFailure | None = None
    problems = hook_problems(pm, plugin, name)
    if problems:
        failure = PluginFailure(
            name,
            distribution,
            version,
            "; ".join(problems),
            f"fix the hook names or set {DISABLE_ENV}={name}",
            module=module,
        )
    else:
        try:
            pm.register(plugin, name=name)
        except pluggy.PluginValidationError as exc:
            failure = PluginFailure(
                name,
                distribution,
                version,
                f"invalid hook implementation: {exc}",
                "registration hooks take no arguments; check the function signature",
                module=module,
            )
        except ValueError as exc:  # name or object already registered
            failure = PluginFailure(
                name,
                distribution,
                version,
                f"cannot register: {exc}",
                "each plugin needs a unique name and its own hooks module",
                module=module,
            )
    hooks: tuple[str, ...] = ()
    if failure is None:
        hooks = tuple(sorted(caller.name for caller in pm.get_hookcallers(plugin) or ()))
    else:
        pm.load_failures.append(failure)
        trace(f"failed plugin {name}: {failure.error}")
    pm.records.setdefault(name, PluginRecord(name, distribution, version, module, hooks))
    return failure
