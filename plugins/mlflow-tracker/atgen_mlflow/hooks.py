"""Hook implementations of atgen-mlflow (cheap to import: mlflow is imported inside the tracker's methods)."""

from __future__ import annotations

from atgen_core import Tracker, hookimpl


@hookimpl
def atgen_register_trackers() -> list[type[Tracker]]:
    """Register the ``mlflow`` tracker."""
    from atgen_mlflow.tracker import MlflowTracker

    return [MlflowTracker]
