"""Self-consistency voting: normalise sampled answers and accept a clear majority only."""

from __future__ import annotations

import math
import re
from collections.abc import Sequence
from dataclasses import dataclass

__all__ = ["Vote", "normalise_answer", "vote"]


def normalise_answer(text: str, case_sensitive: bool = False) -> str:
    """A comparison key: whitespace collapsed, trailing '.' dropped, numbers canonical ("42.0" == "42")."""
    key = " ".join(text.split()).rstrip(".").strip()
    number = key.replace(",", "")
    if re.fullmatch(r"[-+]?(\d+(\.\d*)?|\.\d+)([eE][-+]?\d+)?", number):
        value = float(number)
        if math.isfinite(value):
            return str(int(value)) if value == int(value) else repr(value)
    return key if case_sensitive else key.lower()


@dataclass(frozen=True)
class Vote:
    """The majority answer (its first raw form), its share of all samples, and the answer counts."""

    answer: str | None
    share: float
    counts: dict[str, int]
    valid: int
    total: int

    def accepted(self, threshold: float) -> bool:
        return self.answer is not None and self.share >= threshold - 1e-12


def vote(answers: Sequence[str | None], total: int, case_sensitive: bool = False) -> Vote:
    """Majority vote over ``answers`` (``None`` = a sample without a usable answer).

    The share is taken over ``total`` (the number of samples requested), so failed samples count
    against acceptance. Ties go to the answer seen first.
    """
    counts: dict[str, int] = {}
    first_raw: dict[str, str] = {}
    for a in answers:
        if a is None:
            continue
        key = normalise_answer(a, case_sensitive)
        counts[key] = counts.get(key, 0) + 1
        first_raw.setdefault(key, a)
    valid = sum(counts.values())
    denominator = max(total, len(answers), 1)
    if not counts:
        return Vote(None, 0.0, counts, 0, denominator)
    best = max(counts, key=lambda k: counts[k])  # max keeps the first of equal counts (insertion order)
    return Vote(first_raw[best], counts[best] / denominator, counts, valid, denominator)
