"""Plugin sub-commands: call every ``atgen_register_commands(cli)`` implementation, each on its own.

The same isolation the registry gives components: a plugin whose hook raises, or that reuses the name
of an existing command, adds nothing (whatever it added before failing is taken back) and becomes a
:class:`~atgen_core.registry.PluginFailure`; ``atgen --help`` and every other command keep working.
"""

from __future__ import annotations

import argparse

from atgen_core.plugins import DISABLE_ENV
from atgen_core.plugins.manager import describe_exception
from atgen_core.registry import CommandProvider, PluginFailure, Registry

__all__ = ["add_plugin_commands"]


def add_plugin_commands(sub: argparse._SubParsersAction, registry: Registry) -> list[PluginFailure]:  # type: ignore[type-arg]
    """Let every plugin of ``registry`` add its sub-commands to ``sub``; returns the plugins that failed.

    The failures are also appended to ``registry.failures`` (so ``atgen list-plugins`` lists them).
    """
    failures = [failure for provider in registry.commands if (failure := _add(sub, provider)) is not None]
    registry.failures.extend(failures)
    return failures


def _add(sub: argparse._SubParsersAction, provider: CommandProvider) -> PluginFailure | None:  # type: ignore[type-arg]
    parsers = dict(sub._name_parser_map)
    listed = list(sub._choices_actions)
    try:
        provider.register(sub)
        replaced = sorted(name for name, parser in parsers.items() if sub._name_parser_map.get(name) is not parser)
        if replaced:
            raise ValueError(f"command(s) {', '.join(replaced)} already exist")
    except Exception as exc:  # a broken plugin must not take the command line down
        sub._name_parser_map.clear()
        sub._name_parser_map.update(parsers)
        sub._choices_actions[:] = listed
        return PluginFailure(
            provider.plugin, provider.distribution, provider.version,
            f"atgen_register_commands() failed: {describe_exception(exc)}",
            f"fix the plugin's commands (names must not clash with other commands), or set {DISABLE_ENV}="
            f"{provider.plugin} to hide it",
            module=provider.module,
        )
    return None
