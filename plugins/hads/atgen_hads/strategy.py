"""The ``hadas`` strategy: Hallucination-Aware, Diversity-Aware Sampling (Xia et al., NAACL 2024)."""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from dataclasses import dataclass
from typing import ClassVar

import numpy as np

from atgen_core import Requirements, SelectionContext, Strategy
from atgen_core.ranking import normalise, top_k_ids
from atgen_core.types import ProgressFn, no_progress
from atgen_hads.config import HADASConfig
from atgen_hads.detectors import Detector, build_detectors
from atgen_hads.divergence import mean_js_divergence

__all__ = ["HADASScores", "HADASStrategy"]


@dataclass(frozen=True)
class HADASScores:
    """Every intermediate of one scoring pass, aligned with ``ids`` (for inspection and tests)."""

    ids: tuple[str, ...]
    detectors: tuple[str, ...]
    pool_vectors: np.ndarray
    """(n, m) hallucination vectors of the candidates (column j = detector j, 1 = hallucinated)."""
    labelled_vectors: np.ndarray
    """(L, m) hallucination vectors of the labelled (input, label) pairs."""
    h_halu: np.ndarray
    """weights . v per candidate."""
    h_div: np.ndarray
    """Mean JS divergence between the candidate's renormalised vector and each labelled one."""
    h_halu_scaled: np.ndarray
    h_div_scaled: np.ndarray
    score: np.ndarray
    """lambda_ * h_div_scaled + (1 - lambda_) * h_halu_scaled."""


def _pair_key(source: str, output: str) -> bytes:
    data = f"{len(source)}:{source}{output}".encode("utf-8", "surrogatepass")
    return hashlib.blake2b(data, digest_size=16).digest()


class HADASStrategy(Strategy[HADASConfig]):
    """Hallucination-aware, diversity-aware sampling: prefer inputs whose outputs look hallucinated.

    Each (source, output) pair gets a vector v of detector scores in [0, 1] (1 = hallucinated):
    h_halu = weights . v, and h_div = mean JS divergence between the candidate's renormalised v and the
    vectors of the labelled (input, label) pairs. Score = lambda_ * h_div + (1 - lambda_) * h_halu after
    scaling both terms; top k, ties broken by id. Warm start: needs a non-empty labelled set.
    """

    name: ClassVar[str] = "hadas"
    Config = HADASConfig
    cold_start: ClassVar[bool] = False

    def __init__(self, config: HADASConfig | None = None) -> None:
        super().__init__(config)
        self._detectors: list[Detector] | None = None
        self._cache: dict[bytes, np.ndarray] = {}

    def requirements(self) -> Requirements:
        """Greedy generations of the candidates (a non-empty labelled set: ``cold_start`` is False)."""
        return Requirements(generations=True)

    @property
    def detectors(self) -> list[Detector]:
        """The detector instances (built on first use; their models load on first scoring)."""
        if self._detectors is None:
            self._detectors = build_detectors(self.config.detectors, self.config.detector_options)
        return self._detectors

    def close(self) -> None:
        """Release every detector model and the vector cache."""
        if self._detectors is not None:
            for detector in self._detectors:
                detector.close()
        self._detectors = None
        self._cache.clear()

    def hallucination_vectors(
        self,
        outputs: Sequence[str],
        sources: Sequence[str],
        progress: ProgressFn = no_progress,
        used_keys: set[bytes] | None = None,
    ) -> np.ndarray:
        """The (n, m) matrix of detector scores for the pairs (``outputs[i]``, ``sources[i]``).

        Empty outputs get ``empty_output_score`` on every detector; identical pairs are scored once;
        with ``cache_vectors`` pairs scored in an earlier call are not scored again. The cache keys of the
        pairs seen are added to ``used_keys`` when given.
        """
        if len(outputs) != len(sources):
            raise ValueError(f"hadas: {len(outputs)} outputs but {len(sources)} sources")
        detectors = self.detectors
        cfg = self.config
        vectors = np.empty((len(outputs), len(detectors)), dtype=np.float64)
        todo: dict[bytes, list[int]] = {}
        for pos, (output, source) in enumerate(zip(outputs, sources)):
            if not output.strip():
                vectors[pos] = cfg.empty_output_score
                continue
            key = _pair_key(source, output)
            if used_keys is not None:
                used_keys.add(key)
            cached = self._cache.get(key)
            if cached is not None:
                vectors[pos] = cached
            else:
                todo.setdefault(key, []).append(pos)
        if todo:
            keys = list(todo)
            firsts = [todo[key][0] for key in keys]
            todo_outputs = [outputs[i] for i in firsts]
            todo_sources = [sources[i] for i in firsts]
            fresh = np.empty((len(keys), len(detectors)), dtype=np.float64)
            for j, detector in enumerate(detectors):
                values = np.asarray(detector.score(todo_outputs, todo_sources, progress), dtype=np.float64)
                if values.shape != (len(keys),):
                    raise RuntimeError(
                        f"detector {detector.name!r} returned shape {values.shape} for {len(keys)} pairs"
                    )
                bad = np.flatnonzero(~np.isfinite(values) | (values < 0.0) | (values > 1.0))
                if bad.size:
                    raise RuntimeError(
                        f"detector {detector.name!r} returned {values[bad[0]]!r} (outside [0, 1]) for the "
                        f"output {todo_outputs[bad[0]][:80]!r}"
                    )
                fresh[:, j] = values
            for row, key in enumerate(keys):
                vectors[todo[key]] = fresh[row]
                if cfg.cache_vectors:
                    self._cache[key] = fresh[row].copy()
        return vectors

    def score(self, ctx: SelectionContext) -> HADASScores:
        """Detector vectors, both terms and the mixed score of every pool candidate."""
        labelled = ctx.labelled
        if len(labelled) == 0:
            raise ValueError(
                "hadas needs a non-empty labelled set: it is a warm-start strategy (label an initial random "
                "batch first, or use a cold-start strategy such as 'huds' or 'random' for the first round)"
            )
        if len(labelled.labels) != len(labelled.examples):
            raise ValueError(
                f"hadas: the labelled view has {len(labelled.examples)} examples but {len(labelled.labels)} labels"
            )
        generations = ctx.signals.generations
        if generations is None:
            raise ValueError("hadas: ctx.signals.generations is missing; the loop must honour requirements()")
        ids = ctx.pool.ids
        missing = [i for i in ids if i not in generations]
        if missing:
            raise ValueError(
                f"hadas: no generation for pool id {missing[0]!r} ({len(missing)} missing); the loop must "
                "compute Signals.generations for every candidate"
            )
        cfg = self.config
        used: set[bytes] = set()
        pool_vectors = self.hallucination_vectors(
            [generations[i].text for i in ids], list(ctx.pool.inputs), ctx.progress, used
        )
        labelled_vectors = self.hallucination_vectors(list(labelled.labels), list(labelled.inputs), ctx.progress, used)
        # keep only this round's pairs: memory stays bounded by |pool| + |labelled|
        self._cache = {key: vec for key, vec in self._cache.items() if key in used}
        weights = np.asarray(cfg.detector_weights(), dtype=np.float64)
        h_halu = pool_vectors @ weights
        h_div = mean_js_divergence(pool_vectors, labelled_vectors)
        halu_s = normalise(h_halu, cfg.normalisation)
        div_s = normalise(h_div, cfg.normalisation)
        return HADASScores(
            ids=tuple(ids),
            detectors=tuple(cfg.detectors),
            pool_vectors=pool_vectors,
            labelled_vectors=labelled_vectors,
            h_halu=h_halu,
            h_div=h_div,
            h_halu_scaled=halu_s,
            h_div_scaled=div_s,
            score=cfg.lambda_ * div_s + (1.0 - cfg.lambda_) * halu_s,
        )

    def select(self, ctx: SelectionContext) -> list[str]:
        """The ``min(k, len(pool))`` candidates with the highest score, ties broken by id."""
        k = min(ctx.k, len(ctx.pool))
        if k <= 0:
            return []
        try:
            scores = self.score(ctx)
        finally:
            if self.config.release_after_select and self._detectors is not None:
                for detector in self._detectors:
                    detector.close()
        return top_k_ids(scores.ids, scores.score, k)
