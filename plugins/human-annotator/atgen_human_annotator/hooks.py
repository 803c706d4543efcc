"""Hook implementations of atgen-human-annotator (imports no web server code until needed)."""

from __future__ import annotations

from atgen_core import Annotator, hookimpl


@hookimpl
def atgen_register_annotators() -> type[Annotator]:
    """Register the ``human`` annotator."""
    from atgen_human_annotator.annotator import HumanAnnotator

    return HumanAnnotator
