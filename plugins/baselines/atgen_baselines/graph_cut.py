"""Graph cut, a submodular representativeness-minus-redundancy objective, maximised greedily.

    f(A) = sum_{i in V} sum_{j in A} s_ij - lambda * sum_{i in A} sum_{j in A} s_ij

with s_ij = max(0, cos(e_i, e_j)) (non-negative). The labelled set L counts as already chosen (A
starts as L) and only pool items are candidates, so each pick maximises f(A u L u {j}) - f(A u L).
The marginal gain has a closed form:

    gain(j | A) = colsum_j - lambda * (2 * sum_{i in A} s_ij + s_jj),   colsum_j = sum_{i in V} s_ij

V, the set to represent, is the pool by default. With V = pool u labelled the labelled items also add
sum_{l in L} s_lj to colsum_j, which cancels their redundancy penalty exactly at lambda = 0.5 (then the
labelled set has no influence at all); that is why the pool is the default.

colsum costs one blocked pass over the pool-by-V similarities (O(N |V| d) time, bounded memory); each
pick then adds one similarity row, O(N d). Greedy continues on zero or negative gains until k items
are picked; equal gains are broken by id.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Literal

import numpy as np
from pydantic import Field

from atgen_baselines.signals import prepared_embeddings
from atgen_baselines.similarity import clipped_similarity_sums, matvec
from atgen_core import PluginConfig, Requirements, SelectionContext, Strategy
from atgen_core.ranking import check_k, id_ranks, unique_pool_ids

__all__ = ["GraphCutConfig", "GraphCutStrategy", "graph_cut_greedy"]


class GraphCutConfig(PluginConfig):
    """Options of the ``graph-cut`` strategy."""

    lambda_: float = Field(
        0.5,
        ge=0.0,
        description="Redundancy weight lambda: 0 = pure representativeness (sum of similarities to the "
        "data), larger values penalise picking items similar to each other or to the labelled set "
        "(with ground_set 'pool+labelled', f is monotone for lambda <= 0.5).",
    )
    ground_set: Literal["pool", "pool+labelled"] = Field(
        "pool",
        description="V, the items to represent: 'pool' (the unlabelled candidates) or 'pool+labelled' "
        "(the labelled inputs too; at lambda 0.5 this makes the labelled set irrelevant).",
    )


def graph_cut_greedy(
    pool: np.ndarray,
    labelled: np.ndarray,
    k: int,
    lambda_: float,
    tie_ranks: np.ndarray,
    represent_labelled: bool = False,
) -> list[int]:
    """Positions (into ``pool``) of ``min(k, len(pool))`` greedy graph-cut picks, in pick order.

    ``pool`` and ``labelled`` must be finite and L2-normalised (zero rows allowed: similarity 0);
    ``represent_labelled`` adds the labelled rows to V.
    """
    n = pool.shape[0]
    take = min(k, n)
    if take <= 0:
        return []
    ground = np.concatenate([pool, labelled]) if represent_labelled and labelled.shape[0] else pool
    colsum = clipped_similarity_sums(pool, ground)
    chosen_sum = clipped_similarity_sums(pool, labelled)  # sum over i in A (A starts as L) of s_ij
    self_sim = np.maximum(np.einsum("ij,ij->i", pool, pool, dtype=np.float64), 0.0)
    picked = np.zeros(n, dtype=bool)
    order: list[int] = []
    for _ in range(take):
        gains = colsum - lambda_ * (2.0 * chosen_sum + self_sim)
        gains[picked] = -np.inf
        best = np.max(gains)
        tied = np.flatnonzero(gains == best)
        j = int(tied[np.argmin(tie_ranks[tied])]) if tied.size > 1 else int(tied[0])
        order.append(j)
        picked[j] = True
        chosen_sum += np.maximum(matvec(pool, pool[j]), 0.0)
    return order


class GraphCutStrategy(Strategy[GraphCutConfig]):
    """Graph cut: greedy submodular pick of inputs that represent the pool and are unlike the labelled set."""

    name = "graph-cut"
    Config = GraphCutConfig
    cold_start = True

    def requirements(self) -> Requirements:
        """Needs input embeddings of the pool and of the labelled set."""
        return Requirements(embeddings=True)

    def select(self, ctx: SelectionContext) -> Sequence[str]:
        """Greedy graph-cut picks conditioned on the labelled set. Pool items with a non-finite
        embedding are left out (reported) and only picked, by id, when k exceeds the other items;
        such labelled items are left out of the objective."""
        check_k(ctx.k, self.name)
        ids = unique_pool_ids(ctx.pool.ids, self.name)
        take = min(ctx.k, len(ids))
        if take == 0:
            return []
        emb = prepared_embeddings(ctx, ids, self.name, "cosine")
        c = self.config
        ranks = id_ranks(emb.valid_ids)
        with_labelled = c.ground_set == "pool+labelled"
        positions = graph_cut_greedy(emb.pool, emb.labelled, take, c.lambda_, ranks, with_labelled)
        picks = [emb.valid_ids[p] for p in positions]
        return picks + emb.invalid_ids[: take - len(picks)]
