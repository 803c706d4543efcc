"""The ``local`` backend: the sharded, resumable scoring job, run in-process one shard after the other."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any, ClassVar

from atgen_core import ModelHandle, ScoringRequest
from atgen_ray_scoring.backend import ShardedBackend
from atgen_ray_scoring.config import LocalScoringConfig
from atgen_ray_scoring.recipe import ModelRecipe
from atgen_ray_scoring.shards import Shard, shard_path, write_atomic
from atgen_ray_scoring.work import ShardTask, score_shard

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

    def _handle(self, request: ScoringRequest) -> ModelHandle:
        if self.config.reuse_loop_model and request.local_model is not None:
            return request.local_model()
        return ModelRecipe.from_request(request, extra_plugin_modules=tuple(self.config.extra_plugin_modules)).load()

    def _compute(self, request: ScoringRequest, task: ShardTask, shards: Sequence[Shard], folder: Path) -> None:
        handle = self._handle(request)
        for shard in request.progress(shards, total=len(shards), desc=f"{task.task} (shards)"):
            data = score_shard(handle, task, shard.name, shard.ids, shard.prompts)
            write_atomic(shard_path(folder, shard.name), data)
