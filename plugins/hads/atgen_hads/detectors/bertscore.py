"""``bertscore-precision``: 1 - BERTScore precision of the output against its source.

BERTScore precision (Zhang et al., 2020) matches every token of the candidate (here: the model output) with
its most similar token of the reference (here: the source document) by cosine similarity of contextual
vectors from one encoder layer, and averages those maxima over the candidate's tokens. Low precision
means the output says things the source does not contain. The implementation is the one of the
``bertscore`` metric, :class:`atgen_nlg_metrics.bertscore_engine.BertScorer` (special tokens of the
candidate weigh 0, those of the reference are match targets; no idf, no baseline rescaling).
"""

from __future__ import annotations

import gc
from collections.abc import Sequence
from typing import ClassVar

import numpy as np
from atgen_nlg_metrics.bertscore_engine import BertScorer
from atgen_nlg_metrics.bertscore_engine import default_model_path as default_encoder_path

from atgen_core.types import ProgressFn, no_progress
from atgen_hads.detectors.base import Detector
from atgen_hads.options import DetectorOptions

__all__ = ["BertScorePrecision", "default_encoder_path"]


class BertScorePrecision(Detector):
    """``bertscore-precision``: 1 - BERTScore precision (output as candidate, source as reference)."""

    name: ClassVar[str] = "bertscore-precision"
    needs_model: ClassVar[bool] = True

    def __init__(self, options: DetectorOptions) -> None:
        super().__init__(options)
        self.scorer: BertScorer | None = None

    @property
    def loaded(self) -> bool:
        """Whether the encoder is in memory."""
        return self.scorer is not None

    @property
    def layer(self) -> int:
        """The hidden layer used (known after loading)."""
        return self.scorer.layer if self.scorer is not None else 0

    def _load(self) -> BertScorer:
        if self.scorer is None:
            opts = self.options
            self.scorer = BertScorer(
                opts.encoder_path,
                opts.layer or None,
                device=opts.device,
                batch_size=opts.batch_size,
                max_length=opts.max_length,
                name=self.name,
                model_field="detector_options.encoder_path",
                layer_field="detector_options.layer",
            )
        return self.scorer

    def close(self) -> None:
        """Drop the encoder and tokenizer."""
        self.scorer = None
        gc.collect()

    def precision(
        self, outputs: Sequence[str], sources: Sequence[str], progress: ProgressFn = no_progress
    ) -> np.ndarray:
        """Raw BERTScore precision of every (output, source) pair (float64, in [-1, 1])."""
        if len(outputs) != len(sources):
            raise ValueError(f"{self.name}: {len(outputs)} outputs but {len(sources)} sources")
        if not outputs:
            return np.zeros(0, dtype=np.float64)
        precision, _, _ = self._load().score(outputs, sources, progress=progress, desc=self.name)
        return precision

    def score(self, outputs: Sequence[str], sources: Sequence[str], progress: ProgressFn = no_progress) -> np.ndarray:
        """1 - precision, clipped to [0, 1]."""
        return np.clip(1.0 - self.precision(outputs, sources, progress), 0.0, 1.0)
