"""IDDS, In-Domain Diversity Sampling (Tsvigun et al., Findings of EMNLP 2022).

Greedy, one pick per step. For a candidate x of the remaining pool U \\ Q (Q = picked so far):

    score(x) = lambda * mean_{u in U\\Q, u != x} sim(x, u) - (1 - lambda) * mean_{l in L u Q} sim(x, l)

i.e. prefer inputs typical of the unlabelled pool (density) and unlike what is labelled or already
picked (diversity). The self term is removed with the actual self-similarity sim(x, x), not 1, so dot
product similarity on non-normalised embeddings is exact. A mean over an empty set is 0 (with L empty
the labelled term starts at 0, so IDDS can pick the first batch).

Because sim is bilinear, sum_u sim(x, u) = x . (sum_u u): the initial row sums cost O(N d), and each
pick q updates them with one matrix-vector product X @ q, O(N d) per step and O(N) extra memory. The
O(k N^2) dense-matrix formulation of the original is never built.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
from pydantic import Field

from atgen_baselines.signals import prepared_embeddings
from atgen_baselines.similarity import Similarity, matvec
from atgen_core import PluginConfig, Requirements, SelectionContext, Strategy
from atgen_core.ranking import check_k, id_ranks, unique_pool_ids

__all__ = ["IDDSConfig", "IDDSStrategy", "idds_greedy", "idds_select"]


class IDDSConfig(PluginConfig):
    """Options of the ``idds`` strategy."""

    lambda_: float = Field(
        0.667,
        ge=0.0,
        le=1.0,
        description="Weight of the density term (mean similarity to the rest of the pool); the labelled "
        "term gets 1 - lambda_. The original's default is 0.667.",
    )
    similarity: Similarity = Field(
        "dot",
        description="'dot' (scalar product of the raw embeddings, the original's default) or 'cosine' "
        "(rows L2-normalised first; an all-zero row has similarity 0 to everything).",
    )


def _argmax_by_id(scores: np.ndarray, tie_ranks: np.ndarray) -> int:
    """Position of the highest score; among equal maxima the one with the smallest id."""
    best = np.max(scores)
    tied = np.flatnonzero(scores == best)
    if tied.size == 1:
        return int(tied[0])
    return int(tied[np.argmin(tie_ranks[tied])])


def idds_greedy(
    pool: np.ndarray, labelled: np.ndarray, k: int, lambda_: float, tie_ranks: np.ndarray
) -> list[int]:
    """Positions (into ``pool``) of ``min(k, len(pool))`` IDDS picks, in pick order.

    ``pool`` and ``labelled`` are already prepared (finite, normalised for cosine, in the working dtype);
    ``tie_ranks[i]`` orders equal scores (smaller first).
    """
    n = pool.shape[0]
    take = min(k, n)
    if take <= 0:
        return []
    pool_sum = pool.sum(axis=0, dtype=np.float64)
    rest = matvec(pool, pool_sum)  # sum over u in U \ Q (self included) of sim(x, u)
    self_sim = np.einsum("ij,ij->i", pool, pool, dtype=np.float64)
    if labelled.shape[0]:
        lab = matvec(pool, labelled.sum(axis=0, dtype=np.float64))  # sum over l in L u Q of sim(x, l)
    else:
        lab = np.zeros(n, dtype=np.float64)
    n_rest, n_lab = n, labelled.shape[0]
    picked = np.zeros(n, dtype=bool)
    order: list[int] = []
    for _ in range(take):
        density = (rest - self_sim) / (n_rest - 1) if n_rest > 1 else np.zeros(n)
        coverage = lab / n_lab if n_lab > 0 else np.zeros(n)
        scores = lambda_ * density - (1.0 - lambda_) * coverage
        scores[picked] = -np.inf
        j = _argmax_by_id(scores, tie_ranks)
        order.append(j)
        picked[j] = True
        sims = matvec(pool, pool[j])
        rest -= sims
        lab += sims
        n_rest -= 1
        n_lab += 1
    return order


def idds_select(
    ctx: SelectionContext, k: int, lambda_: float, similarity: Similarity, strategy: str
) -> list[str]:
    """Run IDDS on ``ctx`` (embeddings from ``ctx.signals``) and return the picked ids in pick order.

    Pool items whose embedding has a non-finite entry get no score: they are left out of every mean,
    reported with a ``NaNScoreWarning`` and only picked (by id) when k exceeds the other items.
    Labelled items with a non-finite embedding are left out of the labelled term (also reported).
    """
    check_k(k, strategy)
    ids = unique_pool_ids(ctx.pool.ids, strategy)
    take = min(k, len(ids))
    if take == 0:
        return []
    emb = prepared_embeddings(ctx, ids, strategy, similarity)
    positions = idds_greedy(emb.pool, emb.labelled, take, lambda_, id_ranks(emb.valid_ids))
    picks = [emb.valid_ids[p] for p in positions]
    return picks + emb.invalid_ids[: take - len(picks)]


class IDDSStrategy(Strategy[IDDSConfig]):
    """In-Domain Diversity Sampling: typical of the pool, unlike the labelled and already picked inputs."""

    name = "idds"
    Config = IDDSConfig
    cold_start = True

    def requirements(self) -> Requirements:
        """IDDS needs input embeddings of the pool and of the labelled set."""
        return Requirements(embeddings=True)

    def select(self, ctx: SelectionContext) -> Sequence[str]:
        """Pick ``min(k, len(pool))`` ids greedily by the IDDS score (ties by id)."""
        return idds_select(ctx, ctx.k, self.config.lambda_, self.config.similarity, self.name)
