"""The detector interface: a named scorer of (output, source) pairs with values in [0, 1]."""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Sequence
from typing import ClassVar

import numpy as np

from atgen_core.types import ProgressFn, no_progress
from atgen_hads.options import DetectorOptions

__all__ = ["Detector"]


class Detector(ABC):
    """Scores how hallucinated each output looks with respect to its source (1 = fully unsupported).

    Subclasses set ``name`` (what configs refer to) and implement ``score``. Model-based detectors load
    their model on first use and free it in ``close``; heavy imports happen inside methods.
    The strategy never passes an empty output (it applies its own empty-output rule).
    """

    name: ClassVar[str]
    needs_model: ClassVar[bool] = False

    def __init__(self, options: DetectorOptions) -> None:
        self.options = options

    @classmethod
    def check_options(cls, options: DetectorOptions) -> None:
        """Raise ``ValueError`` (naming the option and the fix) if ``options`` cannot work here."""
        del options

    @abstractmethod
    def score(self, outputs: Sequence[str], sources: Sequence[str], progress: ProgressFn = no_progress) -> np.ndarray:
        """One float in [0, 1] per pair (``outputs[i]``, ``sources[i]``); higher = more hallucinated."""

    def close(self) -> None:  # noqa: B027 - optional hook
        """Release models and memory; the detector reloads lazily if used again."""
