"""Hook implementations of atgen-label-studio (the SDK is imported only when a batch is sent)."""

from __future__ import annotations

from atgen_core import Annotator, hookimpl


@hookimpl
def atgen_register_annotators() -> type[Annotator]:
    """Register the ``label-studio`` annotator."""
    from atgen_label_studio.annotator import LabelStudioAnnotator

    return LabelStudioAnnotator
