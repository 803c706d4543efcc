"""Read the signals a strategy asked for from a ``SelectionContext``, with errors that say what is wrong."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from atgen_baselines.similarity import Similarity, finite_row_mask, prepare, working_dtype
from atgen_core import Generation, SelectionContext
from atgen_core.ranking import report_nan

__all__ = [
    "MissingSignalError",
    "PreparedEmbeddings",
    "embedding_rows",
    "greedy_generations",
    "prepared_embeddings",
    "sampled_generations",
]


class MissingSignalError(LookupError):
    """A signal the strategy declared in ``requirements()`` is absent from ``ctx.signals``."""


def _missing(ids: Sequence[str]) -> str:
    shown = ", ".join(repr(i) for i in ids[:5])
    return f"{len(ids)} id(s) missing, e.g. {shown}"


def greedy_generations(ctx: SelectionContext, ids: Sequence[str], strategy: str) -> list[Generation]:
    """The greedy generation of every id in ``ids`` (in that order)."""
    generations = ctx.signals.generations
    if generations is None:
        raise MissingSignalError(
            f"strategy {strategy!r} needs greedy generations but ctx.signals.generations is None; "
            "the loop computes them when requirements().generations is True"
        )
    missing = [i for i in ids if i not in generations]
    if missing:
        raise MissingSignalError(f"strategy {strategy!r}: ctx.signals.generations lacks pool items: "
                                 f"{_missing(missing)}")
    return [generations[i] for i in ids]


def sampled_generations(
    ctx: SelectionContext, ids: Sequence[str], strategy: str
) -> list[Sequence[Generation]]:
    """The sampled outputs of every id in ``ids`` (in that order)."""
    samples = ctx.signals.samples
    if samples is None:
        raise MissingSignalError(
            f"strategy {strategy!r} needs sampled outputs but ctx.signals.samples is None; "
            "the loop computes them when requirements().samples is set"
        )
    missing = [i for i in ids if i not in samples]
    if missing:
        raise MissingSignalError(f"strategy {strategy!r}: ctx.signals.samples lacks pool items: "
                                 f"{_missing(missing)}")
    return [samples[i] for i in ids]


def embedding_rows(ctx: SelectionContext, ids: Sequence[str], strategy: str, what: str) -> np.ndarray:
    """The embedding rows of ``ids`` as a 2-D array (``what`` names the set in error messages)."""
    embeddings = ctx.signals.embeddings
    if embeddings is None:
        raise MissingSignalError(
            f"strategy {strategy!r} needs input embeddings but ctx.signals.embeddings is None; "
            "the loop computes them when requirements().embeddings is True (configure an embedder)"
        )
    missing = [i for i in ids if i not in embeddings]
    if missing:
        raise MissingSignalError(f"strategy {strategy!r}: ctx.signals.embeddings lacks {what} items: "
                                 f"{_missing(missing)}")
    rows = np.asarray(embeddings.take(list(ids)))
    if rows.ndim != 2:
        raise ValueError(f"strategy {strategy!r}: embeddings must be a 2-D matrix, got shape {rows.shape}")
    return rows


@dataclass(frozen=True)
class PreparedEmbeddings:
    """Finite pool and labelled embeddings ready for similarity arithmetic.

    ``pool`` holds the rows of ``valid_ids`` (pool order); ``invalid_ids`` (sorted) are pool items whose
    embedding has a non-finite entry: they get no score. Labelled rows with non-finite entries are
    dropped. Both matrices are in the working dtype and L2-normalised for cosine similarity.
    """

    pool: np.ndarray
    labelled: np.ndarray
    valid_ids: list[str]
    invalid_ids: list[str]


def prepared_embeddings(
    ctx: SelectionContext, ids: Sequence[str], strategy: str, similarity: Similarity
) -> PreparedEmbeddings:
    """Pool (``ids``) and labelled embeddings from ``ctx``, non-finite rows set aside and reported."""
    pool_raw = embedding_rows(ctx, ids, strategy, "pool")
    labelled_ids = list(ctx.labelled.ids)
    labelled_raw = embedding_rows(ctx, labelled_ids, strategy, "labelled")
    if labelled_raw.shape[0] and labelled_raw.shape[1] != pool_raw.shape[1]:
        raise ValueError(
            f"strategy {strategy!r}: pool embeddings have {pool_raw.shape[1]} dimensions but labelled "
            f"ones {labelled_raw.shape[1]}; embed both with the same embedder"
        )
    dtype = working_dtype(pool_raw)
    ok, lab_ok = finite_row_mask(pool_raw), finite_row_mask(labelled_raw)
    if not lab_ok.all():
        report_nan(strategy, [labelled_ids[i] for i in np.flatnonzero(~lab_ok).tolist()],
                   "labelled embeddings with non-finite entries, left out of the labelled terms")
    invalid = sorted(ids[i] for i in np.flatnonzero(~ok).tolist())
    if invalid:
        report_nan(strategy, invalid, "pool embeddings with non-finite entries")
    valid = np.flatnonzero(ok)
    return PreparedEmbeddings(
        pool=prepare(pool_raw if not invalid else pool_raw[valid], similarity, dtype),
        labelled=prepare(labelled_raw if lab_ok.all() else labelled_raw[lab_ok], similarity, dtype),
        valid_ids=[ids[i] for i in valid.tolist()],
        invalid_ids=invalid,
    )
