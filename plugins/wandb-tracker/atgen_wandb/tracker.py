"""The ``wandb`` tracker: one Weights & Biases run per atgen run, continued (never duplicated) on resume.

Offline by default (``mode`` unset and no ``WANDB_MODE`` in the environment): wandb writes its files
under the run directory, ``RUN_DIR/wandb/offline-run-*/``, needs no account or network, and
``wandb sync`` uploads them later. The wandb run id is derived from the atgen run's key and stored in
the atgen store, so every process of one atgen run (first start, ``atgen resume`` after a crash or a
``kill -9``) logs to the same wandb run id with ``resume="allow"``. wandb is imported only inside the
methods.
"""

from __future__ import annotations

import hashlib
import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any, ClassVar, Literal

from pydantic import Field

from atgen_core import PluginConfig, TrackedRun, Tracker

__all__ = ["WandbConfig", "WandbTracker", "run_id_for"]

_EXIT_CODES = {"finished": 0, "failed": 1, "interrupted": 255}
CURVE_KEY = "learning_curve"


def run_id_for(key: str) -> str:
    """The wandb run id of an atgen run: ``atgen-`` + 16 hex digits of its key (stable across restarts)."""
    return "atgen-" + hashlib.sha256(key.encode("utf-8")).hexdigest()[:16]


class WandbConfig(PluginConfig):
    """Where and under which names the run is tracked."""

    mode: Literal["offline", "online", "disabled"] | None = Field(
        None,
        description="wandb mode. Default: WANDB_MODE if set, else offline (files under RUN_DIR/wandb, "
        "uploaded later with `wandb sync`). online needs WANDB_API_KEY (or `wandb login`).",
    )
    project: str | None = Field(None, description="wandb project (default: the spec's name).")
    entity: str | None = Field(None, description="wandb entity (user or team; default: wandb's default).")
    run_name: str | None = Field(None, description="wandb run name (default: the spec's name).")
    group: str | None = Field(None, description="wandb group, e.g. a benchmark's name to see its grid together.")
    tags: list[str] = Field(default_factory=list, description="wandb tags of the run.")
    log_artifacts: bool = Field(
        True, description="At the end: the learning curve as an image (media) and metrics.csv as a run file."
    )


class WandbTracker(Tracker):
    """wandb: the spec as config, every round's values at step = labels, the learning curve as media."""

    name: ClassVar[str] = "wandb"
    buffered: ClassVar[bool] = True  # wandb-core writes the log in blocks: a kill -9 loses the tail
    Config = WandbConfig

    def __init__(self, config: PluginConfig | None = None) -> None:
        super().__init__(config)
        self._run: Any = None
        self._last_step: int | None = None

    @property
    def run_id(self) -> str | None:
        """The wandb run id once started."""
        return None if self._run is None else str(self._run.id)

    def _settings(self) -> WandbConfig:
        assert isinstance(self.config, WandbConfig)
        return self.config

    def start(self, run: TrackedRun, resumed_id: str | None) -> str | None:
        """Open the wandb run ``resumed_id`` (else the id derived from the atgen run's key), resume="allow"."""
        import wandb

        settings = self._settings()
        run_id = resumed_id or run_id_for(run.key or str(Path(run.run_dir).resolve()))
        mode: Any = settings.mode or os.environ.get("WANDB_MODE") or "offline"  # wandb checks the value
        Path(run.run_dir).mkdir(parents=True, exist_ok=True)
        tags = [*settings.tags, *(f"{k}={v}" for k, v in sorted(run.tags.items()) if k != "atgen.run_dir")]
        self._run = wandb.init(
            id=run_id, resume="allow", mode=mode, dir=str(run.run_dir), reinit="create_new",
            project=settings.project or run.name, entity=settings.entity, name=settings.run_name or run.name,
            group=settings.group, tags=[t[:64] for t in tags], config=dict(run.spec), allow_val_change=True,
            settings=wandb.Settings(console="off", silent=True, disable_git=True, save_code=False,
                                    x_disable_stats=True),
        )
        return run_id

    def _require(self) -> Any:
        if self._run is None:
            raise RuntimeError("the wandb tracker was not started")
        return self._run

    def log_params(self, params: Mapping[str, str]) -> None:
        """Nothing to add: the whole spec is the run's config already (set when the run starts)."""
        self._require()

    def log_metrics(self, metrics: Mapping[str, float], step: int) -> None:
        """Log one round's values at ``step`` (= labels)."""
        run = self._require()
        run.log({k: float(v) for k, v in sorted(metrics.items())}, step=int(step))
        self._last_step = int(step)

    def log_artifact(self, path: Path) -> None:
        """A PNG becomes an image at the last step (media); every file is also saved as a run file."""
        if not self._settings().log_artifacts:
            return
        import wandb

        run = self._require()
        path = Path(path)
        if path.suffix.lower() == ".png":
            run.log({CURVE_KEY: wandb.Image(str(path))}, step=self._last_step)
        run.save(str(path), base_path=str(path.parent), policy="now")

    def finish(self, status: str) -> None:
        """Finish the wandb run with exit code 0 (finished), 1 (failed) or 255 (interrupted)."""
        run = self._require()
        run.finish(exit_code=_EXIT_CODES.get(status, 0))
        self._run = None

    def close(self) -> None:
        """Finish a run left open (a tracker that was never told ``finish``)."""
        if self._run is not None:
            run, self._run = self._run, None
            run.finish(exit_code=1)
