"""Validated configuration of the ``hadas`` strategy."""

from __future__ import annotations

from pydantic import Field, model_validator

from atgen_core import PluginConfig
from atgen_hads.options import DetectorOptions

__all__ = ["DEFAULT_DETECTORS", "HADASConfig", "Normalisation"]

from atgen_core.ranking import Normalisation

DEFAULT_DETECTORS: tuple[str, ...] = ("bertscore-precision", "unsupported-content", "unsupported-entities")


def _default_options() -> DetectorOptions:
    return DetectorOptions.model_validate({})


class HADASConfig(PluginConfig):
    """Options of HADAS: mixing weight, detectors and their weights, detector settings, scaling."""

    lambda_: float = Field(
        0.33,
        ge=0.0,
        le=1.0,
        description="Weight of the diversity term: score = lambda_ * h_div + (1 - lambda_) * h_halu "
        "(0.33 as in the original).",
    )
    detectors: tuple[str, ...] = Field(
        DEFAULT_DETECTORS,
        min_length=1,
        description="Hallucination detectors, by name, that form the vector v of each (source, output) pair: "
        "'bertscore-precision', 'unsupported-content', 'unsupported-entities', 'nli-entailment'. "
        "With a single detector the diversity term is always 0.",
    )
    weights: tuple[float, ...] | None = Field(
        None,
        description="Weight of each detector in h_halu = weights . v, in the order of `detectors` "
        "(non-negative, not all 0). Default: equal weights 1 / len(detectors).",
    )
    detector_options: DetectorOptions = Field(
        default_factory=_default_options,
        description="Encoder path and layer for BERTScore, NLI model path, batch size, max length, device.",
    )
    normalisation: Normalisation = Field(
        "minmax",
        description="How h_div and h_halu are put on a common scale before mixing: 'minmax' maps each to "
        "[0, 1] over the pool, 'rank' to its average rank scaled to [0, 1], 'none' mixes raw values "
        "(h_div in [0, ln 2], h_halu in [0, sum(weights)]).",
    )
    empty_output_score: float = Field(
        1.0,
        ge=0.0,
        le=1.0,
        description="Every detector value of an empty (or whitespace-only) output or label; the default 1 "
        "treats an empty output as fully hallucinated.",
    )
    cache_vectors: bool = Field(
        True,
        description="Keep the detector vectors of the latest selection's (source, output) pairs for the "
        "next one (labelled pairs never change, pool outputs often repeat); keyed by a 16-byte hash.",
    )
    release_after_select: bool = Field(
        False,
        description="Free the detector models after every selection (lower memory during training, reload "
        "cost next round) instead of keeping them until the run ends.",
    )

    @model_validator(mode="after")
    def _check_detectors_and_weights(self) -> HADASConfig:
        from atgen_hads.detectors import detector_class

        if len(set(self.detectors)) != len(self.detectors):
            raise ValueError(f"detectors contains a name twice: {list(self.detectors)}")
        for name in self.detectors:
            detector_class(name).check_options(self.detector_options)
        if self.weights is not None:
            if len(self.weights) != len(self.detectors):
                raise ValueError(
                    f"weights has {len(self.weights)} entries but detectors has {len(self.detectors)} "
                    f"({list(self.detectors)}); give one weight per detector, in the same order, or omit "
                    "weights for equal weights"
                )
            if any(w < 0 or w != w for w in self.weights) or sum(self.weights) <= 0:
                raise ValueError(f"weights must be non-negative and not all 0, got {list(self.weights)}")
        return self

    def detector_weights(self) -> tuple[float, ...]:
        """The effective weights (equal weights when ``weights`` is not set)."""
        if self.weights is not None:
            return self.weights
        return tuple(1.0 / len(self.detectors) for _ in self.detectors)
