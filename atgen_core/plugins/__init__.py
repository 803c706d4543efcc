"""Plugin discovery: load every ``atgen`` entry point on its own, then build the component registry.

- :mod:`~atgen_core.plugins.manager`: the plugin manager, its settings, checking and registering one plugin.
- :mod:`~atgen_core.plugins.discovery`: entry points found and loaded, each on its own.
- :mod:`~atgen_core.plugins.building`: the registration hooks called and the registry built.

Each entry point is loaded, checked and registered separately; whatever goes wrong becomes a
:class:`~atgen_core.registry.PluginFailure` and discovery carries on.

Environment variables:

- ``ATGEN_DISABLE_PLUGINS=a,b``: do not load these plugins (entry-point or distribution names).
- ``ATGEN_LOAD_PLUGINS=a,b``: load only these plugins; an empty value loads none.
- ``ATGEN_TRACE_PLUGINS=1``: print discovery steps and every registration hook's result to stderr.

Nothing heavy is imported here: discovery costs one scan of the installed distributions plus the
import of each plugin's ``hooks`` module (which, by contract, imports no heavy library).
"""

from __future__ import annotations

from atgen_core.plugins.building import build_registry, get_registry, load_registry, reset_registry
from atgen_core.plugins.discovery import create_plugin_manager, load_entry_points
from atgen_core.plugins.manager import (
    DISABLE_ENV,
    ENTRY_POINT_GROUP,
    HOOKS_BY_KIND,
    KNOWN_HOOKS,
    LOAD_ENV,
    TRACE_ENV,
    AtgenPluginManager,
    hook_problems,
    register_plugin,
)

__all__ = [
    "DISABLE_ENV",
    "ENTRY_POINT_GROUP",
    "HOOKS_BY_KIND",
    "KNOWN_HOOKS",
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
