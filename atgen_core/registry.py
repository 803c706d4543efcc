"""The component registry: kind -> name -> component info, plus load failures and conflicts.

Discovery (``atgen_core.plugins``) fills a :class:`Registry`; everything else only reads it. A name
that several plugins register is kept (the first provider in sorted order sits in ``components``)
and reported as a :class:`Conflict`; using such a name raises :class:`ConflictError`, so one
ambiguous plugin never stops the others from being used.
"""

from __future__ import annotations

import difflib
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

from atgen_core.components import KINDS, Component

__all__ = [
    "CommandProvider",
    "ComponentInfo",
    "Conflict",
    "ConflictError",
    "DisabledPlugin",
    "PluginFailure",
    "PluginLoadError",
    "PluginRecord",
    "Registry",
    "UnknownComponentError",
    "close_matches",
]


def close_matches(word: str, candidates: Sequence[str], n: int = 3) -> list[str]:
    """Up to ``n`` candidates that look like ``word`` (for "did you mean ...?" hints); a candidate that
    differs only in case, or in ``-`` / ``_`` / space, comes first ("HUDS" -> "huds")."""
    def plain(text: str) -> str:
        return text.lower().replace("_", "-").replace(" ", "-")

    same = [c for c in candidates if plain(c) == plain(word) and c != word]
    lowered = {plain(c): c for c in candidates}
    near = [lowered[m] for m in difflib.get_close_matches(plain(word), list(lowered), n=n, cutoff=0.6)]
    return list(dict.fromkeys(same + near))[:n]


@dataclass(frozen=True)
class ComponentInfo:
    """One registered component and where it came from."""

    kind: str
    name: str
    cls: type[Component]
    plugin: str
    """The entry-point (plugin) name that registered it."""
    distribution: str | None = None
    version: str | None = None

    @property
    def summary(self) -> str:
        return self.cls.summary()

    @property
    def class_path(self) -> str:
        """``package.module:Class`` of the component class."""
        return f"{self.cls.__module__}:{self.cls.__qualname__}"

    @property
    def provider(self) -> str:
        """The distribution (or, for plugins registered directly, the plugin name) with its version."""
        who = self.distribution or self.plugin
        return f"{who} {self.version}" if self.version else who


@dataclass(frozen=True)
class CommandProvider:
    """A plugin's ``atgen_register_commands`` implementation, called by the CLI at start-up."""

    plugin: str
    register: Callable[..., object]
    """The hook implementation: ``register(cli)`` adds the plugin's sub-commands to ``cli``."""
    distribution: str | None = None
    version: str | None = None
    module: str | None = None


@dataclass(frozen=True)
class PluginFailure:
    """A plugin that could not be loaded (or registered something invalid)."""

    plugin: str
    distribution: str | None
    version: str | None
    error: str
    hint: str = ""
    module: str | None = None
    """The entry point's value (``package.module`` or ``package.module:attr``), when known."""

    def describe(self) -> str:
        """One line naming the distribution, version, entry point and error."""
        who = self.distribution or self.plugin
        version = f" {self.version}" if self.version else ""
        return f"{who}{version} (entry point {self.plugin!r}): {self.error}"


@dataclass(frozen=True)
class DisabledPlugin:
    """An entry point that was not loaded because an environment variable said so."""

    plugin: str
    distribution: str | None
    version: str | None
    reason: str


@dataclass(frozen=True)
class PluginRecord:
    """One plugin (entry point or directly registered object) as discovery saw it."""

    plugin: str
    """Entry-point name (the name the plugin is registered under in the plugin manager)."""
    distribution: str | None = None
    version: str | None = None
    module: str | None = None
    """The entry point's value, or the module of a directly registered object."""
    hooks: tuple[str, ...] = ()
    """The atgen hooks this plugin implements, sorted."""


@dataclass(frozen=True)
class Conflict:
    """Two or more plugins registering one component name for the same kind."""

    kind: str
    name: str
    providers: tuple[ComponentInfo, ...]

    def describe(self) -> str:
        """``strategy 'random' registered by atgen-a 0.1 (a.mod:Random) and atgen-b 0.2 (b.mod:Random)``."""
        parts = [f"{p.provider} ({p.class_path})" for p in self.providers]
        listed = ", ".join(parts[:-1]) + " and " + parts[-1] if len(parts) > 1 else parts[0]
        return f"{self.kind} {self.name!r} registered by {listed}"

    def hint(self) -> str:
        """How to resolve the conflict."""
        plugins = ",".join(sorted({p.plugin for p in self.providers}))
        return (
            "uninstall all but one of them, or hide the others with "
            f"ATGEN_DISABLE_PLUGINS=<name> (plugins involved: {plugins})"
        )


class UnknownComponentError(LookupError):
    """A spec names a component that no loaded plugin provides."""

    def __init__(
        self,
        kind: str,
        name: str,
        known: list[str],
        suggestions: list[str],
        failed: Sequence[str] = (),
    ) -> None:
        self.kind, self.name, self.known, self.suggestions = kind, name, known, suggestions
        self.failed = list(failed)
        hint = f"; did you mean {suggestions[0]!r}?" if suggestions else ""
        known_text = ", ".join(known) if known else "none installed"
        failed_text = (
            f"; note: plugin(s) {', '.join(self.failed)} failed to load and may provide it"
            if self.failed
            else ""
        )
        super().__init__(
            f"unknown {kind} {name!r}{hint} (available: {known_text}; run `atgen list-plugins`){failed_text}"
        )


class ConflictError(LookupError):
    """A spec uses a name that several plugins register."""

    def __init__(self, message: str, conflicts: Sequence[Conflict] = ()) -> None:
        super().__init__(message)
        self.conflicts = list(conflicts)


class PluginLoadError(RuntimeError):
    """Raised by ``load_registry(strict=True)`` when any plugin failed to load or register."""

    def __init__(self, failures: Sequence[PluginFailure]) -> None:
        self.failures = list(failures)
        lines = [f"{len(self.failures)} atgen plugin failure(s):"]
        for failure in self.failures:
            lines.append(f"  {failure.describe()}")
            if failure.hint:
                lines.append(f"    hint: {failure.hint}")
        super().__init__("\n".join(lines))


@dataclass
class Registry:
    """What discovery found. ``components[kind][name]`` holds the first provider in sorted order."""

    components: dict[str, dict[str, ComponentInfo]] = field(default_factory=dict)
    failures: list[PluginFailure] = field(default_factory=list)
    conflicts: list[Conflict] = field(default_factory=list)
    plugins: list[PluginRecord] = field(default_factory=list)
    """Every plugin that was loaded or attempted (failed ones included), sorted by plugin name and
    distribution. Two records share a plugin name only when two distributions declare the same
    entry-point name (the second one is then a failure)."""
    disabled: list[DisabledPlugin] = field(default_factory=list)
    registrations: list[ComponentInfo] = field(default_factory=list)
    """Every registration, conflicting duplicates included, sorted by kind, name and provider."""
    commands: list[CommandProvider] = field(default_factory=list)
    """Plugins adding sub-commands to ``atgen`` (sorted by plugin name; failed plugins left out)."""

    def get(self, kind: str, name: str) -> ComponentInfo:
        """The component ``name`` of ``kind``; raises UnknownComponentError or ConflictError."""
        if kind not in KINDS:
            raise ValueError(f"unknown component kind {kind!r}; expected one of: {', '.join(KINDS)}")
        for conflict in self.conflicts:
            if conflict.kind == kind and conflict.name == name:
                raise ConflictError(f"{conflict.describe()}; {conflict.hint()}", [conflict])
        info = self.components.get(kind, {}).get(name)
        if info is not None:
            return info
        known = self.names(kind)
        failed = sorted({f.distribution or f.plugin for f in self.failures})
        raise UnknownComponentError(kind, name, known, close_matches(name, known), failed)

    def default_name(self, kind: str) -> str | None:
        """The component a spec gets when it leaves out ``kind``: the one whose class sets ``default = True``.

        ``None`` when no installed component declares itself the default, or when several do (the spec
        must then name one). The core never names a plugin's component itself.
        """
        declared = [info.name for info in self.all(kind) if getattr(info.cls, "default", False) is True]
        return declared[0] if len(declared) == 1 else None

    def names(self, kind: str) -> list[str]:
        """Sorted component names of one kind."""
        return sorted(self.components.get(kind, {}))

    def all(self, kind: str | None = None) -> list[ComponentInfo]:
        """Every component (of one kind), sorted by kind then name."""
        kinds = [kind] if kind is not None else list(KINDS)
        out: list[ComponentInfo] = []
        for k in kinds:
            by_name = self.components.get(k, {})
            out.extend(by_name[n] for n in sorted(by_name))
        return out

    @property
    def ok(self) -> bool:
        """True when no plugin failed and no name is registered twice."""
        return not self.failures and not self.conflicts

    def components_of(self, plugin: str | PluginRecord) -> list[ComponentInfo]:
        """Every registration made by one plugin (conflicting ones included).

        Pass the ``PluginRecord`` to tell apart two distributions that use one entry-point name.
        """
        if isinstance(plugin, PluginRecord):
            return [
                i for i in self.registrations if i.plugin == plugin.plugin and i.distribution == plugin.distribution
            ]
        return [info for info in self.registrations if info.plugin == plugin]

    def failures_of(self, plugin: str | PluginRecord) -> list[PluginFailure]:
        """The failures recorded for one plugin (by name, or exactly for one ``PluginRecord``)."""
        if isinstance(plugin, PluginRecord):
            return [f for f in self.failures if f.plugin == plugin.plugin and f.distribution == plugin.distribution]
        return [f for f in self.failures if f.plugin == plugin]

    @property
    def failed_plugins(self) -> list[tuple[str, str | None]]:
        """Distinct ``(plugin, distribution)`` pairs that failed, sorted."""
        return sorted({(f.plugin, f.distribution) for f in self.failures}, key=lambda p: (p[0], p[1] or ""))

    def conflicting(self, kind: str, name: str) -> bool:
        """Whether ``name`` of ``kind`` is registered by several plugins."""
        return any(c.kind == kind and c.name == name for c in self.conflicts)
