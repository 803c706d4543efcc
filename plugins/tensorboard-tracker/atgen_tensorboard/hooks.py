"""Hook implementations of atgen-tensorboard (cheap to import: tensorboard is imported inside the tracker)."""

from __future__ import annotations

from atgen_core import Tracker, hookimpl


@hookimpl
def atgen_register_trackers() -> list[type[Tracker]]:
    """Register the ``tensorboard`` tracker."""
    from atgen_tensorboard.tracker import TensorBoardTracker

    return [TensorBoardTracker]
