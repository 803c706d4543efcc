"""Hook implementations of atgen-wandb (cheap to import: wandb is imported inside the tracker's methods)."""

from __future__ import annotations

from atgen_core import Tracker, hookimpl


@hookimpl
def atgen_register_trackers() -> list[type[Tracker]]:
    """Register the ``wandb`` tracker."""
    from atgen_wandb.tracker import WandbTracker

    return [WandbTracker]
