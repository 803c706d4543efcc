"""Pure numpy pieces of HUDS: uncertainty, strata, stratum diversity, scaling and top-k.

Every function takes and returns plain arrays so that it can be tested on hand-made data.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np

from atgen_core import Generation
from atgen_huds.config import EmptyOutputRule

__all__ = [
    "assign_strata",
    "stratum_diversity",
    "uncertainty_scores",
]

_EPS = 1e-12


def uncertainty_scores(
    ids: Sequence[str], generations: Mapping[str, Generation], empty_output: EmptyOutputRule = "max"
) -> np.ndarray:
    """NNLL (length-normalised negative log-likelihood of the generated tokens) per id, as float64.

    A generation without any scored token has no NNLL; ``empty_output`` decides what it gets: the highest
    ('max') or lowest ('min') NNLL of the other candidates, or a ``ValueError`` ('error'). When no candidate
    has a scored token there is nothing to rank by and a ``ValueError`` is raised. A non-finite NNLL of a
    non-empty generation (a NaN or -inf log-prob) is a bug of the model handle and raises as well.
    """
    missing = [i for i in ids if i not in generations]
    if missing:
        raise ValueError(
            f"huds: no generation for pool id {missing[0]!r} ({len(missing)} missing); the loop must compute "
            "Signals.generations for every candidate (Requirements(generations=True))"
        )
    values = np.empty(len(ids), dtype=np.float64)
    empty = np.zeros(len(ids), dtype=bool)
    for pos, id_ in enumerate(ids):
        gen = generations[id_]
        if gen.num_tokens == 0:
            empty[pos] = True
            values[pos] = np.nan
            continue
        value = float(gen.nnll)
        if not np.isfinite(value):
            raise ValueError(
                f"huds: generation of id {id_!r} has non-finite NNLL {value} (token_logprobs contain NaN or "
                "-inf); the model handle must return finite log-probs of the chosen tokens"
            )
        values[pos] = value
    if empty.any():
        if empty_output == "error":
            first = ids[int(np.flatnonzero(empty)[0])]
            raise ValueError(
                f"huds: the generation of id {first!r} has no scored token ({int(empty.sum())} such "
                "candidates); set config empty_output to 'max' or 'min' to rank them"
            )
        if empty.all():
            raise ValueError(
                "huds: no candidate has token log-probs (every generation is empty); the model handle must "
                "return token_logprobs for the generated tokens"
            )
        finite = values[~empty]
        values[empty] = finite.max() if empty_output == "max" else finite.min()
    return values


def assign_strata(values: np.ndarray, n_strata: int) -> np.ndarray:
    """Stratum label (0 .. m-1, m <= n_strata) of each value; equal-width bins over [min, max].

    Bins are closed on the right: a value on an inner edge goes to the lower bin and the minimum goes to the
    first bin. Empty bins are dropped, so the labels are consecutive. All-equal values form one stratum.
    """
    if n_strata < 1:
        raise ValueError(f"n_strata must be >= 1, got {n_strata}")
    values = np.asarray(values, dtype=np.float64)
    if values.size == 0:
        return np.zeros(0, dtype=np.int64)
    low, high = float(values.min()), float(values.max())
    if high <= low or n_strata == 1:
        return np.zeros(values.size, dtype=np.int64)
    inner_edges = np.linspace(low, high, n_strata + 1)[1:-1]
    raw = np.searchsorted(inner_edges, values, side="left")
    _, labels = np.unique(raw, return_inverse=True)
    return labels.astype(np.int64).reshape(-1)


def stratum_diversity(embeddings: np.ndarray, strata: np.ndarray) -> np.ndarray:
    """1 - cos(e_x, c_s(x)) where c_s is the mean embedding of stratum s (raw rows, not normalised first).

    A zero vector (embedding or centroid) has cosine 0 with anything, i.e. diversity 1.
    """
    emb = np.asarray(embeddings, dtype=np.float64)
    if emb.ndim != 2 or emb.shape[0] != strata.shape[0]:
        raise ValueError(f"embeddings must be a (n, d) matrix with n = {strata.shape[0]}, got {emb.shape}")
    if not np.all(np.isfinite(emb)):
        raise ValueError("huds: the candidate embeddings contain NaN or inf")
    if emb.shape[0] == 0:
        return np.zeros(0, dtype=np.float64)
    order = np.argsort(strata, kind="stable")
    sorted_labels = strata[order]
    starts = np.flatnonzero(np.r_[True, sorted_labels[1:] != sorted_labels[:-1]])
    sums = np.add.reduceat(emb[order], starts, axis=0)
    counts = np.diff(np.r_[starts, sorted_labels.size]).astype(np.float64)
    centroids = np.zeros((int(strata.max()) + 1, emb.shape[1]), dtype=np.float64)
    centroids[sorted_labels[starts]] = sums / counts[:, None]
    centre = centroids[strata]
    norms = np.linalg.norm(emb, axis=1) * np.linalg.norm(centre, axis=1)
    dots = np.einsum("ij,ij->i", emb, centre)
    cos = np.where(norms > _EPS, dots / np.maximum(norms, _EPS), 0.0)
    return 1.0 - np.clip(cos, -1.0, 1.0)

