"""Sentence BLEU between every ordered pair of a few texts, for many sets of texts at once.

The result equals ``sacrebleu.sentence_bleu(texts[i], [texts[j]], smooth_method=...).score / 100`` for
every i != j (13a tokenisation, 4-grams, effective order; the tests check it), but each text is
tokenised and split into n-grams once, the clipped n-gram matches of all pairs of a set come from one
``minimum`` over its count matrix, and the formula of ``sacrebleu.BLEU.compute_bleu`` (brevity penalty,
smoothing, effective order) runs order by order on arrays holding every pair of every set.
Conventions beyond sacreBLEU: identical token sequences (including two empty ones) score exactly 1; an
empty text against a non-empty one scores 0 (as in sacreBLEU).
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Sequence
from typing import Literal

import numpy as np

__all__ = ["MAX_ORDER", "SmoothMethod", "make_tokenizer", "pairwise_bleu", "pairwise_bleu_many"]

SmoothMethod = Literal["exp", "floor", "add-k", "none"]
MAX_ORDER = 4
_SMOOTH_DEFAULTS = {"floor": 0.1, "add-k": 1.0}  # sacreBLEU's BLEU.SMOOTH_DEFAULTS
_LOG_ZERO = -9999999999.0  # sacreBLEU's my_log(0)
_CHUNK = 2048  # sets per vectorised formula call (bounds memory: CHUNK * n * n * MAX_ORDER floats)

Tokens = Sequence[str]


def make_tokenizer() -> Callable[[str], list[str]]:
    """sacreBLEU's default 13a tokenizer as text -> tokens (sacrebleu imported lazily)."""
    from sacrebleu.tokenizers.tokenizer_13a import Tokenizer13a

    tokenizer = Tokenizer13a()
    return lambda text: tokenizer(text.rstrip()).split()


def _matches(token_lists: Sequence[Tokens]) -> np.ndarray:
    """``m[i, j, o]`` = clipped matches of the (o+1)-grams of text i against text j (symmetric)."""
    counters: list[Counter[tuple[str, ...]]] = []
    for tokens in token_lists:
        counts: Counter[tuple[str, ...]] = Counter()
        for n in range(1, MAX_ORDER + 1):
            counts.update(zip(*[tokens[i:] for i in range(n)]))
        counters.append(counts)
    grams = sorted(set().union(*counters), key=len)  # columns grouped by n-gram order
    index = dict(zip(grams, range(len(grams))))
    matrix = np.zeros((len(token_lists), len(grams)), dtype=np.float64)
    for row, counts in enumerate(counters):
        matrix[row, list(map(index.__getitem__, counts))] = list(counts.values())
    clipped = np.minimum(matrix[:, None, :], matrix[None, :, :])
    lengths = np.fromiter(map(len, grams), dtype=np.int64, count=len(grams))
    bounds = np.searchsorted(lengths, np.arange(1, MAX_ORDER + 2))
    return np.stack([clipped[:, :, bounds[o] : bounds[o + 1]].sum(axis=2) for o in range(MAX_ORDER)], axis=2)


def _bleu_from_stats(
    matches: np.ndarray, lengths: np.ndarray, smooth_method: SmoothMethod, smooth_value: float | None
) -> np.ndarray:
    """BLEU in [0, 1] for hypothesis i vs reference j of every set: matches (B, n, n, 4), lengths (B, n)."""
    sys_len = lengths[:, :, None]
    ref_len = lengths[:, None, :]
    totals = np.maximum(lengths[:, :, None] - np.arange(MAX_ORDER), 0.0)  # (B, n, 4) of the hypothesis
    total = np.broadcast_to(totals[:, :, None, :], matches.shape).copy()
    correct = matches.copy()
    any_match = matches.sum(axis=3) > 0  # sacreBLEU returns 0 before smoothing when nothing matches
    value = smooth_value if smooth_value is not None else _SMOOTH_DEFAULTS.get(smooth_method, 0.0)
    if smooth_method == "add-k":
        correct[..., 1:] += value
        total[..., 1:] += value
    shape = matches.shape[:3]
    active = np.ones(shape, dtype=bool)  # no order with a zero total seen yet (sacreBLEU breaks there)
    eff_order = np.zeros(shape)
    mteval = np.ones(shape)
    log_sum = np.zeros(shape)
    with np.errstate(divide="ignore", invalid="ignore"):
        bp = np.where(sys_len < ref_len, np.where(sys_len > 0, np.exp(1.0 - ref_len / sys_len), 0.0), 1.0)
        for k in range(MAX_ORDER):
            c, t = correct[..., k], total[..., k]
            active &= t > 0
            eff_order[active] = k + 1
            zero = c == 0
            if smooth_method == "exp":
                mteval = np.where(active & zero, mteval * 2.0, mteval)
                precision = np.where(zero, 100.0 / (mteval * t), 100.0 * c / t)
            elif smooth_method == "floor":
                precision = np.where(zero, 100.0 * value / t, 100.0 * c / t)
            else:
                precision = np.where(zero, 0.0, 100.0 * c / t)
            positive = active & (precision > 0)
            log_p = np.full(shape, _LOG_ZERO)
            log_p[positive] = np.log(precision[positive])
            log_sum += np.where(active, log_p, 0.0)
        score = bp * np.exp(log_sum / np.maximum(eff_order, 1.0))
    return np.where(any_match & (eff_order > 0), score / 100.0, 0.0)


def _mark_identical(out: np.ndarray, token_lists: Sequence[Tokens]) -> None:
    groups: dict[tuple[str, ...], list[int]] = {}
    for i, tokens in enumerate(token_lists):
        groups.setdefault(tuple(tokens), []).append(i)
    for members in groups.values():
        out[np.ix_(members, members)] = 1.0


def pairwise_bleu_many(
    sets: Sequence[Sequence[Tokens]], smooth_method: SmoothMethod = "exp", smooth_value: float | None = None
) -> list[np.ndarray]:
    """For every set of tokenised texts, the matrix ``out[i, j]`` = BLEU of hypothesis i vs reference j."""
    results: list[np.ndarray] = [np.zeros((0, 0))] * len(sets)
    by_size: dict[int, list[int]] = {}
    for position, token_lists in enumerate(sets):
        by_size.setdefault(len(token_lists), []).append(position)
    for size, positions in by_size.items():
        for start in range(0, len(positions), _CHUNK):
            chunk = positions[start : start + _CHUNK]
            if size == 0:
                continue
            matches = np.stack([_matches(sets[p]) for p in chunk])
            lengths = np.array([[len(t) for t in sets[p]] for p in chunk], dtype=np.float64)
            bleu = _bleu_from_stats(matches, lengths, smooth_method, smooth_value)
            for row, p in enumerate(chunk):
                out = bleu[row]
                _mark_identical(out, sets[p])
                results[p] = out
    return results


def pairwise_bleu(
    token_lists: Sequence[Tokens], smooth_method: SmoothMethod = "exp", smooth_value: float | None = None
) -> np.ndarray:
    """``out[i, j]`` = sentence BLEU in [0, 1] of hypothesis ``i`` against the single reference ``j``."""
    return pairwise_bleu_many([token_lists], smooth_method, smooth_value)[0]
