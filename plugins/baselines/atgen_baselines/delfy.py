"""DELFY, decayed log-frequency (Zhao et al., Findings of EMNLP 2020), over raw input texts.

- Tokens: lower-cased ``\\w+`` runs, Porter-stemmed (NLTK's ``PorterStemmer``, as in the original).
- F(w) = G(w) / sum_w' G(w') with G(w) = log(1 + C_U(w)), C_U = counts over the pool.
- Labelled decay: exp(-lambda1 * C_L(w)), C_L = counts over the labelled inputs (0 when unseen).
- LF(x) = mean over the tokens w of x (with repetition) of F(w) * exp(-lambda1 * C_L(w)).
- Items are visited in decreasing LF (ties by id) with a counter U_hat of the tokens of the items
  visited before: DELFY(x) = mean_w F(w) * exp(-lambda1 * C_L(w)) * exp(-lambda2 * U_hat(w)); then x's
  tokens are added to U_hat. High DELFY = frequent in the pool, rare in the labelled set, and not
  already covered by a higher-ranked item.

An input without any ``\\w`` token scores 0 (no representative vocabulary), never NaN.
"""

from __future__ import annotations

import math
import re
from collections import Counter
from collections.abc import Callable, Iterable, Sequence

import numpy as np

from atgen_core.ranking import order_by_score

__all__ = ["delfy_scores", "porter_stemmer", "tokenize"]

_WORD = re.compile(r"\w+")


def porter_stemmer() -> Callable[[str], str]:
    """A memoised Porter stemmer (NLTK's default mode, imported lazily)."""
    from nltk.stem.porter import PorterStemmer

    stemmer = PorterStemmer()
    cache: dict[str, str] = {}

    def stem(word: str) -> str:
        out = cache.get(word)
        if out is None:
            out = stemmer.stem(word)
            cache[word] = out
        return out

    return stem


def tokenize(text: str, stem: Callable[[str], str]) -> list[str]:
    """Lower-cased ``\\w+`` tokens of ``text``, each stemmed."""
    return [stem(token) for token in _WORD.findall(text.lower())]


def _counts(token_lists: Iterable[Sequence[str]]) -> Counter[str]:
    counts: Counter[str] = Counter()
    for tokens in token_lists:
        counts.update(tokens)
    return counts


def delfy_scores(
    ids: Sequence[str],
    pool_texts: Sequence[str],
    labelled_texts: Sequence[str],
    lambda1: float,
    lambda2: float,
    stem: Callable[[str], str] | None = None,
) -> np.ndarray:
    """DELFY score of every pool text (float64, same order as ``ids``)."""
    if len(ids) != len(pool_texts):
        raise ValueError(f"{len(ids)} ids but {len(pool_texts)} pool texts")
    stem = stem if stem is not None else porter_stemmer()
    pool_tokens = [tokenize(t, stem) for t in pool_texts]
    pool_counts = _counts(pool_tokens)
    labelled_counts = _counts(tokenize(t, stem) for t in labelled_texts)
    log_counts = {w: math.log1p(c) for w, c in pool_counts.items()}
    total = math.fsum(log_counts.values())
    # weight(w) = F(w) * exp(-lambda1 * C_L(w)); every pool token has C_U >= 1, so total > 0 when used.
    weight = {
        w: (g / total) * math.exp(-lambda1 * labelled_counts.get(w, 0)) for w, g in log_counts.items()
    }
    lf = np.array(
        [math.fsum(weight[w] for w in tokens) / len(tokens) if tokens else 0.0 for tokens in pool_tokens],
        dtype=np.float64,
    )
    visited: Counter[str] = Counter()
    scores = np.zeros(len(ids), dtype=np.float64)
    for i in order_by_score(ids, lf):
        tokens = pool_tokens[i]
        if not tokens:
            continue
        scores[i] = math.fsum(weight[w] * math.exp(-lambda2 * visited[w]) for w in tokens) / len(tokens)
        visited.update(tokens)
    return scores
