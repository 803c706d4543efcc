"""The ``mlflow`` tracker: one MLflow run per atgen run, continued (never duplicated) on resume.

Without ``tracking_uri`` (and without ``MLFLOW_TRACKING_URI`` in the environment) the store is a local
SQLite database under the run directory, ``RUN_DIR/mlflow/mlflow.db``, with artifacts in
``RUN_DIR/mlflow/artifacts``: no server is needed, and ``mlflow ui --backend-store-uri
sqlite:///RUN_DIR/mlflow/mlflow.db`` shows it. mlflow is imported only inside the methods.
"""

from __future__ import annotations

import os
import re
import time
from collections.abc import Mapping
from pathlib import Path
from typing import Any, ClassVar

from pydantic import Field

from atgen_core import PluginConfig, TrackedRun, Tracker

__all__ = ["MlflowConfig", "MlflowTracker", "local_tracking_uri"]

RUN_KEY_TAG = "atgen.run_key"
PARENT_TAG = "atgen.parent"
_STATUS = {"finished": "FINISHED", "failed": "FAILED", "interrupted": "KILLED"}
_BAD_KEY = re.compile(r"[^A-Za-z0-9_\-. /]")
_BATCH = 100  # MLflow's log_batch accepts at most 100 params per call


def local_tracking_uri(run_dir: Path) -> str:
    """The default store of a run: ``sqlite:///RUN_DIR/mlflow/mlflow.db``."""
    return f"sqlite:///{(Path(run_dir) / 'mlflow' / 'mlflow.db').resolve()}"


class MlflowConfig(PluginConfig):
    """Where and under which names the run is tracked."""

    tracking_uri: str | None = Field(
        None,
        description="MLflow tracking URI (a server's http(s) address, sqlite:///..., databricks). Default: "
        "MLFLOW_TRACKING_URI if set, else a SQLite store under the run directory (RUN_DIR/mlflow/mlflow.db).",
    )
    experiment: str | None = Field(None, description="MLflow experiment name (default: the spec's name).")
    run_name: str | None = Field(None, description="MLflow run name (default: the spec's name).")
    log_artifacts: bool = Field(True, description="Upload the learning curve and metrics.csv at the end.")
    log_adapter: bool = Field(
        False,
        description="Also upload the latest trained adapter folder (LoRA weights and config) at the end, as "
        "artifacts under adapter/round-N (off by default: adapters can be large).",
    )
    parent: str | None = Field(
        None,
        description="Nest the run under the parent run of this name in the same experiment (created by the "
        "first run that needs it), e.g. a benchmark's name: with a shared tracking_uri the grid shows as "
        "parent and children.",
    )


class MlflowTracker(Tracker):
    """MLflow: the spec as params, every round's metrics at step = labels, the learning curve as artifact."""

    name: ClassVar[str] = "mlflow"
    Config = MlflowConfig

    def __init__(self, config: PluginConfig | None = None) -> None:
        super().__init__(config)
        self._client: Any = None
        self._run_id: str | None = None

    @property
    def run_id(self) -> str | None:
        """The MLflow run id once started."""
        return self._run_id

    def _settings(self) -> MlflowConfig:
        assert isinstance(self.config, MlflowConfig)
        return self.config

    def start(self, run: TrackedRun, resumed_id: str | None) -> str | None:
        """Continue ``resumed_id`` (or the run tagged with this atgen run's key), else create the MLflow run."""
        from mlflow import MlflowClient

        settings = self._settings()
        uri = settings.tracking_uri or os.environ.get("MLFLOW_TRACKING_URI") or None
        if uri is None:
            (Path(run.run_dir) / "mlflow").mkdir(parents=True, exist_ok=True)
            uri = local_tracking_uri(run.run_dir)
        self._client = client = MlflowClient(tracking_uri=uri)
        experiment_id = self._experiment_id(settings.experiment or run.name, _artifact_root(uri))
        existing = self._existing_run(resumed_id, experiment_id, run.key)
        if existing is not None:
            client.update_run(existing, status="RUNNING")
            self._run_id = existing
            return existing
        tags = {**run.tags, RUN_KEY_TAG: run.key} if run.key else dict(run.tags)
        if settings.parent:
            tags["mlflow.parentRunId"] = self._parent_id(experiment_id, settings.parent)
        created = client.create_run(experiment_id, run_name=settings.run_name or run.name, tags=tags)
        self._run_id = str(created.info.run_id)
        return self._run_id

    def _experiment_id(self, name: str, artifact_root: Path | None) -> str:
        found = self._client.get_experiment_by_name(name)
        if found is not None:
            return str(found.experiment_id)
        location = artifact_root.resolve().as_uri() if artifact_root is not None else None
        return str(self._client.create_experiment(name, artifact_location=location))

    def _parent_id(self, experiment_id: str, parent: str) -> str:
        """The id of the parent run named ``parent`` (tagged ``atgen.parent``), created when missing."""
        escaped = parent.replace("'", "\\'")
        found = self._client.search_runs([experiment_id], filter_string=f"tags.`{PARENT_TAG}` = '{escaped}'",
                                         max_results=1)
        if found:
            return str(found[0].info.run_id)
        created = self._client.create_run(experiment_id, run_name=parent, tags={PARENT_TAG: parent})
        self._client.set_terminated(created.info.run_id, status="FINISHED")
        return str(created.info.run_id)

    def _existing_run(self, resumed_id: str | None, experiment_id: str, key: str) -> str | None:
        """The MLflow run to continue: the stored id if it still exists, else one tagged with ``key``."""
        from mlflow.exceptions import MlflowException

        if resumed_id:
            try:
                found = self._client.get_run(resumed_id)
            except MlflowException:
                found = None
            if found is not None and found.info.lifecycle_stage != "deleted":
                return str(found.info.run_id)
        if not key:
            return None
        escaped = key.replace("'", "\\'")
        runs = self._client.search_runs([experiment_id], filter_string=f"tags.`{RUN_KEY_TAG}` = '{escaped}'",
                                        max_results=1)
        return str(runs[0].info.run_id) if runs else None

    def _require(self) -> tuple[Any, str]:
        if self._client is None or self._run_id is None:
            raise RuntimeError("the mlflow tracker was not started")
        return self._client, self._run_id

    def log_params(self, params: Mapping[str, str]) -> None:
        """Log the spec's dotted keys as MLflow params (in batches of 100)."""
        from mlflow.entities import Param

        client, run_id = self._require()
        items = [Param(_key(k), str(v)) for k, v in sorted(params.items())]
        for start in range(0, len(items), _BATCH):
            client.log_batch(run_id, params=items[start : start + _BATCH])

    def log_metrics(self, metrics: Mapping[str, float], step: int) -> None:
        """Log one round's values at ``step`` (= labels)."""
        from mlflow.entities import Metric

        client, run_id = self._require()
        now = int(time.time() * 1000)
        items = [Metric(_key(k), float(v), now, int(step)) for k, v in sorted(metrics.items())]
        client.log_batch(run_id, metrics=items)

    def log_artifact(self, path: Path) -> None:
        """Upload one file of the run directory (when ``log_artifacts`` is on)."""
        if not self._settings().log_artifacts:
            return
        client, run_id = self._require()
        client.log_artifact(run_id, str(path))

    def log_model(self, path: Path, round_: int) -> None:
        """Upload the latest adapter folder under ``adapter/round-N`` (when ``log_adapter`` is on)."""
        if not self._settings().log_adapter:
            return
        client, run_id = self._require()
        client.log_artifacts(run_id, str(path), artifact_path=f"adapter/round-{round_}")

    def finish(self, status: str) -> None:
        """End the MLflow run as FINISHED, FAILED or KILLED (a resume sets it RUNNING again)."""
        client, run_id = self._require()
        client.set_terminated(run_id, status=_STATUS.get(status, "FINISHED"))


def _artifact_root(uri: str) -> Path | None:
    """For a SQLite store, ``artifacts`` beside the database (MLflow's own default is ./mlruns in the working
    directory); for a server, None (the server decides)."""
    prefix = "sqlite:///"
    return Path(uri[len(prefix):]).parent / "artifacts" if uri.startswith(prefix) else None


def _key(name: str) -> str:
    """An MLflow-safe key: characters MLflow rejects become ``_``."""
    return _BAD_KEY.sub("_", name)
