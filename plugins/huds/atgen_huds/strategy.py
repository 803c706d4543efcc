"""The ``huds`` strategy: Hybrid Uncertainty and Diversity Sampling (Azeemi et al., arXiv 2403.09259)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import ClassVar

import numpy as np

from atgen_core import Requirements, SelectionContext, Strategy
from atgen_core.ranking import normalise, top_k_ids
from atgen_huds.config import HUDSConfig
from atgen_huds.scoring import (
    assign_strata,
    stratum_diversity,
    uncertainty_scores,
)

__all__ = ["HUDSScores", "HUDSStrategy"]


@dataclass(frozen=True)
class HUDSScores:
    """Every intermediate of one scoring pass, aligned with ``ids`` (useful for inspection and tests)."""

    ids: tuple[str, ...]
    uncertainty: np.ndarray
    """Raw NNLL of the greedy output (after the empty-output rule)."""
    strata: np.ndarray
    """Stratum label of each candidate (consecutive, empty bins dropped)."""
    diversity: np.ndarray
    """Raw 1 - cos(e_x, centroid of x's stratum), in [0, 2]."""
    uncertainty_scaled: np.ndarray
    diversity_scaled: np.ndarray
    score: np.ndarray
    """lambda_ * diversity_scaled + (1 - lambda_) * uncertainty_scaled."""


class HUDSStrategy(Strategy[HUDSConfig]):
    """Hybrid Uncertainty and Diversity Sampling: NNLL uncertainty mixed with in-stratum embedding diversity.

    Each candidate's uncertainty is the NNLL of the current model's greedy output. Candidates are split into
    ``n_strata`` equal-width NNLL bins; a candidate's diversity is its cosine distance to the mean input
    embedding of its bin. Both terms are rescaled (``normalisation``) and mixed with ``lambda_``; the top
    ``k`` are selected, ties broken by id. Works from a cold start (no labelled data needed).
    """

    name: ClassVar[str] = "huds"
    Config = HUDSConfig
    cold_start: ClassVar[bool] = True

    def __init__(self, config: HUDSConfig | None = None) -> None:
        super().__init__(config)

    def requirements(self) -> Requirements:
        """Greedy generations with token log-probs, and input embeddings of the candidates."""
        return Requirements(generations=True, embeddings=True)

    def score(self, ctx: SelectionContext) -> HUDSScores:
        """Compute uncertainty, strata, diversity and the mixed score of every pool candidate."""
        ids: Sequence[str] = ctx.pool.ids
        signals = ctx.signals
        if signals.generations is None:
            raise ValueError("huds: ctx.signals.generations is missing; the loop must honour requirements()")
        if signals.embeddings is None:
            raise ValueError("huds: ctx.signals.embeddings is missing; the loop must honour requirements()")
        cfg = self.config
        unc = uncertainty_scores(ids, signals.generations, cfg.empty_output)
        strata = assign_strata(unc, cfg.n_strata)
        try:
            emb = signals.embeddings.take(list(ids))
        except KeyError as exc:
            raise ValueError(f"huds: {exc.args[0]}; the embedder must cover every candidate") from None
        div = stratum_diversity(emb, strata)
        unc_s = normalise(unc, cfg.normalisation)
        div_s = normalise(div, cfg.normalisation)
        mixed = cfg.lambda_ * div_s + (1.0 - cfg.lambda_) * unc_s
        return HUDSScores(
            ids=tuple(ids),
            uncertainty=unc,
            strata=strata,
            diversity=div,
            uncertainty_scaled=unc_s,
            diversity_scaled=div_s,
            score=mixed,
        )

    def select(self, ctx: SelectionContext) -> list[str]:
        """The ``min(k, len(pool))`` candidates with the highest mixed score, ties broken by id."""
        k = min(ctx.k, len(ctx.pool))
        if k <= 0:
            return []
        scores = self.score(ctx)
        return top_k_ids(scores.ids, scores.score, k)
