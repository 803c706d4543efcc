"""The detector registry: hallucination detectors selected by name in the ``hadas`` config.

Built in: ``bertscore-precision`` (model-based, offline default encoder), ``unsupported-content`` and
``unsupported-entities`` (model-free), ``nli-entailment`` (needs a local NLI model). Code that embeds
atgen-hads can add its own with :func:`register_detector` before the config is validated.
"""

from __future__ import annotations

from collections.abc import Sequence

from atgen_hads.detectors.base import Detector
from atgen_hads.detectors.bertscore import BertScorePrecision
from atgen_hads.detectors.lexical import UnsupportedContent, UnsupportedEntities
from atgen_hads.detectors.nli import NLIEntailment
from atgen_hads.options import DetectorOptions

__all__ = [
    "DETECTORS",
    "BertScorePrecision",
    "Detector",
    "NLIEntailment",
    "UnsupportedContent",
    "UnsupportedEntities",
    "build_detectors",
    "detector_class",
    "register_detector",
]

DETECTORS: dict[str, type[Detector]] = {
    cls.name: cls for cls in (BertScorePrecision, UnsupportedContent, UnsupportedEntities, NLIEntailment)
}
"""Detector name -> class."""


def register_detector(cls: type[Detector]) -> type[Detector]:
    """Add a detector class under ``cls.name`` (usable as a decorator); a taken name is an error."""
    if not (isinstance(cls, type) and issubclass(cls, Detector)):
        raise TypeError(f"{cls!r} is not a Detector subclass")
    existing = DETECTORS.get(cls.name)
    if existing is not None and existing is not cls:
        raise ValueError(f"detector name {cls.name!r} is already registered by {existing.__qualname__}")
    DETECTORS[cls.name] = cls
    return cls


def detector_class(name: str) -> type[Detector]:
    """The class registered as ``name``; a ``ValueError`` lists the known names otherwise."""
    try:
        return DETECTORS[name]
    except KeyError:
        known = ", ".join(sorted(DETECTORS))
        raise ValueError(f"unknown detector {name!r}; available: {known}") from None


def build_detectors(names: Sequence[str], options: DetectorOptions) -> list[Detector]:
    """Instantiate the named detectors (cheap: models load on first use)."""
    return [detector_class(name)(options) for name in names]
