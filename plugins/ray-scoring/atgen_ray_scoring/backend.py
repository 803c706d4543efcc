"""``ShardedBackend``: plan shards, skip finished ones, compute the rest, read everything back in order.

Subclasses only say how missing shards are computed (``_compute``) and what computes them
(``_engine``). A job killed at any point and started again finds its shard folder by the manifest key,
skips every finished shard and computes only the missing ones.
"""

from __future__ import annotations

import logging
from abc import abstractmethod
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any, ClassVar

from atgen_core import Generation, ScoringBackend, ScoringRequest
from atgen_ray_scoring.config import ShardingFields
from atgen_ray_scoring.manifest import build_manifest, open_shard_folder
from atgen_ray_scoring.records import ShardFormatError, embeddings_from_parquet, generations_from_parquet
from atgen_ray_scoring.shards import Shard, clean_stale_temporaries, finished_shards, plan_shards, shard_path
from atgen_ray_scoring.work import ShardTask, Task

if TYPE_CHECKING:
    import numpy as np

__all__ = ["SCORING_DIR", "ShardedBackend", "shard_root"]

log = logging.getLogger("atgen.scoring")

SCORING_DIR = "scoring"


def shard_root(request: ScoringRequest, output_dir: str | None) -> Path:
    """``<run_dir>/scoring``, else ``<output_dir>``; an error naming the fix when there is neither."""
    if request.run_dir is not None:
        return Path(request.run_dir) / SCORING_DIR
    if output_dir is not None:
        return Path(output_dir)
    raise ValueError(
        "the scoring request has no run_dir; set the backend's config field output_dir to a folder for the shards"
    )


class ShardedBackend(ScoringBackend):
    """A scoring backend that writes resumable shard files under ``<run_dir>/scoring/<manifest key>/``."""

    config: ShardingFields

    def __init__(self, config: Any = None) -> None:
        super().__init__(config)
        self.jobs: list[dict[str, Any]] = []
        """One record per job run by this instance: folder, task, shard count, how many were reused, the
        names of the computed ones, and the backend's accounting (e.g. worker CPU seconds for ``ray``)."""

    # -- what subclasses provide -------------------------------------------------------------------

    @abstractmethod
    def _engine(self, request: ScoringRequest) -> Mapping[str, Any]:
        """What computes the outputs of ``request`` (part of the manifest key)."""

    @abstractmethod
    def _compute(
        self, request: ScoringRequest, task: ShardTask, shards: Sequence[Shard], folder: Path
    ) -> Mapping[str, Any] | None:
        """Compute ``shards`` and write each one atomically into ``folder`` as soon as it is done.

        May return accounting (e.g. worker CPU seconds) that is added to the job record.
        """

    # -- ScoringBackend API ------------------------------------------------------------------------

    def generate(self, request: ScoringRequest) -> list[Generation]:
        """One output per id with the request's settings, in the order of ``request.ids``."""
        return [outs[0] for outs in self._generations(request, "generate", 1)]

    def sample(self, request: ScoringRequest) -> list[list[Generation]]:
        """``request.n_samples`` sampled outputs per id, in the order of ``request.ids``."""
        if request.n_samples < 1:
            raise ValueError(f"sample: the request asks for n_samples={request.n_samples}; it must be at least 1")
        return self._generations(request, "sample", request.n_samples)

    can_embed: ClassVar[bool] = True

    def embed(self, request: ScoringRequest) -> np.ndarray:
        """Embeddings of ``request.prompts`` (float32, one row per id, in order).

        Computed by ``request.embedder`` (rebuilt from the registry, given the round's model when it
        needs one), or by the model handle's own ``embed`` when the request names no embedder.
        """
        import numpy as np

        parts = self._run(request, "embed", 0)
        if not parts:
            return np.zeros((0, 0), dtype=np.float32)
        return np.concatenate(parts, axis=0)

    # -- the job -----------------------------------------------------------------------------------

    def _generations(self, request: ScoringRequest, task: Task, per_id: int) -> list[list[Generation]]:
        out: list[list[Generation]] = []
        for part in self._run(request, task, per_id):
            out.extend(part)
        return out

    def _run(self, request: ScoringRequest, task: Task, per_id: int) -> list[Any]:
        """Compute the missing shards of the job, then read every shard (in plan order)."""
        shards = plan_shards(request.ids, request.prompts, self.config.shard_size)
        manifest = build_manifest(
            request,
            task,
            shard_size=self.config.shard_size,
            engine=self._engine(request),
            backend=self.name,
        )
        folder = open_shard_folder(shard_root(request, self.config.output_dir), manifest)
        clean_stale_temporaries(folder)
        job = ShardTask(task=task, settings=request.settings, n_samples=request.n_samples if task == "sample" else 0)
        done = finished_shards(folder)
        missing = [s for s in shards if s.name not in done]
        log.info(
            "scoring (%s, %s): %d shards, %d already done, %d to compute in %s",
            self.name, task, len(shards), len(shards) - len(missing), len(missing), folder,
        )
        record: dict[str, Any] = {
            "folder": str(folder), "task": task, "shards": len(shards), "reused": len(shards) - len(missing),
            "computed": [s.name for s in missing],
        }
        record.update(self._compute_all(request, job, missing, folder))
        parts, broken = self._read(folder, shards, task, per_id)
        if broken:
            for shard in broken:
                log.warning("scoring: shard file %s is unreadable; computing it again", shard_path(folder, shard.name))
                shard_path(folder, shard.name).unlink(missing_ok=True)
            self._compute_all(request, job, broken, folder)
            record["computed"] += [s.name for s in broken]
            again, still = self._read(folder, broken, task, per_id)
            if still:
                raise ShardFormatError(f"shard file {shard_path(folder, still[0].name)} stays unreadable")
            fixed = dict(zip((s.name for s in broken), again))
            parts = [fixed.get(s.name, part) for s, part in zip(shards, parts)]
        self.jobs.append(record)
        return parts

    def _compute_all(
        self, request: ScoringRequest, job: ShardTask, shards: Sequence[Shard], folder: Path
    ) -> Mapping[str, Any]:
        if not shards:
            return {}
        stats = self._compute(request, job, shards, folder)
        lost = [s for s in shards if not shard_path(folder, s.name).is_file()]
        if lost:
            raise RuntimeError(f"scoring finished without writing {len(lost)} shards (e.g. {lost[0].name})")
        return dict(stats or {})

    @staticmethod
    def _read(folder: Path, shards: Sequence[Shard], task: Task, per_id: int) -> tuple[list[Any], list[Shard]]:
        """Each shard's parsed content (None for an unreadable one) and the unreadable shards."""
        parts: list[Any] = []
        broken: list[Shard] = []
        for shard in shards:
            data = shard_path(folder, shard.name).read_bytes()
            try:
                if task == "embed":
                    parts.append(embeddings_from_parquet(data, shard.ids))
                else:
                    parts.append(generations_from_parquet(data, shard.ids, per_id))
            except ShardFormatError:
                parts.append(None)
                broken.append(shard)
        return parts, broken
