"""Building the component registry: every registration hook called on its own, its results checked."""

from __future__ import annotations

import inspect
from collections.abc import Iterable, Sequence
from typing import Any

from atgen_core.components import KINDS, NAME_PATTERN, Component, PluginConfig
from atgen_core.plugins.discovery import create_plugin_manager
from atgen_core.plugins.manager import (
    DISABLE_ENV,
    HOOKS_BY_KIND,
    AtgenPluginManager,
    describe_exception,
    normalize_name,
    register_plugin,
    trace,
)
from atgen_core.registry import (
    CommandProvider,
    ComponentInfo,
    Conflict,
    ConflictError,
    PluginFailure,
    PluginLoadError,
    PluginRecord,
    Registry,
)

__all__ = ["build_registry", "get_registry", "load_registry", "reset_registry"]


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


def _public_path(cls: type) -> str:
    """``module:Class`` of a kind's base class, as users import it (``atgen_core.components:Strategy``)."""
    module = cls.__module__
    if module.startswith("atgen_core.components."):
        module = "atgen_core.components"
    return f"{module}:{cls.__qualname__}"


def _component_problem(item: object, kind: str, hook: str, plugin: str) -> str | None:
    """Why ``item`` cannot be registered as a ``kind`` (None when it can)."""
    base = KINDS[kind]
    base_name = _public_path(base)
    where = f"plugin {plugin!r} returned {_qualname(item)} from {hook}()"
    if not isinstance(item, type):
        if isinstance(item, Component):
            return f"{where}: an instance; return the class itself"
        return f"{where}, which is not a class; expected a subclass of {base_name}"
    if not issubclass(item, base):
        for other_kind, other_base in KINDS.items():
            if issubclass(item, other_base):
                return (
                    f"{where}, but it is a {_public_path(other_base)}, not a {base_name}; "
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


def _call_hooks(pm: AtgenPluginManager, errors: dict[str, list[str]]) -> dict[str, list[tuple[str, type[Component]]]]:
    """Plugin -> the (kind, class) pairs its registration hooks returned; problems go to ``errors``."""
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
                errors.setdefault(plugin, []).append(f"{hook_name}() raised {describe_exception(exc)}")
                continue
            items = _flatten(result)
            trace(f"{plugin}.{hook_name}() -> [{', '.join(_qualname(i) for i in items)}]")
            for item in items:
                problem = _component_problem(item, kind, hook_name, plugin)
                if problem is not None:
                    errors.setdefault(plugin, []).append(problem)
                elif isinstance(item, type) and issubclass(item, Component):
                    found.setdefault(plugin, []).append((kind, item))
    return found


def _all_records(pm: AtgenPluginManager) -> dict[str, PluginRecord]:
    """The records of discovery plus one for every plugin registered directly (tests, ``plugins=``)."""
    records = dict(pm.records)
    for plugin_name, plugin in pm.list_name_plugin():
        if plugin_name not in records and plugin is not None:
            module = getattr(plugin, "__name__", None) or type(plugin).__module__
            hooks = tuple(sorted(c.name for c in pm.get_hookcallers(plugin) or ()))
            records[plugin_name] = PluginRecord(plugin_name, None, None, module, hooks)
    return records


def _hook_failures(errors: dict[str, list[str]], records: dict[str, PluginRecord]) -> list[PluginFailure]:
    """One failure per plugin whose hooks went wrong, all its problems in one message."""
    failures = []
    for plugin, messages in sorted(errors.items()):
        record = records.get(plugin, PluginRecord(plugin))
        failures.append(
            PluginFailure(
                plugin,
                record.distribution,
                record.version,
                "; ".join(messages),
                f"fix the plugin, or set {DISABLE_ENV}={plugin} to hide it",
                module=record.module,
            )
        )
    return failures


def _registrations(
    found: dict[str, list[tuple[str, type[Component]]]], errors: dict[str, list[str]], records: dict[str, PluginRecord]
) -> list[ComponentInfo]:
    """The components of the plugins without errors, each (kind, class) once, in a stable order."""
    out: list[ComponentInfo] = []
    for plugin, classes in found.items():
        if plugin in errors:
            continue
        record = records.get(plugin, PluginRecord(plugin))
        for kind, cls in dict.fromkeys(classes):
            out.append(ComponentInfo(kind, cls.name, cls, plugin, record.distribution, record.version))
    kind_order = {kind: i for i, kind in enumerate(KINDS)}
    return sorted(
        out, key=lambda c: (kind_order[c.kind], c.name, normalize_name(c.distribution or ""), c.plugin, c.class_path)
    )


def _add_components(registry: Registry, registrations: list[ComponentInfo]) -> None:
    """Register every component by (kind, name); two classes under one name are a conflict."""
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


def build_registry(pm: AtgenPluginManager) -> Registry:
    """Call every registration hook implementation on its own and collect the components.

    Each class is attributed to the plugin that returned it. A hook that raises, returns something
    that is not a concrete component class of the right kind, or is a hook wrapper makes its plugin
    *failed*: a failed plugin contributes nothing. Output is sorted, so it never depends on the order
    in which plugins were registered.
    """
    errors: dict[str, list[str]] = {}
    found = _call_hooks(pm, errors)
    commands = _command_providers(pm, errors)
    records = _all_records(pm)
    failures = [*pm.load_failures, *_hook_failures(errors, records)]
    registry = Registry(
        commands=[_with_origin(c, records.get(c.plugin)) for c in commands if c.plugin not in errors],
        failures=sorted(failures, key=lambda f: (f.plugin, f.error)),
        plugins=sorted(
            [*records.values(), *pm.shadowed], key=lambda r: (r.plugin, normalize_name(r.distribution or ""))
        ),
        disabled=sorted(pm.disabled, key=lambda d: d.plugin),
    )
    _add_components(registry, _registrations(found, errors, records))
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
