"""The ``local`` backend: the sharded, resumable scoring job, run in-process one shard after the other."""

from __future__ import annotations

import time
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any, ClassVar

from atgen_core import ModelHandle, ScoringRequest
from atgen_core.atomic import atomic_write
from atgen_ray_scoring.backend import ShardedBackend
from atgen_ray_scoring.config import LocalScoringConfig
from atgen_ray_scoring.recipe import EmbedderHandle, ModelRecipe
from atgen_ray_scoring.shards import Shard, shard_path
from atgen_ray_scoring.work import ShardTask, process_cpu_seconds, score_shard

__all__ = ["LocalScoring"]

ENGINE: Mapping[str, Any] = {"kind": "model-handle"}
"""Shared by ``local`` and ``ray``: their shards are interchangeable (a job started with one can finish with
the other)."""


class LocalScoring(ShardedBackend):
    """In-process scoring in resumable shards (a killed job skips finished shards when started again).

    Uses the loop's model when it is offered (``reuse_loop_model``), else rebuilds the trainer from the
    registry exactly as a Ray worker does.
    """

    name: ClassVar[str] = "local"
    Config = LocalScoringConfig
    config: LocalScoringConfig

    def _engine(self, request: ScoringRequest) -> Mapping[str, Any]:
        del request
        return ENGINE

    def _handle(self, request: ScoringRequest) -> ModelHandle | EmbedderHandle:
        recipe = ModelRecipe.from_request(request, extra_plugin_modules=tuple(self.config.extra_plugin_modules))
        loop_model = request.local_model if self.config.reuse_loop_model else None
        if request.embedder is not None:
            return recipe.build_embedder(loop_model)
        return loop_model() if loop_model is not None else recipe.load()

    def _compute(
        self, request: ScoringRequest, task: ShardTask, shards: Sequence[Shard], folder: Path
    ) -> dict[str, Any]:
        started, cpu = time.perf_counter(), process_cpu_seconds()
        handle = self._handle(request)
        loaded = time.perf_counter()
        for shard in request.progress(shards, total=len(shards), desc=f"{task.task} (shards)"):
            data = score_shard(handle, task, shard.name, shard.ids, shard.prompts)
            atomic_write(shard_path(folder, shard.name), data)
        return {
            "workers": 1,
            "worker_cpu_seconds": round(process_cpu_seconds() - cpu, 3),
            "model_load_seconds": round(loaded - started, 3),
            "scoring_seconds": round(time.perf_counter() - loaded, 3),
        }
