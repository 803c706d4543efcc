"""The manifest of a scoring job: what the shards were computed from, and the folder key derived from it.

Everything that can change an output is in the keyed part: the task, the engine, the trainer and its
config, the model section, the *content* hash of the adapter (not its path), the generation settings,
the number of samples, the seed, a fingerprint of the pool (ids and prompts in order) and the shard
size. The shard folder is named by a hash of it, so a new round's adapter, other settings or another
pool always land in a new folder and stale shards are never mixed in. ``manifest.json`` in the folder
keeps the keyed part plus informational fields (adapter path, round, backend) for people.
"""

from __future__ import annotations

import hashlib
import json
import time
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from atgen_core import ScoringRequest
from atgen_core.atomic import atomic_write

__all__ = [
    "MANIFEST_FILE",
    "Manifest",
    "ManifestMismatchError",
    "adapter_digest",
    "build_manifest",
    "open_shard_folder",
    "pool_fingerprint",
]

MANIFEST_FILE = "manifest.json"
FORMAT = 1


class ManifestMismatchError(RuntimeError):
    """A shard folder's manifest describes another job than the one asked for."""


@dataclass(frozen=True)
class Manifest:
    """The keyed description of a job, its folder key, and informational extras."""

    key: str
    keyed: Mapping[str, Any]
    info: Mapping[str, Any]

    def to_json(self) -> str:
        return json.dumps({"key": self.key, "keyed": self.keyed, "info": self.info}, indent=2, sort_keys=True)


def _update_text(h: Any, text: str) -> None:
    raw = text.encode("utf-8")
    h.update(len(raw).to_bytes(8, "little"))
    h.update(raw)


def adapter_digest(path: Path | None) -> str | None:
    """SHA-256 over every file of an adapter folder (relative names and bytes), or of a single file."""
    if path is None:
        return None
    path = Path(path)
    if not path.exists():
        raise FileNotFoundError(f"the adapter {path} does not exist; was the run directory moved?")
    files = [path] if path.is_file() else sorted(p for p in path.rglob("*") if p.is_file())
    h = hashlib.sha256()
    for f in files:
        _update_text(h, f.name if f == path else f.relative_to(path).as_posix())
        with open(f, "rb") as fh:
            for block in iter(lambda: fh.read(1 << 20), b""):
                h.update(block)
    return h.hexdigest()


def pool_fingerprint(ids: Sequence[str], prompts: Sequence[str]) -> str:
    """SHA-256 of the ids and prompts in order."""
    h = hashlib.sha256()
    for id_, prompt in zip(ids, prompts):
        _update_text(h, id_)
        _update_text(h, prompt)
    return h.hexdigest()


def build_manifest(
    request: ScoringRequest,
    task: str,
    *,
    shard_size: int,
    engine: Mapping[str, Any],
    backend: str,
    digest: str | None = None,
) -> Manifest:
    """The manifest of ``task`` ('generate', 'sample' or 'embed') for ``request``.

    ``engine`` describes what computes the outputs ({'kind': 'model-handle'} for the trainer's handle,
    vLLM's settings for ``ray-vllm``); ``digest`` is the adapter's content hash when already known.
    An ``embed`` request with an embedder recipe is keyed by the embedder (and by the model and
    adapter only when the embedder reads the model).
    """
    embedder = request.embedder if task == "embed" else None
    # An embedder that does not read the model (e.g. sentence-transformers) gives the same vectors in
    # every round: its key leaves the trainer, model and adapter out, so its shards serve every round.
    uses_model = embedder is None or embedder.needs_model
    if digest is None and uses_model:
        digest = adapter_digest(request.adapter)
    keyed: dict[str, Any] = {
        "format": FORMAT,
        "task": task,
        "engine": dict(engine),
        "embedder": None if embedder is None else {"name": embedder.name, "config": dict(embedder.config)},
        "trainer": {"name": request.trainer_name, "config": dict(request.trainer_config)} if uses_model else None,
        "model": request.model.model_dump(mode="json") if uses_model else None,
        "adapter_sha256": digest if uses_model else None,
        "settings": asdict(request.settings) if task != "embed" else None,
        "n_samples": request.n_samples if task == "sample" else 0,
        "seed": request.seed,
        "pool": {"size": len(request.ids), "sha256": pool_fingerprint(request.ids, request.prompts)},
        "shard_size": shard_size,
    }
    canonical = json.dumps(keyed, sort_keys=True, separators=(",", ":"), default=str)
    key = f"{task}-{hashlib.sha256(canonical.encode()).hexdigest()[:16]}"
    # Round-trip through JSON so that the keyed part compares equal to what is read back from disk.
    keyed = json.loads(canonical)
    info = {
        "adapter_path": str(request.adapter) if request.adapter is not None else None,
        "round": request.round,
        "backend": backend,
        "created": time.time(),
    }
    return Manifest(key, keyed, info)


def open_shard_folder(root: Path, manifest: Manifest) -> Path:
    """``root/<key>``, created with its ``manifest.json`` (written atomically) or checked against it."""
    folder = Path(root) / manifest.key
    path = folder / MANIFEST_FILE
    if path.is_file():
        stored = json.loads(path.read_text(encoding="utf-8"))
        if stored.get("keyed") != manifest.keyed:
            raise ManifestMismatchError(
                f"{path} describes another scoring job than its folder name says; the folder was edited by "
                f"hand or copied. Delete {folder} to recompute it"
            )
        return folder
    folder.mkdir(parents=True, exist_ok=True)
    atomic_write(path, manifest.to_json().encode("utf-8"))
    return folder
