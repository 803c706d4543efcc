"""``nli-entailment``: 1 - P(source entails output) from a local sequence-pair (NLI) classifier.

No NLI model ships offline here, so this detector needs ``detector_options.nli_model_path`` (any
``AutoModelForSequenceClassification`` checkpoint whose ``id2label`` names an entailment class, e.g. an
MNLI-tuned RoBERTa or DeBERTa). Premise = source, hypothesis = output; pairs that exceed ``max_length``
are truncated from the longer side (normally the source).
"""

from __future__ import annotations

import gc
from collections.abc import Sequence
from typing import Any, ClassVar

import numpy as np

from atgen_core.types import ProgressFn, no_progress
from atgen_hads.detectors.base import Detector
from atgen_hads.options import DetectorOptions

__all__ = ["NLIEntailment"]


class NLIEntailment(Detector):
    """``nli-entailment``: 1 - softmax probability of the entailment class for (source, output)."""

    name: ClassVar[str] = "nli-entailment"
    needs_model: ClassVar[bool] = True

    def __init__(self, options: DetectorOptions) -> None:
        super().__init__(options)
        self._model: Any = None
        self._tokenizer: Any = None
        self._entail_index = 0

    @classmethod
    def check_options(cls, options: DetectorOptions) -> None:
        if not options.nli_model_path:
            raise ValueError(
                "detector 'nli-entailment' needs detector_options.nli_model_path (a local NLI classifier "
                "directory or hub id); no NLI model ships offline"
            )

    @property
    def loaded(self) -> bool:
        """Whether the classifier is in memory."""
        return self._model is not None

    def _load(self) -> None:
        if self._model is not None:
            return
        from transformers import AutoModelForSequenceClassification, AutoTokenizer

        self.check_options(self.options)
        path = str(self.options.nli_model_path)
        tokenizer = AutoTokenizer.from_pretrained(path)
        model = AutoModelForSequenceClassification.from_pretrained(path)
        labels = {int(k): str(v) for k, v in (model.config.id2label or {}).items()}
        wanted = self.options.nli_entailment_label.lower()
        matches = [i for i, label in labels.items() if label.lower() == wanted]
        if not matches:
            raise ValueError(
                f"nli-entailment: the model {path!r} has no class named "
                f"{self.options.nli_entailment_label!r} (its id2label is {labels}); set "
                "detector_options.nli_entailment_label to its entailment class"
            )
        model.eval()
        model.to(self.options.device)
        self._model, self._tokenizer, self._entail_index = model, tokenizer, matches[0]

    def close(self) -> None:
        """Drop the classifier and tokenizer."""
        self._model = None
        self._tokenizer = None
        gc.collect()

    def entailment(
        self, outputs: Sequence[str], sources: Sequence[str], progress: ProgressFn = no_progress
    ) -> np.ndarray:
        """P(entailment | premise = source, hypothesis = output) per pair."""
        import torch

        if len(outputs) != len(sources):
            raise ValueError(f"{self.name}: {len(outputs)} outputs but {len(sources)} sources")
        values = np.zeros(len(outputs), dtype=np.float64)
        if not outputs:
            return values
        self._load()
        order = sorted(range(len(outputs)), key=lambda i: len(sources[i]) + len(outputs[i]))
        size = self.options.batch_size
        batches = [order[s : s + size] for s in range(0, len(order), size)]
        with torch.inference_mode():
            for idx in progress(batches, total=len(batches), desc="nli-entailment"):
                enc = self._tokenizer(
                    [sources[i] for i in idx],
                    [outputs[i] for i in idx],
                    padding=True,
                    truncation="longest_first",
                    max_length=self.options.max_length,
                    return_tensors="pt",
                )
                enc = {key: value.to(self.options.device) for key, value in enc.items()}
                logits = self._model(**enc).logits.float()
                probs = torch.softmax(logits, dim=-1)[:, self._entail_index]
                values[idx] = probs.cpu().double().numpy()
        return values

    def score(self, outputs: Sequence[str], sources: Sequence[str], progress: ProgressFn = no_progress) -> np.ndarray:
        """1 - P(entailment)."""
        return np.clip(1.0 - self.entailment(outputs, sources, progress), 0.0, 1.0)
