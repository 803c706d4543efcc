"""Robust parsing of a judge's numeric score, normalised to [0, 1].

Accepted forms (reasoning blocks removed first): a JSON object with a ``score`` key
(``{"score": 4}``), ``Score: 4``, ``Score: 4/5``, ``score = 4 out of 5``, a bare ``4`` or ``4/5``,
and as a last resort a single ``N/M`` or ``N out of M`` anywhere in the text. A score with a
denominator other than the scale's maximum is read as the fraction N/M. Anything else, or a value
outside the scale, is unparseable (``None``).
"""

from __future__ import annotations

import json
import re

__all__ = ["parse_score"]

_NUM = r"[-+]?\d+(?:\.\d+)?"
_OUT_OF = rf"(?:\s*(?:/|out\s+of)\s*({_NUM}))?"
_LABELLED = re.compile(rf"\bscore\b\W{{0,6}}(?:is\s+|of\s+)?({_NUM}){_OUT_OF}", re.IGNORECASE)
_BARE = re.compile(rf"^\W*({_NUM}){_OUT_OF}\W*$", re.IGNORECASE)
_FRACTION = re.compile(rf"({_NUM})\s*(?:/|out\s+of)\s*({_NUM})", re.IGNORECASE)
_JSON_OBJ = re.compile(r"\{[^{}]*\}")


def _normalise(value: float, denominator: float | None, low: float, high: float) -> float | None:
    if denominator is not None and denominator != high:
        if denominator <= 0 or not 0 <= value <= denominator:
            return None
        return value / denominator
    if not low <= value <= high:
        return None
    return (value - low) / (high - low)


def _from_json(text: str) -> float | None:
    candidates = [text.strip()] + [m.group(0) for m in _JSON_OBJ.finditer(text)]
    for cand in reversed(candidates):
        try:
            data = json.loads(cand)
        except ValueError:
            continue
        if isinstance(data, dict):
            for k, v in data.items():
                if isinstance(k, str) and k.lower() == "score" and not isinstance(v, bool):
                    try:
                        return float(v)
                    except (TypeError, ValueError):
                        return None
    return None


def parse_score(text: str, low: float, high: float) -> float | None:
    """The score in ``text`` mapped to [0, 1] for the scale ``low..high``, or ``None``."""
    if not text or not text.strip():
        return None
    value = _from_json(text)
    if value is not None:
        return _normalise(value, None, low, high)
    labelled = list(_LABELLED.finditer(text))
    if labelled:
        m = labelled[-1]
        return _normalise(float(m.group(1)), float(m.group(2)) if m.group(2) else None, low, high)
    bare = _BARE.match(text)
    if bare:
        return _normalise(float(bare.group(1)), float(bare.group(2)) if bare.group(2) else None, low, high)
    fractions = _FRACTION.findall(text)
    if len(fractions) == 1:
        num, den = fractions[0]
        return _normalise(float(num), float(den), low, high)
    return None
