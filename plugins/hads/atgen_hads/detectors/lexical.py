"""Model-free detectors: the share of an output's content words (or entity-like tokens) not in its source.

Both are cheap (regular expressions and set look-ups) and language-naive: they target English, split
camelCase and punctuation, lower-case, and strip a few common suffixes so that "rated", "rating" and "rate"
match. They catch extrinsic hallucinations (added names, numbers, facts) but not contradictions built from
source words ("not", swapped roles).
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import ClassVar

import numpy as np

from atgen_core.types import ProgressFn, no_progress
from atgen_hads.detectors.base import Detector

__all__ = ["UnsupportedContent", "UnsupportedEntities", "content_words", "normalise_word", "word_tokens"]

_CAMEL_BOUNDARY = re.compile(r"(?<=[a-z])(?=[A-Z])")
_WORD = re.compile(r"[^\W\d_]+|\d+(?:[.,]\d+)*")
_SENTENCE_END = re.compile(r"[.!?:;\n]")
_SUFFIXES = ("ing", "ed", "ly", "es", "s")
_MIN_STEM = 3

STOPWORDS: frozenset[str] = frozenset(
    """
    a about above after again against all also am an and any are as at be because been before being below
    between both but by can could did do does doing done down during each either else ever every few for from
    further had has have having he her here hers herself him himself his how i if in into is it its itself
    just let may me might more most much must my myself neither no nor not now of off on once only or other
    our ours ourselves out over own per quite rather same shall she should so some such than that the their
    theirs them themselves then there these they this those though through thus to too under until up upon
    us very was we were what when where whether which while who whom whose why will with within without
    would yet you your yours yourself yourselves called named
    """.split()
)
"""English function words that carry no checkable content (written for this module)."""


def normalise_word(word: str) -> str:
    """Lower-case and strip one common suffix, then a final 'e' (keeping stems of at least three letters)."""
    w = word.lower()
    if w.isdigit() or not w.isalpha():
        return w
    for suffix in _SUFFIXES:
        if w.endswith(suffix) and len(w) - len(suffix) >= _MIN_STEM:
            w = w[: -len(suffix)]
            break
    if w.endswith("e") and len(w) - 1 >= _MIN_STEM:
        w = w[:-1]
    return w


def word_tokens(text: str) -> list[tuple[str, bool]]:
    """Words and numbers of ``text`` (camelCase split), each with a flag: does it start a sentence?"""
    split = _CAMEL_BOUNDARY.sub(" ", text)
    out: list[tuple[str, bool]] = []
    previous_end = -1
    for match in _WORD.finditer(split):
        gap = split[max(previous_end, 0) : match.start()]
        starts_sentence = previous_end < 0 or bool(_SENTENCE_END.search(gap))
        out.append((match.group(0), starts_sentence))
        previous_end = match.end()
    return out


def content_words(text: str) -> list[str]:
    """Normalised content words of ``text``: no stopwords, no one-letter words (numbers are kept)."""
    words = []
    for token, _ in word_tokens(text):
        lower = token.lower()
        if lower in STOPWORDS or (len(lower) < 2 and not lower.isdigit()):
            continue
        words.append(normalise_word(lower))
    return words


def _entity_like(text: str) -> list[str]:
    """Normalised numbers and capitalised words that do not start a sentence and are not stopwords."""
    found = []
    for token, starts_sentence in word_tokens(text):
        if token[0].isdigit():
            found.append(token)
        elif token[0].isupper() and not starts_sentence and token.lower() not in STOPWORDS:
            found.append(normalise_word(token))
    return found


def _source_vocabulary(source: str) -> frozenset[str]:
    return frozenset(normalise_word(token) for token, _ in word_tokens(source))


class _UnsupportedShare(Detector):
    """Share of the selected output tokens whose normalised form is not among the source's words."""

    def _select(self, output: str) -> list[str]:
        raise NotImplementedError

    def score(self, outputs: Sequence[str], sources: Sequence[str], progress: ProgressFn = no_progress) -> np.ndarray:
        if len(outputs) != len(sources):
            raise ValueError(f"{self.name}: {len(outputs)} outputs but {len(sources)} sources")
        vocab_cache: dict[str, frozenset[str]] = {}
        values = np.zeros(len(outputs), dtype=np.float64)
        for pos, (output, source) in enumerate(progress(zip(outputs, sources), total=len(outputs), desc=self.name)):
            vocab = vocab_cache.get(source)
            if vocab is None:
                vocab = vocab_cache[source] = _source_vocabulary(source)
            selected = self._select(output)
            if selected:
                values[pos] = sum(1 for w in selected if w not in vocab) / len(selected)
        return values


class UnsupportedContent(_UnsupportedShare):
    """``unsupported-content``: share of the output's content words (and numbers) absent from the source.

    An output with no content word scores 0 (nothing unsupported).
    """

    name: ClassVar[str] = "unsupported-content"

    def _select(self, output: str) -> list[str]:
        return content_words(output)


class UnsupportedEntities(_UnsupportedShare):
    """``unsupported-entities``: share of the output's entity-like tokens absent from the source.

    Entity-like = numbers, and capitalised words that do not start a sentence. An output with none scores 0.
    """

    name: ClassVar[str] = "unsupported-entities"

    def _select(self, output: str) -> list[str]:
        return _entity_like(output)
