"""BLEUVar (Xiao et al., arXiv 2006.08344): disagreement between sampled outputs of one input.

    BLEUVar(x) = 1 / (N (N - 1)) * sum_{i != j} (1 - BLEU(y_i, y_j))^2

over the N sampled outputs y_1..y_N, with sentence-level BLEU in [0, 1] (sacreBLEU's ``sentence_bleu``:
13a tokenisation, effective n-gram order, 4-grams, the configured smoothing; ``exp`` is sacreBLEU's
default), computed for all pairs at once by :func:`atgen_baselines.pairwise_bleu.pairwise_bleu`.
BLEU is not symmetric, so both orders of every pair are used.

Empty outputs (nothing left after tokenisation): two empty outputs are identical (BLEU 1), an empty and
a non-empty output share nothing (BLEU 0). Two identical token sequences get BLEU exactly 1. With
fewer than two samples BLEUVar is undefined (NaN: ranked last and reported).
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
from pydantic import Field

from atgen_baselines.pairwise_bleu import SmoothMethod, make_tokenizer, pairwise_bleu_many
from atgen_baselines.signals import sampled_generations
from atgen_core import PluginConfig, Requirements, SamplingRequest, SelectionContext, Strategy
from atgen_core.ranking import check_k, top_k_ids, unique_pool_ids

__all__ = ["BLEUVarConfig", "BLEUVarStrategy", "SmoothMethod", "bleuvar", "bleuvar_many"]


class BLEUVarConfig(PluginConfig):
    """Options of the ``bleuvar`` strategy."""

    num_samples: int = Field(10, ge=2, description="Sampled outputs per pool item (N; the original's 10).")
    top_p: float = Field(0.95, gt=0.0, le=1.0, description="Nucleus sampling mass of the sampled outputs.")
    temperature: float = Field(1.0, gt=0.0, description="Sampling temperature of the sampled outputs.")
    smooth_method: SmoothMethod = Field(
        "exp",
        description="Sentence-BLEU smoothing (sacreBLEU): 'exp' (default of sacrebleu.sentence_bleu), "
        "'floor', 'add-k' or 'none'.",
    )
    smooth_value: float | None = Field(
        None,
        ge=0.0,
        description="Smoothing value for 'floor' (default 0.1) and 'add-k' (default 1); unused otherwise.",
    )

    def sampling(self) -> SamplingRequest:
        """The sampling request handed to the loop."""
        return SamplingRequest(n=self.num_samples, temperature=self.temperature, top_p=self.top_p)


def bleuvar_many(
    text_sets: Sequence[Sequence[str]], smooth_method: SmoothMethod = "exp", smooth_value: float | None = None
) -> np.ndarray:
    """BLEUVar of every set of sampled outputs (float64; NaN for a set of fewer than two)."""
    tokenize = make_tokenizer()
    token_sets = [[tokenize(t) for t in texts] for texts in text_sets]
    out = np.full(len(token_sets), np.nan)
    for i, bleu in enumerate(pairwise_bleu_many(token_sets, smooth_method, smooth_value)):
        n = bleu.shape[0]
        if n >= 2:
            off_diagonal = ~np.eye(n, dtype=bool)
            out[i] = np.square(1.0 - bleu[off_diagonal]).sum() / (n * (n - 1))
    return out


def bleuvar(
    texts: Sequence[str], smooth_method: SmoothMethod = "exp", smooth_value: float | None = None
) -> float:
    """BLEUVar of one set of sampled outputs (NaN for fewer than two)."""
    return float(bleuvar_many([texts], smooth_method, smooth_value)[0])


class BLEUVarStrategy(Strategy[BLEUVarConfig]):
    """BLEUVar: label the inputs whose sampled outputs disagree most (pairwise sentence-BLEU variance)."""

    name = "bleuvar"
    Config = BLEUVarConfig
    cold_start = True

    def requirements(self) -> Requirements:
        """Needs ``num_samples`` sampled outputs per pool item."""
        return Requirements(samples=self.config.sampling())

    def select(self, ctx: SelectionContext) -> Sequence[str]:
        """Top-k by BLEUVar over the first ``num_samples`` samples of each item (ties by id; items with
        fewer than two samples: NaN, ranked last, reported)."""
        check_k(ctx.k, self.name)
        ids = unique_pool_ids(ctx.pool.ids, self.name)
        if min(ctx.k, len(ids)) == 0:
            return []
        samples = sampled_generations(ctx, ids, self.name)
        c = self.config
        texts = [[g.text for g in outs[: c.num_samples]] for outs in samples]
        values = bleuvar_many(texts, c.smooth_method, c.smooth_value)
        return top_k_ids(ids, values, ctx.k, self.name, "fewer than two sampled outputs")
