# mypy: disable-error-code="empty-body"
"""The hook specifications of atgen (pluggy project name ``atgen``).

Each registration hook takes no arguments and returns one component class or a sequence of them;
``atgen_register_commands(cli)`` adds sub-commands to the ``atgen`` command line. Plugins must
not import heavy libraries (torch, transformers, ...) at module import time: import them inside the
component's methods so that ``atgen list-plugins`` stays fast.

.. versionadded:: 0.1
"""

from __future__ import annotations

import argparse
from collections.abc import Sequence
from typing import TYPE_CHECKING

import pluggy

if TYPE_CHECKING:
    from atgen_core.components import Annotator, DataSource, Embedder, Metric, ScoringBackend, Strategy, Trainer

PROJECT_NAME = "atgen"
hookspec = pluggy.HookspecMarker(PROJECT_NAME)

CommandGroup = argparse._SubParsersAction  # type: ignore[type-arg]
"""What ``atgen_register_commands`` receives: the ``atgen`` parser's sub-command group (``argparse``)."""

__all__ = [
    "atgen_register_annotators",
    "atgen_register_commands",
    "atgen_register_data_sources",
    "atgen_register_embedders",
    "atgen_register_metrics",
    "atgen_register_scoring_backends",
    "atgen_register_strategies",
    "atgen_register_trainers",
]


@hookspec
def atgen_register_strategies() -> type[Strategy] | Sequence[type[Strategy]]:
    """Register selection strategies.

    Returns:
        A ``Strategy`` subclass or a sequence of them.
    """


@hookspec
def atgen_register_annotators() -> type[Annotator] | Sequence[type[Annotator]]:
    """Register annotators.

    Returns:
        An ``Annotator`` subclass or a sequence of them.
    """


@hookspec
def atgen_register_trainers() -> type[Trainer] | Sequence[type[Trainer]]:
    """Register trainers (which also load models for evaluation and scoring).

    Returns:
        A ``Trainer`` subclass or a sequence of them.
    """


@hookspec
def atgen_register_metrics() -> type[Metric] | Sequence[type[Metric]]:
    """Register metrics.

    Returns:
        A ``Metric`` subclass or a sequence of them.
    """


@hookspec
def atgen_register_data_sources() -> type[DataSource] | Sequence[type[DataSource]]:
    """Register data sources.

    Returns:
        A ``DataSource`` subclass or a sequence of them.
    """


@hookspec
def atgen_register_embedders() -> type[Embedder] | Sequence[type[Embedder]]:
    """Register input embedders.

    Returns:
        An ``Embedder`` subclass or a sequence of them.
    """


@hookspec
def atgen_register_scoring_backends() -> type[ScoringBackend] | Sequence[type[ScoringBackend]]:
    """Register scoring backends (where the per-iteration scoring pass runs, e.g. on a Ray cluster).

    Returns:
        A ``ScoringBackend`` subclass or a sequence of them.

    .. versionadded:: 0.1
    """


@hookspec
def atgen_register_commands(cli: CommandGroup) -> None:
    """Add sub-commands to the ``atgen`` command line.

    ``cli`` is the sub-command group of the ``atgen`` parser: call ``cli.add_parser(name, help=...)``,
    add arguments, and ``set_defaults(func=handler)`` where ``handler(args: argparse.Namespace) -> int``
    returns the exit code. Called once at start-up for every command (``atgen --help`` included), so
    import nothing heavy here; import the command's code inside the handler. A plugin whose hook raises,
    or that reuses an existing command name, adds no command and is reported; the others keep working.

    .. versionadded:: 0.1
    """
