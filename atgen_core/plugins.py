"""Plugin discovery: load every ``atgen`` entry point on its own, then build the component registry.

Why not ``PluginManager.load_setuptools_entrypoints``: it calls ``ep.load()`` without a ``try`` (one
broken plugin takes every command down) and silently skips an entry-point name that is already
registered. Here each entry point is loaded, checked and registered separately; whatever goes wrong
becomes a :class:`~atgen_core.registry.PluginFailure` and discovery carries on.

Environment variables:

- ``ATGEN_DISABLE_PLUGINS=a,b``: do not load these plugins (entry-point or distribution names).
- ``ATGEN_LOAD_PLUGINS=a,b``: load only these plugins; an empty value loads none.
- ``ATGEN_TRACE_PLUGINS=1``: print discovery steps and every registration hook's result to stderr.

Nothing heavy is imported here: discovery costs one scan of the installed distributions plus the
import of each plugin's ``hooks`` module (which, by contract, imports no heavy library).
"""

from __future__ import annotations

import importlib.metadata
import inspect
import os
import re
import sys
import traceback
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from typing import Any

import pluggy

from atgen_core import hookspecs
from atgen_core.components import KINDS, NAME_PATTERN, Component, PluginConfig
from atgen_core.registry import (
    CommandProvider,
    ComponentInfo,
    Conflict,
    ConflictError,
    DisabledPlugin,
    PluginFailure,
    PluginLoadError,
    PluginRecord,
    Registry,
    close_matches,
)

__all__ = [
    "DISABLE_ENV",
    "ENTRY_POINT_GROUP",
    "HOOKS_BY_KIND",
    "LOAD_ENV",
    "TRACE_ENV",
    "AtgenPluginManager",
    "build_registry",
    "create_plugin_manager",
    "get_registry",
    "hook_problems",
    "load_entry_points",
    "load_registry",
    "register_plugin",
    "reset_registry",
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


def _normalize(name: str) -> str:
    """PEP 503 normalisation, so ``atgen_Foo`` and ``atgen-foo`` name the same distribution."""
    return re.sub(r"[-_.]+", "-", name).lower()


def _tracing() -> bool:
    return os.environ.get(TRACE_ENV, "").strip().lower() not in ("", "0", "false", "no")


def _trace(message: str) -> None:
    if _tracing():
        print(f"atgen-trace: {message}", file=sys.stderr)


_IMPORTLIB_DIR = os.path.dirname(importlib.metadata.__file__ or "").rsplit(os.sep, 1)[0] + os.sep


def _describe_exception(exc: BaseException) -> str:
    """``Type: message`` plus the innermost frame, which usually points at the plugin's own line."""
    text = f"{type(exc).__name__}: {exc}".rstrip(": ")
    frames = [
        f
        for f in traceback.extract_tb(exc.__traceback__)
        if not f.filename.startswith(("<frozen", _IMPORTLIB_DIR))
    ]
    if frames and frames[-1].filename != __file__:
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


# --------------------------------------------------------------------------------------------------
# Discovery
# --------------------------------------------------------------------------------------------------


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
        key = _normalize(name)
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
    return {_normalize(part.strip()) for part in raw.split(",") if part.strip()}


def _blocked_reason(plugin: str, distribution: str | None) -> str | None:
    names = {_normalize(plugin)} | ({_normalize(distribution)} if distribution else set())
    disabled = _env_list(DISABLE_ENV)
    if disabled and names & disabled:
        return f"listed in {DISABLE_ENV}"
    allowed = _env_list(LOAD_ENV)
    if allowed is not None and not names & allowed:
        return f"not listed in {LOAD_ENV}"
    return None


def load_entry_points(pm: AtgenPluginManager, *, search_path: Sequence[str] | None = None) -> None:
    """Load and register every ``atgen`` entry point, recording failures and disabled plugins in ``pm``."""
    owners: dict[str, str | None] = {}
    for found in _iter_entry_points(search_path):
        ep, dist, version = found.entry_point, found.distribution, found.version
        reason = _blocked_reason(ep.name, dist)
        if reason is not None:
            _trace(f"skip entry point {ep.name!r} of {dist}: {reason}")
            pm.disabled.append(DisabledPlugin(ep.name, dist, version, reason))
            continue
        if ep.name in owners:
            pm.load_failures.append(
                PluginFailure(
                    plugin=ep.name,
                    distribution=dist,
                    version=version,
                    module=ep.value,
                    error=(
                        f"entry point name {ep.name!r} is already used by {owners[ep.name] or 'another plugin'}; "
                        "entry-point names must be unique across installed distributions"
                    ),
                    hint=(
                        "rename the entry point under [project.entry-points.atgen] in one of the two "
                        "pyproject.toml files and reinstall it"
                    ),
                )
            )
            pm.shadowed.append(PluginRecord(ep.name, dist, version, ep.value))
            continue
        owners[ep.name] = dist
        _trace(f"load entry point {ep.name} = {ep.value} ({dist} {version})")
        try:
            plugin = ep.load()
        except (Exception, SystemExit) as exc:
            missing = getattr(exc, "name", None) if isinstance(exc, ModuleNotFoundError) else None
            hint = f"set {DISABLE_ENV}={ep.name} to hide it"
            if missing and (ep.module == missing or ep.module.startswith(missing + ".")):
                hint = (
                    f"the entry point names module {ep.module!r}, which is not installed: check "
                    f"[project.entry-points.atgen] of {dist or 'the distribution'} and reinstall it (or {hint})"
                )
            elif missing:
                hint = f"install the missing module {missing!r} (or {hint})"
            pm.load_failures.append(
                PluginFailure(ep.name, dist, version, _describe_exception(exc), hint, module=ep.value)
            )
            pm.records[ep.name] = PluginRecord(ep.name, dist, version, ep.value)
            continue
        register_plugin(pm, plugin, ep.name, distribution=dist, version=version, module=ep.value)


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
            name, distribution, version, "; ".join(problems), f"fix the hook names or set {DISABLE_ENV}={name}",
            module=module,
        )
    else:
        try:
            pm.register(plugin, name=name)
        except pluggy.PluginValidationError as exc:
            failure = PluginFailure(
                name, distribution, version, f"invalid hook implementation: {exc}",
                "registration hooks take no arguments; check the function signature", module=module,
            )
        except ValueError as exc:  # name or object already registered
            failure = PluginFailure(
                name, distribution, version, f"cannot register: {exc}",
                "each plugin needs a unique name and its own hooks module", module=module,
            )
    hooks: tuple[str, ...] = ()
    if failure is None:
        hooks = tuple(sorted(caller.name for caller in pm.get_hookcallers(plugin) or ()))
    else:
        pm.load_failures.append(failure)
        _trace(f"failed plugin {name}: {failure.error}")
    pm.records.setdefault(name, PluginRecord(name, distribution, version, module, hooks))
    return failure


# --------------------------------------------------------------------------------------------------
# Registry building
# --------------------------------------------------------------------------------------------------


def _qualname(obj: object) -> str:
    if isinstance(obj, type):
        return f"{obj.__module__}:{obj.__qualname__}"
    return f"{type(obj).__module__}:{type(obj).__qualname__} instance ({obj!r:.60})"


def _flatten(result: object) -> list[object]:
    """A hook result (None, one class, or an iterable of classes) as a list."""
    if result is None:
        return []
    if isinstance(result, type) or isinstance(result, (str, bytes)) or not isinstance(result, Iterable):
        return [result]
    return list(result)


def _component_problem(item: object, kind: str, hook: str, plugin: str) -> str | None:
    """Why ``item`` cannot be registered as a ``kind`` (None when it can)."""
    base = KINDS[kind]
    base_name = f"{base.__module__}:{base.__qualname__}"
    where = f"plugin {plugin!r} returned {_qualname(item)} from {hook}()"
    if not isinstance(item, type):
        if isinstance(item, Component):
            return f"{where}: an instance; return the class itself"
        return f"{where}, which is not a class; expected a subclass of {base_name}"
    if not issubclass(item, base):
        for other_kind, other_base in KINDS.items():
            if issubclass(item, other_base):
                return (
                    f"{where}, but it is a {other_base.__module__}:{other_base.__qualname__}, not a {base_name}; "
                    f"return it from {HOOKS_BY_KIND[other_kind]}()"
                )
        return f"{where}, which is not a subclass of {base_name}"
    name = getattr(item, "name", None)
    if not isinstance(name, str) or not NAME_PATTERN.match(name):
        return f"{where}, which has no valid `name` class attribute (got {name!r}); set e.g. name = 'my-{kind}'"
    if inspect.isabstract(item):
        missing = ", ".join(sorted(getattr(item, "__abstractmethods__", ())))
        return f"{where}, which is abstract (implement: {missing})"
    config = getattr(item, "Config", None)
    if not (isinstance(config, type) and issubclass(config, PluginConfig)):
        return f"{where}, whose Config is {config!r}, not a subclass of atgen_core.components:PluginConfig"
    return None


def _call_impl(impl: Any) -> object:
    """Call one hook implementation (the registration hooks take no arguments)."""
    return impl.function()


def _command_providers(pm: AtgenPluginManager, errors: dict[str, list[str]]) -> list[CommandProvider]:
    """The ``atgen_register_commands`` implementations, sorted by plugin (wrappers become ``errors``)."""
    out: list[CommandProvider] = []
    for impl in pm.hook.atgen_register_commands.get_hookimpls():
        if impl.hookwrapper or impl.wrapper:
            errors.setdefault(impl.plugin_name, []).append("atgen_register_commands must not be a hook wrapper")
        else:
            out.append(CommandProvider(impl.plugin_name, impl.function))
    return sorted(out, key=lambda c: c.plugin)


def _with_origin(command: CommandProvider, record: PluginRecord | None) -> CommandProvider:
    if record is None:
        return command
    return CommandProvider(command.plugin, command.register, record.distribution, record.version, record.module)


def build_registry(pm: AtgenPluginManager) -> Registry:
    """Call every registration hook implementation on its own and collect the components.

    Each class is attributed to the plugin that returned it. A hook that raises, returns something
    that is not a concrete component class of the right kind, or is a hook wrapper makes its plugin
    *failed*: a failed plugin contributes nothing. Output is sorted, so it never depends on the order
    in which plugins were registered.
    """
    failures = list(pm.load_failures)
    errors: dict[str, list[str]] = {}
    found: dict[str, list[tuple[str, type[Component]]]] = {}
    for kind, hook_name in HOOKS_BY_KIND.items():
        caller = getattr(pm.hook, hook_name, None)
        if caller is None:  # a kind without a hookspec cannot be registered
            continue
        for impl in caller.get_hookimpls():
            plugin = impl.plugin_name
            if impl.hookwrapper or impl.wrapper:
                errors.setdefault(plugin, []).append(f"{hook_name} must not be a hook wrapper")
                continue
            try:
                result = _call_impl(impl)
            except Exception as exc:
                errors.setdefault(plugin, []).append(f"{hook_name}() raised {_describe_exception(exc)}")
                continue
            items = _flatten(result)
            _trace(f"{plugin}.{hook_name}() -> [{', '.join(_qualname(i) for i in items)}]")
            for item in items:
                problem = _component_problem(item, kind, hook_name, plugin)
                if problem is not None:
                    errors.setdefault(plugin, []).append(problem)
                elif isinstance(item, type) and issubclass(item, Component):
                    found.setdefault(plugin, []).append((kind, item))

    commands = _command_providers(pm, errors)
    records = dict(pm.records)
    for plugin_name, plugin in pm.list_name_plugin():
        if plugin_name not in records and plugin is not None:
            module = getattr(plugin, "__name__", None) or type(plugin).__module__
            hooks = tuple(sorted(c.name for c in pm.get_hookcallers(plugin) or ()))
            records[plugin_name] = PluginRecord(plugin_name, None, None, module, hooks)

    for plugin, messages in sorted(errors.items()):
        record = records.get(plugin, PluginRecord(plugin))
        failures.append(
            PluginFailure(
                plugin, record.distribution, record.version, "; ".join(messages),
                f"fix the plugin, or set {DISABLE_ENV}={plugin} to hide it", module=record.module,
            )
        )

    registrations: list[ComponentInfo] = []
    for plugin, classes in found.items():
        if plugin in errors:
            continue
        record = records.get(plugin, PluginRecord(plugin))
        seen: set[tuple[str, type[Component]]] = set()
        for kind, cls in classes:
            if (kind, cls) in seen:
                continue
            seen.add((kind, cls))
            registrations.append(ComponentInfo(kind, cls.name, cls, plugin, record.distribution, record.version))

    kind_order = {kind: i for i, kind in enumerate(KINDS)}
    registrations.sort(
        key=lambda c: (kind_order[c.kind], c.name, _normalize(c.distribution or ""), c.plugin, c.class_path)
    )
    registry = Registry(
        commands=[_with_origin(c, records.get(c.plugin)) for c in commands if c.plugin not in errors],
        failures=sorted(failures, key=lambda f: (f.plugin, f.error)),
        plugins=sorted([*records.values(), *pm.shadowed], key=lambda r: (r.plugin, _normalize(r.distribution or ""))),
        disabled=sorted(pm.disabled, key=lambda d: d.plugin),
    )
    by_key: dict[tuple[str, str], list[ComponentInfo]] = {}
    for info in registrations:
        providers = by_key.setdefault((info.kind, info.name), [])
        if any(p.cls is info.cls for p in providers):
            continue  # the same class re-exported by a second plugin is not ambiguous
        providers.append(info)
        registry.registrations.append(info)
    for (kind, name), providers in by_key.items():
        registry.components.setdefault(kind, {})[name] = providers[0]
        if len(providers) > 1:
            registry.conflicts.append(Conflict(kind, name, tuple(providers)))
    return registry


def load_registry(
    *,
    load_entrypoints: bool = True,
    plugins: Iterable[tuple[str, object]] = (),
    strict: bool = False,
    search_path: Sequence[str] | None = None,
) -> Registry:
    """Discover plugins and build the registry.

    ``plugins`` are extra ``(name, module-or-object)`` pairs registered directly (for tests).
    With ``strict``, any failure raises :class:`PluginLoadError` and any conflict
    :class:`ConflictError`; otherwise both are only recorded in the registry.
    """
    pm = create_plugin_manager(load_entrypoints, search_path=search_path)
    for name, plugin in plugins:
        register_plugin(pm, plugin, name)
    registry = build_registry(pm)
    if strict:
        if registry.failures:
            raise PluginLoadError(registry.failures)
        if registry.conflicts:
            text = "; ".join(c.describe() for c in registry.conflicts)
            raise ConflictError(f"component name conflicts: {text}", registry.conflicts)
    return registry


_CACHED: Registry | None = None


def get_registry() -> Registry:
    """The registry of the installed plugins, discovered once per process (used by the CLI)."""
    global _CACHED
    if _CACHED is None:
        _CACHED = load_registry()
    return _CACHED


def reset_registry() -> None:
    """Forget the cached registry, so that the next ``get_registry()`` discovers again (for tests)."""
    global _CACHED
    _CACHED = None
