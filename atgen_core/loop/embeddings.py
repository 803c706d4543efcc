"""Input embeddings: computed by the spec's embedder (or the scoring backend) and cached on disk.

An embedder that does not use the model embeds the whole pool once and keeps it in a file keyed by the
embedder's name and config (shared between runs through ``cache_dir``); one that uses the model is
asked again each round, because the model changes.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from atgen_core.atomic import atomic_open
from atgen_core.components import EmbedContext, Embedder, EmbedderRecipe, ScoringBackend
from atgen_core.loop.models import ModelSlot
from atgen_core.loop.round import Round
from atgen_core.loop.run import ComponentError, Run
from atgen_core.loop.scoring import ScoringRequests
from atgen_core.types import Embeddings, Example

__all__ = ["EmbeddingCache"]


class EmbeddingCache:
    """The embeddings of a round's examples, computed once per embedder for what does not change."""

    def __init__(
        self,
        run: Run,
        embedder: Embedder,
        scorer: ScoringBackend | None,
        requests: ScoringRequests,
        slot: ModelSlot,
    ) -> None:
        self.run = run
        self.embedder = embedder
        self.scorer = scorer
        self.requests = requests
        self.slot = slot

    def embeddings(self, round_: Round, examples: Sequence[Example]) -> Embeddings:
        """Embeddings of ``examples``' inputs, in their order."""
        texts = {e.id: e.input for e in examples}
        if self.embedder.needs_model:
            ids = list(texts)
            return Embeddings(ids, self.embed(round_, ids, [texts[i] for i in ids]))
        cache_file = self._cache_file()
        known: dict[str, np.ndarray] = {}
        if cache_file.exists():
            with np.load(cache_file, allow_pickle=False) as data:
                known = dict(zip(data["ids"].tolist(), data["matrix"]))
        if any(i not in known for i in texts):
            # Embed the whole pool once per run (cheap next time), not only today's candidates.
            everything = {e.id: e.input for e in self.run.pool}
            everything.update(texts)
            missing = [i for i in everything if i not in known]
            known.update(zip(missing, self.embed(round_, missing, [everything[i] for i in missing])))
            ids_all = list(known)
            with atomic_open(cache_file, "wb") as handle:
                np.savez(handle, ids=np.array(ids_all), matrix=np.stack([known[i] for i in ids_all]))
        ids = list(texts)
        return Embeddings(ids, np.stack([known[i] for i in ids]).astype(np.float32))

    def _cache_file(self) -> Path:
        key = json.dumps(
            {"name": self.embedder.name, "config": self.embedder.config.model_dump(mode="json")}, sort_keys=True
        )
        root = self.run.cache_dir if self.run.cache_dir is not None else self.run.run_dir / "cache"
        return root / f"embeddings-{hashlib.sha256(key.encode()).hexdigest()[:12]}.npz"

    def embed(self, round_: Round, ids: Sequence[str], texts: Sequence[str]) -> np.ndarray:
        """Embeddings of ``texts`` by the spec's embedder: through the scoring backend when it can embed."""
        embedder = self.embedder
        if self.scorer is not None and self.scorer.can_embed:
            recipe = EmbedderRecipe(
                name=embedder.name, config=embedder.config.model_dump(mode="json"), needs_model=embedder.needs_model
            )
            matrix = self.scorer.embed(self.requests.request(round_, ids, texts, embedder=recipe))
        else:
            model = self.slot.for_round(round_.model_before) if embedder.needs_model else None
            matrix = embedder.embed(list(texts), EmbedContext(model=model, progress=self.run.progress))
        matrix = np.asarray(matrix, dtype=np.float32)
        if matrix.shape[0] != len(ids):
            raise ComponentError(f"embedder {embedder.name!r} returned {matrix.shape[0]} rows for {len(ids)} texts")
        return matrix
