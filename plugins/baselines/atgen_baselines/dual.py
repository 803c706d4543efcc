"""DUAL (Giouroukis et al., arXiv 2503.00867): IDDS proposes, BLEUVar filters, random picks explore.

1. IDDS picks n = min(|U|, ceil(k * candidate_factor)) candidates (the reference uses n = k).
2. Keep the min(k, max(1, floor(n * p))) candidates with the highest BLEUVar (ties by id; NaN last).
3. Fill the remaining k - kept slots uniformly at random (``ctx.rng``, without replacement) from the
   rest of the pool in pool order: every pool item not kept, including the rejected candidates.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np
from pydantic import Field

from atgen_baselines.bleuvar import SmoothMethod, bleuvar_many
from atgen_baselines.idds import idds_select
from atgen_baselines.signals import sampled_generations
from atgen_baselines.similarity import Similarity
from atgen_core import PluginConfig, Requirements, SamplingRequest, SelectionContext, Strategy
from atgen_core.ranking import check_k, top_k_ids, unique_pool_ids

__all__ = ["DualConfig", "DualStrategy", "dual_counts"]


class DualConfig(PluginConfig):
    """Options of the ``dual`` strategy."""

    p: float = Field(
        0.5, ge=0.0, le=1.0, description="Fraction of the IDDS candidates kept by BLEUVar (at least one)."
    )
    candidate_factor: float = Field(
        1.0,
        ge=1.0,
        description="IDDS proposes ceil(k * candidate_factor) candidates; 1.0 (n = k) as in the reference.",
    )
    lambda_: float = Field(0.667, ge=0.0, le=1.0, description="IDDS density weight (see the idds strategy).")
    similarity: Similarity = Field("dot", description="IDDS similarity: 'dot' or 'cosine'.")
    num_samples: int = Field(10, ge=2, description="Sampled outputs per pool item for BLEUVar.")
    top_p: float = Field(0.95, gt=0.0, le=1.0, description="Nucleus sampling mass of the sampled outputs.")
    temperature: float = Field(1.0, gt=0.0, description="Sampling temperature of the sampled outputs.")
    smooth_method: SmoothMethod = Field(
        "exp", description="Sentence-BLEU smoothing (sacreBLEU): 'exp', 'floor', 'add-k' or 'none'."
    )
    smooth_value: float | None = Field(
        None, ge=0.0, description="Smoothing value for 'floor' (default 0.1) and 'add-k' (default 1)."
    )


def dual_counts(k: int, pool_size: int, p: float, candidate_factor: float) -> tuple[int, int, int]:
    """(candidates n, kept by BLEUVar, random fill) for a query of ``k`` from ``pool_size`` items."""
    take = min(k, pool_size)
    if take == 0:
        return 0, 0, 0
    # Rounded to 9 decimals first so that binary fractions do not shift the integer part
    # (10 * 1.1 = 11.000000000000002 must give 11, 100 * 0.29 = 28.999999999999996 must give 29).
    n = min(pool_size, math.ceil(round(take * candidate_factor, 9)))
    kept = min(take, max(1, math.floor(round(n * p, 9))))
    return n, kept, take - kept


class DualStrategy(Strategy[DualConfig]):
    """DUAL: IDDS candidates filtered by BLEUVar, with the rest of the batch drawn at random."""

    name = "dual"
    Config = DualConfig
    cold_start = True

    def requirements(self) -> Requirements:
        """Needs input embeddings (IDDS) and ``num_samples`` sampled outputs per item (BLEUVar)."""
        c = self.config
        sampling = SamplingRequest(n=c.num_samples, temperature=c.temperature, top_p=c.top_p)
        return Requirements(embeddings=True, samples=sampling)

    def select(self, ctx: SelectionContext) -> Sequence[str]:
        """BLEUVar-kept IDDS candidates first, then the random fill (drawn with ``ctx.rng``)."""
        c = self.config
        check_k(ctx.k, self.name)
        ids = unique_pool_ids(ctx.pool.ids, self.name)
        n, kept, fill = dual_counts(ctx.k, len(ids), c.p, c.candidate_factor)
        if n == 0:
            return []
        candidates = idds_select(ctx, n, c.lambda_, c.similarity, self.name)
        samples = sampled_generations(ctx, candidates, self.name)
        texts = [[g.text for g in outs[: c.num_samples]] for outs in samples]
        variance = bleuvar_many(texts, c.smooth_method, c.smooth_value)
        chosen = top_k_ids(candidates, variance, kept, self.name, "fewer than two sampled outputs")
        taken = set(chosen)
        rest = [i for i in ids if i not in taken]
        drawn = ctx.rng.choice(len(rest), size=fill, replace=False) if fill else np.zeros(0, dtype=np.int64)
        return chosen + [rest[int(i)] for i in drawn]
