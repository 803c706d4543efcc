"""atgen-hads: Hallucination-Aware, Diversity-Aware Sampling (HADAS) for atgen.

:mod:`atgen_hads.strategy` holds the strategy, :mod:`atgen_hads.detectors` the detector registry,
:mod:`atgen_hads.divergence` the vectorised Jensen–Shannon term. Importing this package never imports torch.
"""

from __future__ import annotations

from atgen_hads.config import DEFAULT_DETECTORS, HADASConfig
from atgen_hads.detectors import DETECTORS, Detector, register_detector
from atgen_hads.options import DetectorOptions
from atgen_hads.strategy import HADASScores, HADASStrategy

__version__ = "0.1.0"

__all__ = [
    "DEFAULT_DETECTORS",
    "DETECTORS",
    "Detector",
    "DetectorOptions",
    "HADASConfig",
    "HADASScores",
    "HADASStrategy",
    "__version__",
    "register_detector",
]
