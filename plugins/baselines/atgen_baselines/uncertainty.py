"""Single-output uncertainty baselines: mean token entropy and normalised sequence probability."""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence

import numpy as np
from pydantic import Field

from atgen_baselines.signals import greedy_generations
from atgen_core import Generation, PluginConfig, Requirements, SelectionContext, Strategy
from atgen_core.ranking import check_k, top_k_ids, unique_pool_ids

__all__ = [
    "EntropyConfig",
    "EntropyStrategy",
    "NSPConfig",
    "NSPStrategy",
    "sequence_uncertainty",
    "top_k_by_greedy_output",
]


def top_k_by_greedy_output(ctx: SelectionContext, strategy: str, score: Callable[[Generation], float]) -> list[str]:
    """The k pool ids whose greedy output scores highest (NaN scores ranked last, with a warning)."""
    check_k(ctx.k, strategy)
    ids = unique_pool_ids(ctx.pool.ids, strategy)
    if min(ctx.k, len(ids)) == 0:
        return []
    scores = np.array([score(g) for g in greedy_generations(ctx, ids, strategy)], dtype=np.float64)
    return top_k_ids(ids, scores, ctx.k, strategy, "empty greedy output or NaN token scores")


class EntropyConfig(PluginConfig):
    """The ``entropy`` strategy has no options."""


class EntropyStrategy(Strategy[EntropyConfig]):
    """Mean token entropy of the greedy output: label the inputs the model is least sure about."""

    name = "entropy"
    Config = EntropyConfig
    cold_start = True

    def requirements(self) -> Requirements:
        """Needs one greedy generation per pool item with per-token entropies."""
        return Requirements(generations=True)

    def select(self, ctx: SelectionContext) -> Sequence[str]:
        """Top-k by mean per-token entropy (an empty output scores NaN: ranked last, with a warning)."""
        return top_k_by_greedy_output(ctx, self.name, lambda g: g.mean_entropy)


class NSPConfig(PluginConfig):
    """Options of the ``nsp`` strategy."""

    length_penalty: float = Field(
        1.0,
        ge=0.0,
        description="Exponent a of the length normalisation: uncertainty = -sum_t log p(y_t) / T**a. "
        "1.0 is the mean negative log-likelihood (NNLL), 0.0 the total one (favours long outputs).",
    )


def sequence_uncertainty(generation: Generation, length_penalty: float) -> float:
    """-sum of the token log-probs divided by ``num_tokens ** length_penalty`` (NaN for an empty output)."""
    if generation.num_tokens == 0:
        return math.nan
    return -math.fsum(generation.token_logprobs) / generation.num_tokens**length_penalty


class NSPStrategy(Strategy[NSPConfig]):
    """Normalised sequence probability: label the inputs whose greedy output is least likely."""

    name = "nsp"
    Config = NSPConfig
    cold_start = True

    def requirements(self) -> Requirements:
        """Needs one greedy generation per pool item with per-token log-probs."""
        return Requirements(generations=True)

    def select(self, ctx: SelectionContext) -> Sequence[str]:
        """Top-k by length-normalised negative log-likelihood (empty outputs: NaN, ranked last, warned)."""
        penalty = self.config.length_penalty
        return top_k_by_greedy_output(ctx, self.name, lambda g: sequence_uncertainty(g, penalty))
