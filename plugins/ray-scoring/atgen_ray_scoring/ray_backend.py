"""The ``ray`` backend: shards scored by Ray Data ``map_batches`` with a pool of model-holding actors."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any, ClassVar

from atgen_core import ScoringRequest
from atgen_core.atomic import atomic_write
from atgen_ray_scoring.backend import ShardedBackend
from atgen_ray_scoring.config import RayScoringConfig
from atgen_ray_scoring.local import ENGINE
from atgen_ray_scoring.recipe import ModelRecipe
from atgen_ray_scoring.session import RaySession
from atgen_ray_scoring.shards import Shard, shard_path
from atgen_ray_scoring.work import ShardActor, ShardTask, shard_rows

__all__ = ["RayScoring"]


class RayScoring(ShardedBackend):
    """Pool scoring on a Ray cluster: one actor per worker loads the round's model once and scores shards.

    Each actor rebuilds the trainer from the registry and loads the model with the round's adapter;
    finished shards come back to the driver, which writes each one atomically the moment it arrives.
    """

    name: ClassVar[str] = "ray"
    Config = RayScoringConfig
    config: RayScoringConfig

    def __init__(self, config: Any = None) -> None:
        super().__init__(config)
        self.session = RaySession(self.config)

    def _engine(self, request: ScoringRequest) -> Mapping[str, Any]:
        del request
        return ENGINE

    def map_batches_kwargs(self, recipe: ModelRecipe, task: ShardTask, n_shards: int) -> dict[str, Any]:
        """The arguments of ``Dataset.map_batches`` (one shard per call, a fixed pool of actors)."""
        import ray.data

        kwargs: dict[str, Any] = {
            "fn_constructor_kwargs": {"recipe": recipe, "task": task},
            "batch_size": 1,
            "batch_format": "numpy",
            "compute": ray.data.ActorPoolStrategy(size=max(1, min(self.config.num_workers, n_shards))),
            "num_cpus": self.config.num_cpus_per_worker,
        }
        if self.config.num_gpus_per_worker > 0:
            kwargs["num_gpus"] = self.config.num_gpus_per_worker
        return kwargs

    def _compute(
        self, request: ScoringRequest, task: ShardTask, shards: Sequence[Shard], folder: Path
    ) -> dict[str, Any]:
        self.session.ensure()
        import ray.data

        recipe = ModelRecipe.from_request(
            request, ship_adapter=self.config.ship_adapter, extra_plugin_modules=tuple(self.config.extra_plugin_modules)
        )
        rows = shard_rows(shards)
        source = ray.data.from_items(rows, override_num_blocks=len(rows))
        ds = source.map_batches(ShardActor, **self.map_batches_kwargs(recipe, task, len(rows)))
        expected = {s.name for s in shards}
        cpu: dict[str, float] = {}
        load: dict[str, float] = {}
        busy = 0.0
        results = ds.iter_rows()
        for row in request.progress(results, total=len(rows), desc=f"{task.task} (ray shards)"):
            name = str(row["name"])
            if name not in expected:
                raise RuntimeError(f"a Ray worker returned an unknown shard {name!r}")
            atomic_write(shard_path(folder, name), bytes(row["data"]))
            worker = str(row["worker"])
            cpu[worker] = max(cpu.get(worker, 0.0), float(row["worker_cpu_seconds"]))
            load[worker] = float(row["load_seconds"])
            busy += float(row["seconds"])
        # Accounting for the job record: actors used, their total CPU seconds (imports and model load
        # included), and model-load and scoring seconds summed over actors.
        return {
            "workers": len(cpu),
            "worker_cpu_seconds": round(sum(cpu.values()), 3),
            "model_load_seconds": round(sum(load.values()), 3),
            "scoring_seconds": round(busy, 3),
        }

    def close(self) -> None:
        """Shut down the private Ray cluster, if this backend started one."""
        self.session.close()
