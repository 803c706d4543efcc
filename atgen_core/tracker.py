"""The ``tracker`` component kind: mirror a run into an experiment tracker (MLflow, TensorBoard, ...).

Trackers are listed in the spec's ``tracking`` key. The loop talks to them only through
``atgen_core.tracking`` (the adapter), which calls, in order: ``start`` once per process (with the id
the tracker returned last time when a run is resumed), ``log_params`` once per atgen run, ``log_metrics``
after each evaluated round (``step`` = number of labels), ``log_artifact`` and ``log_model`` (the latest
adapter folder) at the end of the loop, and ``finish``. Any exception a tracker raises is logged as a
warning and the run goes on: tracking can never stop a run or lose a label. Import the tracking library
inside the methods, never at module level.

.. versionadded:: 0.1
"""

from __future__ import annotations

from abc import abstractmethod
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, ClassVar

from atgen_core.components.base import Component

__all__ = ["TrackedRun", "Tracker"]


@dataclass(frozen=True)
class TrackedRun:
    """What a tracker is told about the atgen run it mirrors.

    ``spec`` is the run's canonical spec (JSON-compatible); ``tags`` are short strings (strategy,
    annotator, trainer, model, atgen version) suitable as tracker tags. ``key`` identifies the atgen run
    for good (its run directory and creation time): a tracker can tag its run with it and find that run
    again even if a crash came between creating it and atgen storing its id.
    """

    name: str
    run_dir: Path
    key: str = ""
    spec: Mapping[str, Any] = field(default_factory=dict)
    tags: Mapping[str, str] = field(default_factory=dict)


class Tracker(Component):
    """Base of trackers: mirror params, per-round metrics and artifacts of a run elsewhere."""

    kind: ClassVar[str] = "tracker"
    #: True when the tracking library buffers what it is given (writes it in the background): a
    #: ``kill -9`` loses it, so atgen counts a round as sent only once ``finish`` returned, and sends
    #: the rounds since the last clean finish again after a hard kill.
    buffered: ClassVar[bool] = False

    @abstractmethod
    def start(self, run: TrackedRun, resumed_id: str | None) -> str | None:
        """Open (or, with ``resumed_id``, reopen) the tracker's run; return an id to store for resume.

        ``resumed_id`` is what this method returned for the same atgen run before (``None`` on the first
        start). A tracker must continue that run, never create a second one, when it still exists.
        """

    def log_params(self, params: Mapping[str, str]) -> None:
        """Record the run's parameters (the spec flattened to dotted keys). Called once per atgen run."""

    @abstractmethod
    def log_metrics(self, metrics: Mapping[str, float], step: int) -> None:
        """Record one evaluated round's values at ``step`` = the number of labels used for training."""

    def log_artifact(self, path: Path) -> None:
        """Attach a file of the run directory (learning curve, metrics.csv, ...). Called at the end of the loop."""

    def log_model(self, path: Path, round_: int) -> None:
        """Attach the folder of the latest trained model (a LoRA adapter) of round ``round_``, if the tracker
        offers it (a config switch, off by default: adapters are large). Called at the end, before ``finish``.

        .. versionadded:: 0.1
        """

    def finish(self, status: str) -> None:
        """Close the tracker's run; ``status`` is ``finished``, ``failed`` or ``interrupted``."""
