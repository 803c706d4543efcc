"""``ModelRecipe``: everything a worker needs to rebuild the round's model, as plain picklable data.

A worker looks the trainer up by name in its own plugin registry (``atgen_core.plugins.load_registry``),
validates the trainer config, and calls ``trainer.load(ModelContext(model=...), adapter)``: the same
model the loop would load in-process. The adapter either travels with the recipe as a tar archive
(no shared file system needed) or is read from its path.
"""

from __future__ import annotations

import importlib
import io
import shutil
import tarfile
import tempfile
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from atgen_core import (
    EmbedContext,
    Embedder,
    EmbedderRecipe,
    ModelContext,
    ModelHandle,
    ModelSpec,
    ScoringRequest,
    Trainer,
)
from atgen_core.types import ProgressFn, no_progress

__all__ = ["EmbedderHandle", "ModelRecipe", "pack_folder", "unpack_archive"]


class EmbedderHandle:
    """An embedder component behind a model handle's ``embed`` signature (what a shard worker calls).

    ``model`` is the round's model handle for embedders that read it (``needs_model``), else None.
    """

    def __init__(self, embedder: Embedder, model: ModelHandle | None = None) -> None:
        self.embedder = embedder
        self.model = model

    def embed(self, texts: Sequence[str], progress: ProgressFn = no_progress) -> Any:
        """A float32 matrix, one row per text."""
        return self.embedder.embed(list(texts), EmbedContext(model=self.model, progress=progress))


def pack_folder(path: Path) -> bytes:
    """A tar archive (in memory) of a file or folder, stored under its base name."""
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w") as tar:
        tar.add(str(path), arcname=Path(path).name)
    return buf.getvalue()


def unpack_archive(data: bytes, into: Path) -> Path:
    """Extract an archive made by :func:`pack_folder` into ``into``; return the extracted top entry."""
    with tarfile.open(fileobj=io.BytesIO(data), mode="r") as tar:
        members = tar.getmembers()
        tops = {m.name.split("/", 1)[0] for m in members}
        if len(tops) != 1:
            raise ValueError(f"the adapter archive holds {len(tops)} top-level entries, expected one")
        if hasattr(tarfile, "data_filter"):
            tar.extractall(into, filter="data")
        else:  # Python before 3.10.12 / 3.11.4: no extraction filters (the archive is our own)
            tar.extractall(into)
    return into / tops.pop()


@dataclass(frozen=True)
class ModelRecipe:
    """How to rebuild and load the model of one scoring request, anywhere the plugins are installed."""

    trainer_name: str
    trainer_config: Mapping[str, Any]
    model: Mapping[str, Any]
    adapter: str | None = None
    adapter_archive: bytes | None = None
    seed: int = 0
    cache_dir: str | None = None
    extra_plugin_modules: tuple[str, ...] = ()
    embedder: EmbedderRecipe | None = None

    @classmethod
    def from_request(
        cls, request: ScoringRequest, *, ship_adapter: bool = False, extra_plugin_modules: tuple[str, ...] = ()
    ) -> ModelRecipe:
        """The recipe of ``request``; with ``ship_adapter`` the adapter's files are packed into it.

        Nothing is packed for an embedder that does not read the model: its workers never load one.
        """
        archive = None
        uses_model = request.embedder is None or request.embedder.needs_model
        if ship_adapter and uses_model and request.adapter is not None:
            if not Path(request.adapter).exists():
                raise FileNotFoundError(f"the adapter {request.adapter} does not exist")
            archive = pack_folder(Path(request.adapter))
        return cls(
            trainer_name=request.trainer_name,
            trainer_config=dict(request.trainer_config),
            model=request.model.model_dump(mode="json"),
            adapter=str(request.adapter) if request.adapter is not None else None,
            adapter_archive=archive,
            seed=request.seed,
            cache_dir=str(request.cache_dir) if request.cache_dir is not None else None,
            extra_plugin_modules=tuple(extra_plugin_modules),
            embedder=request.embedder,
        )

    def _component(self, kind: str, name: str, config: Mapping[str, Any], base: type) -> Any:
        from atgen_core.plugins import load_registry

        extra = [(module, importlib.import_module(module)) for module in self.extra_plugin_modules]
        cls = load_registry(plugins=extra).get(kind, name).cls
        component = cls(cls.Config.model_validate(dict(config)))
        if not isinstance(component, base):
            raise TypeError(f"component {name!r} is a {type(component).__name__}, not a {base.__name__}")
        return component

    def build_trainer(self) -> Trainer:
        """The trainer component, looked up in this process's registry and configured."""
        trainer: Trainer = self._component("trainer", self.trainer_name, self.trainer_config, Trainer)
        return trainer

    def build_embedder(self, model: Callable[[], ModelHandle] | None = None) -> EmbedderHandle:
        """The request's embedder, looked up in this process's registry, behind a handle's ``embed``.

        Embedders that read the model get ``model()`` when given, else the model this recipe loads.
        """
        if self.embedder is None:
            raise ValueError("this scoring job names no embedder")
        embedder: Embedder = self._component("embedder", self.embedder.name, self.embedder.config, Embedder)
        if not self.embedder.needs_model:
            return EmbedderHandle(embedder)
        return EmbedderHandle(embedder, model() if model is not None else self.load())

    def load_worker(self) -> ModelHandle | EmbedderHandle:
        """What a shard worker computes with: the embedder for embedding jobs that name one, else the model."""
        return self.build_embedder() if self.embedder is not None else self.load()

    def load(self) -> ModelHandle:
        """Rebuild the trainer and load the model (with the adapter applied when there is one)."""
        trainer = self.build_trainer()
        ctx = ModelContext(
            model=ModelSpec.model_validate(dict(self.model)),
            seed=self.seed,
            cache_dir=Path(self.cache_dir) if self.cache_dir is not None else None,
        )
        if self.adapter_archive is None:
            return trainer.load(ctx, Path(self.adapter) if self.adapter is not None else None)
        scratch = Path(tempfile.mkdtemp(prefix="atgen-adapter-"))
        try:
            adapter = unpack_archive(self.adapter_archive, scratch)
            return trainer.load(ctx, adapter)
        finally:
            # Trainers read the adapter while loading; the weights then live in memory.
            shutil.rmtree(scratch, ignore_errors=True)
