"""The per-shard work, shared by every backend that runs the trainer's model handle.

``score_shard`` turns one shard (ids and prompts) into the bytes of its shard file with a loaded
``ModelHandle``. The ``local`` backend calls it in a loop; the ``ray`` backend calls it inside
``ShardActor``, a Ray Data ``map_batches`` callable class that loads the model once per actor. Same
function, same inputs, same bytes.
"""

from __future__ import annotations

import json
import os
import resource
import socket
import time
from collections.abc import Sequence
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING, Any, Literal

from atgen_core import GenerationSettings, ModelHandle
from atgen_ray_scoring.recipe import EmbedderHandle
from atgen_ray_scoring.records import embeddings_to_parquet, generations_to_parquet
from atgen_ray_scoring.shards import Shard, shard_seed

if TYPE_CHECKING:
    import numpy as np

    from atgen_ray_scoring.recipe import ModelRecipe

__all__ = ["ShardActor", "ShardTask", "Task", "process_cpu_seconds", "score_shard", "shard_rows"]

Task = Literal["generate", "sample", "embed"]


@dataclass(frozen=True)
class ShardTask:
    """What to compute for every shard of a job."""

    task: Task
    settings: GenerationSettings
    n_samples: int = 0

    def __post_init__(self) -> None:
        if self.task == "sample" and self.n_samples < 1:
            raise ValueError(f"sampling needs n_samples >= 1, got {self.n_samples}")


def score_shard(
    handle: ModelHandle | EmbedderHandle, task: ShardTask, name: str, ids: Sequence[str], prompts: Sequence[str]
) -> bytes:
    """The shard file of ``ids``/``prompts`` computed with ``handle``.

    Each shard samples with its own seed derived from the request's seed and the shard name, so the
    result depends only on the shard, never on which worker ran it or in which order.
    """
    if task.task == "embed":
        return embeddings_to_parquet(ids, handle.embed(list(prompts)))
    if isinstance(handle, EmbedderHandle):
        raise TypeError(f"a {task.task!r} job needs a model handle, not an embedder")
    settings = replace(task.settings, seed=shard_seed(task.settings.seed, name))
    if task.task == "generate":
        outputs = [[g] for g in handle.generate(list(prompts), settings)]
    else:
        outputs = [list(g) for g in handle.sample(list(prompts), task.n_samples, settings)]
    if len(outputs) != len(ids):
        raise RuntimeError(f"the model handle returned {len(outputs)} outputs for {len(ids)} prompts")
    return generations_to_parquet(ids, outputs)


def process_cpu_seconds() -> float:
    """User + system CPU time of this process so far (all its threads)."""
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return float(usage.ru_utime + usage.ru_stime)


def shard_rows(shards: Sequence[Shard]) -> list[dict[str, Any]]:
    """One dataset row per shard (a fixed schema: the ids and prompts travel as a JSON string)."""
    return [
        {"name": s.name, "payload": json.dumps({"ids": list(s.ids), "prompts": list(s.prompts)})} for s in shards
    ]


class ShardActor:
    """Ray Data ``map_batches`` class: loads the model once, then scores each shard row it is given."""

    def __init__(self, recipe: ModelRecipe, task: ShardTask) -> None:
        started = time.perf_counter()
        self.handle = recipe.load_worker()
        self.task = task
        self.load_seconds = time.perf_counter() - started

    def __call__(self, batch: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
        import numpy as np

        names: list[str] = []
        blobs: list[bytes] = []
        seconds: list[float] = []
        for name, payload in zip(batch["name"], batch["payload"]):
            started = time.perf_counter()
            rows = json.loads(str(payload))
            blobs.append(score_shard(self.handle, self.task, str(name), rows["ids"], rows["prompts"]))
            names.append(str(name))
            seconds.append(time.perf_counter() - started)
        n = len(names)
        return {
            "name": np.array(names, dtype=object),
            "data": np.array(blobs, dtype=object),
            "seconds": np.array(seconds, dtype=np.float64),
            # Accounting: this actor's process and its CPU time so far (import, model load, scoring).
            "worker": np.array([f"{socket.gethostname()}:{os.getpid()}"] * n, dtype=object),
            "worker_cpu_seconds": np.full(n, process_cpu_seconds(), dtype=np.float64),
            "load_seconds": np.full(n, self.load_seconds, dtype=np.float64),
        }
