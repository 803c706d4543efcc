"""Hook implementations of atgen-human-annotator (imports no web server code until needed)."""

from __future__ import annotations

from atgen_core import Annotator, hookimpl
from atgen_core.hookspecs import CommandGroup


@hookimpl
def atgen_register_annotators() -> type[Annotator]:
    """Register the ``human`` annotator."""
    from atgen_human_annotator.annotator import HumanAnnotator

    return HumanAnnotator


@hookimpl
def atgen_register_commands(cli: CommandGroup) -> None:
    """Add ``atgen annotate RUN_DIR`` (the annotation page for a stopped run)."""
    from atgen_human_annotator.cli import register

    register(cli)
