"""atgen-huds: Hybrid Uncertainty and Diversity Sampling (HUDS) for atgen.

The strategy class lives in :mod:`atgen_huds.strategy`; the pure scoring functions in
:mod:`atgen_huds.scoring`. Importing this package imports numpy and pydantic only.
"""

from __future__ import annotations

from atgen_huds.config import HUDSConfig
from atgen_huds.strategy import HUDSScores, HUDSStrategy

__version__ = "0.1.0"

__all__ = ["HUDSConfig", "HUDSScores", "HUDSStrategy", "__version__"]
