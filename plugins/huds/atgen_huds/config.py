"""Validated configuration of the ``huds`` strategy."""

from __future__ import annotations

from typing import Literal

from pydantic import Field

from atgen_core import PluginConfig
from atgen_core.ranking import Normalisation

EmptyOutputRule = Literal["max", "min", "error"]


class HUDSConfig(PluginConfig):
    """Options of HUDS: the mixing weight, the number of strata, the scaling and the empty-output rule."""

    lambda_: float = Field(
        0.5,
        ge=0.0,
        le=1.0,
        description="Weight of the diversity term: score = lambda_ * diversity + (1 - lambda_) * "
        "uncertainty. 0 ranks by uncertainty only, 1 by diversity only.",
    )
    n_strata: int = Field(
        10,
        ge=1,
        le=100_000,
        description="Number of equal-width bins over [min, max] uncertainty; empty bins are dropped and each "
        "candidate's diversity is measured against the centroid of its own bin.",
    )
    normalisation: Normalisation = Field(
        "minmax",
        description="How both terms are put on a common scale before mixing: 'minmax' maps each term to "
        "[0, 1] by (v - min) / (max - min); 'rank' maps it to its average rank scaled to [0, 1]; 'none' "
        "mixes raw values (diversity in [0, 2], NNLL in [0, inf), as the original did).",
    )
    empty_output: EmptyOutputRule = Field(
        "max",
        description="Uncertainty of a candidate whose greedy output has no scored token (NNLL undefined): "
        "'max' gives it the highest NNLL among the other candidates (treated as most uncertain), 'min' the "
        "lowest, 'error' raises.",
    )
