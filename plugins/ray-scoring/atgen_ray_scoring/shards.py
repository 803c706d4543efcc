"""The shard plan (deterministic names from the row ids) and atomic shard files.

The request's rows are cut, in request order, into shards of ``shard_size`` rows. A shard's name is its
position plus a hash of its ids (``shard-00003-1f2e3d4c5b6a7980``), so the same request always gives
the same names, and a file can never be mistaken for another shard's. A shard file is written to a
temporary sibling, flushed to disk, and renamed into place (:func:`atgen_core.atomic.atomic_write`): it
either exists complete or not at all.
"""

from __future__ import annotations

import hashlib
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from atgen_core.atomic import TMP_SUFFIX

__all__ = [
    "SHARD_SUFFIX",
    "Shard",
    "clean_stale_temporaries",
    "finished_shards",
    "plan_shards",
    "shard_path",
    "shard_seed",
]

SHARD_SUFFIX = ".parquet"
_STALE_SECONDS = 3600.0


@dataclass(frozen=True)
class Shard:
    """A slice of the request: its position, deterministic name, ids and prompts."""

    index: int
    name: str
    ids: tuple[str, ...]
    prompts: tuple[str, ...]

    def __len__(self) -> int:
        return len(self.ids)


def _ids_digest(ids: Sequence[str]) -> str:
    h = hashlib.sha256()
    for id_ in ids:
        raw = id_.encode("utf-8")
        h.update(len(raw).to_bytes(8, "little"))
        h.update(raw)
    return h.hexdigest()[:16]


def plan_shards(ids: Sequence[str], prompts: Sequence[str], shard_size: int) -> list[Shard]:
    """Cut ``ids``/``prompts`` (same length, unique ids) into shards of ``shard_size`` rows, in order."""
    if len(ids) != len(prompts):
        raise ValueError(f"the request has {len(ids)} ids but {len(prompts)} prompts")
    if shard_size < 1:
        raise ValueError(f"shard_size must be at least 1, got {shard_size}")
    seen: set[str] = set()
    for id_ in ids:
        if id_ in seen:
            raise ValueError(f"the request repeats id {id_!r}; scoring needs unique ids")
        seen.add(id_)
    shards = []
    for index, start in enumerate(range(0, len(ids), shard_size)):
        chunk = tuple(ids[start : start + shard_size])
        shards.append(
            Shard(index, f"shard-{index:05d}-{_ids_digest(chunk)}", chunk, tuple(prompts[start : start + shard_size]))
        )
    return shards


def shard_seed(seed: int, name: str) -> int:
    """A sampling seed for one shard, derived from the request's seed and the shard name (31 bits)."""
    digest = hashlib.sha256(f"{seed}:{name}".encode()).digest()
    return int.from_bytes(digest[:4], "little") & 0x7FFFFFFF


def shard_path(folder: Path, name: str) -> Path:
    """Where shard ``name`` lives in ``folder``."""
    return folder / f"{name}{SHARD_SUFFIX}"


def finished_shards(folder: Path) -> set[str]:
    """Names of the shard files present in ``folder`` (each complete: files appear only by rename)."""
    if not folder.is_dir():
        return set()
    return {p.name[: -len(SHARD_SUFFIX)] for p in folder.iterdir() if p.name.endswith(SHARD_SUFFIX)}


def clean_stale_temporaries(folder: Path, older_than: float = _STALE_SECONDS) -> int:
    """Remove temporary files left by killed writers (only old ones: a live writer may own a new one)."""
    if not folder.is_dir():
        return 0
    now = time.time()
    removed = 0
    for p in folder.iterdir():
        if p.name.startswith(".") and p.name.endswith(TMP_SUFFIX):
            try:
                if now - p.stat().st_mtime > older_than:
                    p.unlink()
                    removed += 1
            except FileNotFoundError:
                continue
    return removed
