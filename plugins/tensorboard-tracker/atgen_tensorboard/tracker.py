"""The ``tensorboard`` tracker: every evaluated round's values as TensorBoard scalars at step = labels.

Event files go to ``RUN_DIR/tensorboard`` by default (``tensorboard --logdir RUN_DIR/tensorboard``).
They are written with TensorBoard's own ``tensorboard.summary.Writer`` (no TensorFlow or torch needed).
A resumed run writes a new event file into the same directory; atgen never sends a round twice, so
each step appears once. The spec is saved as ``params.json`` and the artifacts (learning curve,
metrics.csv) are copied into the log directory.
"""

from __future__ import annotations

import json
import shutil
from collections.abc import Mapping
from pathlib import Path
from typing import Any, ClassVar

from pydantic import Field

from atgen_core import PluginConfig, TrackedRun, Tracker

__all__ = ["TensorBoardConfig", "TensorBoardTracker"]


class TensorBoardConfig(PluginConfig):
    """Where the event files go."""

    log_dir: str | None = Field(
        None, description="Directory of the event files (default: RUN_DIR/tensorboard); relative to the run directory."
    )
    prefix: str = Field("", description="Put before every scalar tag, e.g. 'atgen/'.")


class TensorBoardTracker(Tracker):
    """TensorBoard: every round's metrics as scalars at step = labels, in event files under the run directory."""

    name: ClassVar[str] = "tensorboard"
    Config = TensorBoardConfig

    def __init__(self, config: PluginConfig | None = None) -> None:
        super().__init__(config)
        self._writer: Any = None
        self.log_dir: Path | None = None

    def _settings(self) -> TensorBoardConfig:
        assert isinstance(self.config, TensorBoardConfig)
        return self.config

    def start(self, run: TrackedRun, resumed_id: str | None) -> str | None:
        """Open a writer on the log directory (the same one on resume); return the directory as the id."""
        from tensorboard.summary import DirectoryOutput, Writer

        configured = self._settings().log_dir
        log_dir = Path(run.run_dir) / (configured or "tensorboard")
        log_dir.mkdir(parents=True, exist_ok=True)
        self.log_dir = log_dir
        self._writer = Writer(DirectoryOutput(str(log_dir)))
        return str(log_dir.resolve())

    def _require(self) -> tuple[Any, Path]:
        if self._writer is None or self.log_dir is None:
            raise RuntimeError("the tensorboard tracker was not started")
        return self._writer, self.log_dir

    def log_params(self, params: Mapping[str, str]) -> None:
        """Save the spec's dotted keys as ``params.json`` in the log directory."""
        _, log_dir = self._require()
        (log_dir / "params.json").write_text(json.dumps(dict(params), indent=1, sort_keys=True), encoding="utf-8")

    def log_metrics(self, metrics: Mapping[str, float], step: int) -> None:
        """One scalar per value at ``step`` (= labels), flushed at once."""
        writer, _ = self._require()
        prefix = self._settings().prefix
        for key, value in sorted(metrics.items()):
            writer.add_scalar(prefix + key, float(value), int(step))
        writer.flush()

    def log_artifact(self, path: Path) -> None:
        """Copy a file of the run directory into the log directory."""
        _, log_dir = self._require()
        shutil.copy2(path, log_dir / Path(path).name)

    def finish(self, status: str) -> None:
        """Flush and close the event file."""
        writer, _ = self._require()
        writer.close()
        self._writer = None

    def close(self) -> None:
        """Close the writer if ``finish`` was never called."""
        if self._writer is not None:
            self._writer.close()
            self._writer = None
