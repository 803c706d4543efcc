"""TE-DELFY: the rank of mean token entropy plus the rank of DELFY (Zhao et al., 2020)."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
from pydantic import Field

from atgen_baselines.delfy import delfy_scores
from atgen_baselines.signals import greedy_generations
from atgen_core import PluginConfig, Requirements, SelectionContext, Strategy
from atgen_core.ranking import check_k, min_ranks, report_nan, top_k_ids, unique_pool_ids

__all__ = ["TEDelfyConfig", "TEDelfyStrategy", "rank_sum"]


class TEDelfyConfig(PluginConfig):
    """Options of the ``te-delfy`` strategy."""

    lambda1: float = Field(
        1.0, ge=0.0, description="Decay per labelled occurrence of a word: exp(-lambda1 * C_L(w))."
    )
    lambda2: float = Field(
        1.0,
        ge=0.0,
        description="Decay per occurrence of a word in the higher-ranked pool items already visited: "
        "exp(-lambda2 * U_hat(w)).",
    )


def rank_sum(ids: Sequence[str], entropy: np.ndarray, delfy: np.ndarray) -> np.ndarray:
    """rank_TE + rank_DELFY with competition ranks (0 = highest score; equal scores share a rank;
    NaN entropies share the rank after every real entropy)."""
    return min_ranks(ids, entropy) + min_ranks(ids, delfy)


class TEDelfyStrategy(Strategy[TEDelfyConfig]):
    """Mean token entropy rank plus DELFY (decayed word frequency) rank: uncertain, representative inputs."""

    name = "te-delfy"
    Config = TEDelfyConfig
    cold_start = True

    def requirements(self) -> Requirements:
        """Needs greedy generations (token entropies); the labelled set may be empty (C_L = 0)."""
        return Requirements(generations=True)

    def select(self, ctx: SelectionContext) -> Sequence[str]:
        """The k smallest rank sums (ties by id). An empty output has NaN entropy: it gets the worst
        entropy rank (reported with a warning) but still competes through its DELFY rank."""
        check_k(ctx.k, self.name)
        ids = unique_pool_ids(ctx.pool.ids, self.name)
        if min(ctx.k, len(ids)) == 0:
            return []
        generations = greedy_generations(ctx, ids, self.name)
        entropy = np.array([g.mean_entropy for g in generations], dtype=np.float64)
        nan_ids = [ids[i] for i in np.flatnonzero(np.isnan(entropy))]
        if nan_ids:
            report_nan(self.name, sorted(nan_ids), "empty output, no mean token entropy; worst entropy rank")
        c = self.config
        delfy = delfy_scores(ids, ctx.pool.inputs, ctx.labelled.inputs, c.lambda1, c.lambda2)
        totals = rank_sum(ids, entropy, delfy)
        return top_k_ids(ids, -totals.astype(np.float64), ctx.k, self.name)
