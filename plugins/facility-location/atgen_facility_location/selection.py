"""Facility-location batch selection on plain arrays (no atgen objects), used by the strategy.

f(S) = sum_{i in clients} w_i max_{j in S} s_ij with a non-negative similarity s (see ``dense.py``).
Greedy adds the candidate with the largest marginal gain until k are chosen. The labelled set counts
as already chosen (conditional gain f(S u L) - f(L)), so repeated rounds keep covering new ground.

Duplicates. Inputs with the same unit embedding (bit for bit) form one group: the group is a single
candidate (its member with the smallest rank stands for it) and a single client weighted by its size.
So a duplicate never gets a gain of its own: it is only used to complete the batch after every
distinct candidate with positive gain, and pool inputs identical to a labelled input are likewise
only used then. Zero-norm embeddings have cosine 0 with everything (all of them form one group).
"""

from __future__ import annotations

from collections.abc import Sequence
from contextlib import nullcontext
from dataclasses import dataclass

import numpy as np

from atgen_facility_location.config import FacilityLocationConfig
from atgen_facility_location.dense import DenseOracle, max_similarity
from atgen_facility_location.greedy import (
    GainOracle,
    GreedyTrace,
    TieRule,
    lazy_greedy,
    stochastic_lazy_greedy,
)
from atgen_facility_location.kernel import KernelOracle, build_kernel
from atgen_facility_location.knn import faiss_available, knn
from atgen_facility_location.sparse import SparseOracle
from atgen_facility_location.threads import single_blas_thread

__all__ = [
    "SIMILARITIES",
    "FacilityLocationResult",
    "facility_location_value",
    "select_facility_location",
    "tie_rule",
    "unit_rows",
]

SIMILARITIES: dict[str, tuple[float, float]] = {
    "shifted-cosine": (0.5, -1.0),
    "clipped-cosine": (1.0, 0.0),
}
"""similarity name -> (scale, t0) with s = scale * max(0, cos - t0)."""


@dataclass(frozen=True)
class FacilityLocationResult:
    """What one selection did.

    ``indices`` are pool positions in pick order: the ``n_greedy`` greedy picks (with their marginal
    ``gains``), then the completion of the batch once gains were all zero. ``mode`` is 'exact' or
    'sparse'; ``knn`` names the neighbour search of sparse mode ('numpy-exact', 'numpy-ivf',
    'faiss-exact', 'faiss-ivf'). ``n_candidates`` counts distinct candidates, ``evaluations`` gain
    evaluations made by the greedy.
    """

    indices: tuple[int, ...]
    gains: tuple[float, ...]
    n_greedy: int
    mode: str
    knn: str | None
    n_candidates: int
    evaluations: int


def unit_rows(matrix: np.ndarray, dtype: str | np.dtype = "float32") -> np.ndarray:
    """Rows scaled to unit L2 norm (zero rows stay zero), as a new C-contiguous array of ``dtype``.

    Negative zeros are turned into positive ones so that equal directions are equal bit for bit.
    """
    out = np.array(matrix, dtype=dtype, order="C", copy=True)
    if out.size:
        norms = np.sqrt(np.einsum("ij,ij->i", out, out, dtype=np.float64)).astype(out.dtype)
        norms[norms == 0] = 1
        out /= norms[:, None]
    out += 0.0
    return out


def _check_matrix(matrix: np.ndarray, what: str, ids: Sequence[str] | None, dim: int | None) -> np.ndarray:
    arr = np.asarray(matrix)
    if arr.ndim == 1 and arr.size == 0:
        arr = arr.reshape(0, dim or 0)
    if arr.ndim != 2:
        raise ValueError(f"facility-location: {what} embeddings must be a 2-D matrix, got shape {arr.shape}")
    if not np.issubdtype(arr.dtype, np.number):
        raise ValueError(f"facility-location: {what} embeddings must be numeric, got dtype {arr.dtype}")
    if dim is not None and arr.shape[0] and arr.shape[1] != dim:
        raise ValueError(
            f"facility-location: {what} embeddings have dimension {arr.shape[1]} but the pool's have {dim}; "
            "embed both with the same embedder"
        )
    finite = np.isfinite(arr).all(axis=1) if arr.size else np.ones(arr.shape[0], dtype=bool)
    if not finite.all():
        bad = np.flatnonzero(~finite)
        name = repr(ids[int(bad[0])]) if ids is not None else f"#{int(bad[0])}"
        raise ValueError(
            f"facility-location: the embedding of {what} item {name} contains NaN or infinite values "
            f"({bad.size} {what} item(s) affected); fix the embedder or remove these inputs"
        )
    return arr


def _row_hashes(units: np.ndarray) -> np.ndarray:
    """A 64-bit hash of each row's bytes (integer arithmetic mod 2^64: exact, order-independent)."""
    raw: np.ndarray = np.ascontiguousarray(units).view(np.uint8).reshape(units.shape[0], -1)
    pad = (-raw.shape[1]) % 8
    if pad:
        raw = np.concatenate([raw, np.zeros((raw.shape[0], pad), dtype=np.uint8)], axis=1)
    words = raw.view(np.uint64)
    mult = np.random.default_rng(20240601).integers(1, 2**63, size=words.shape[1], dtype=np.uint64) * 2 + 1
    out = np.empty(units.shape[0], dtype=np.uint64)
    step = 65536
    with np.errstate(over="ignore"):
        for r0 in range(0, units.shape[0], step):
            out[r0 : r0 + step] = (words[r0 : r0 + step] * mult).sum(axis=1, dtype=np.uint64)
    return out


def _row_groups(units: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Groups of bit-identical rows: (first position of each group, group of each row).

    Groups are numbered by their first position. Rows are bucketed by a 64-bit hash of their bytes
    and buckets with several rows are split by comparing bytes, so equal hashes never merge rows.
    """
    n = units.shape[0]
    hashes = _row_hashes(units)
    order = np.argsort(hashes, kind="stable")
    sorted_h = hashes[order]
    starts = np.flatnonzero(np.concatenate([[True], sorted_h[1:] != sorted_h[:-1]]))
    label = np.empty(n, dtype=np.int64)
    label[order] = np.repeat(order[starts], np.diff(np.concatenate([starts, [n]])))
    sizes = np.diff(np.concatenate([starts, [n]]))
    for s0, size in zip(starts[sizes > 1].tolist(), sizes[sizes > 1].tolist()):
        members = order[s0 : s0 + size]
        seen: dict[bytes, int] = {}
        for m in members.tolist():
            label[m] = seen.setdefault(units[m].tobytes(), m)
    first = np.unique(label)
    inverse = np.searchsorted(first, label)
    return first, inverse


def _rows_in(rows: np.ndarray, table: np.ndarray) -> np.ndarray:
    """For each row of ``rows``, whether a bit-identical row is in ``table``."""
    out = np.zeros(rows.shape[0], dtype=bool)
    if rows.shape[0] == 0 or table.shape[0] == 0:
        return out
    maybe = np.flatnonzero(np.isin(_row_hashes(rows), _row_hashes(table)))
    if maybe.size:
        known = {row.tobytes() for row in table}
        out[maybe] = [rows[i].tobytes() in known for i in maybe.tolist()]
    return out


def tie_rule(precision: str, *, reproducible: bool) -> TieRule:
    """Tie tolerance for a precision: float32 similarities are good to about 1e-7, float64 to 1e-16.

    ``reproducible`` oracles (sparse mode) give bit-identical gains for a candidate every time, so
    their bounds need no slack.
    """
    if precision == "float32":
        return TieRule(rel=2e-6, abs_=1e-6, slack=0.0 if reproducible else 2e-6)
    return TieRule(rel=1e-10, abs_=1e-12, slack=0.0 if reproducible else 1e-10)


def _resolve_mode(config: FacilityLocationConfig, n_candidates: int) -> str:
    if config.mode != "auto":
        return config.mode
    return "exact" if n_candidates <= config.auto_sparse_above else "sparse"


def _search(config: FacilityLocationConfig, n_keys: int) -> tuple[bool, str]:
    """(approximate?, backend) for a neighbour search over ``n_keys`` keys."""
    approximate = config.knn == "ivf" or (config.knn == "auto" and n_keys > config.exact_knn_max)
    backend = config.knn_backend
    if backend == "auto":
        backend = "faiss" if config.precision == "float32" and faiss_available() else "numpy"
    elif backend == "faiss" and not faiss_available():
        raise ImportError(
            "facility-location: knn_backend 'faiss' needs faiss; pip install 'atgen-facility-location[faiss]' "
            "or set knn_backend to 'numpy'"
        )
    return approximate, backend


def select_facility_location(
    pool: np.ndarray,
    labelled: np.ndarray | None,
    k: int,
    config: FacilityLocationConfig | None = None,
    *,
    rng: np.random.Generator | None = None,
    ranks: Sequence[int] | np.ndarray | None = None,
    pool_ids: Sequence[str] | None = None,
    labelled_ids: Sequence[str] | None = None,
) -> FacilityLocationResult:
    """Pick ``min(k, len(pool))`` distinct pool positions maximising facility location greedily.

    ``ranks`` orders the pool for tie-breaking (a smaller rank wins a tie; default: position); the
    strategy passes the rank of each id in sorted order. ``rng`` drives stochastic greedy and the
    'random' fill order (default: a generator seeded with 0). ``pool_ids`` / ``labelled_ids`` only
    name items in error messages.
    """
    cfg = config or FacilityLocationConfig()
    rng = rng if rng is not None else np.random.default_rng(0)
    pool_arr = _check_matrix(pool, "pool", pool_ids, None)
    n = pool_arr.shape[0]
    lab_arr = _check_matrix(
        labelled if labelled is not None else np.zeros((0, pool_arr.shape[1])), "labelled", labelled_ids,
        pool_arr.shape[1],
    )
    target = min(max(k, 0), n)
    if target == 0:
        return FacilityLocationResult((), (), 0, _resolve_mode(cfg, n), None, 0, 0)
    rank_arr = np.arange(n) if ranks is None else np.asarray(ranks)
    if rank_arr.shape != (n,):
        raise ValueError(f"facility-location: ranks must have one entry per pool item ({n}), got {rank_arr.shape}")
    scale, floor = SIMILARITIES[cfg.similarity]
    units = unit_rows(pool_arr, cfg.precision)
    lab_units = unit_rows(lab_arr, cfg.precision)

    # Group identical directions; groups are numbered in rank order of their first member.
    by_rank = np.argsort(rank_arr, kind="stable")
    first, inverse = _row_groups(units[by_rank])
    group_of = np.empty(n, dtype=np.int64)
    group_of[by_rank] = inverse
    rep = by_rank[first]  # pool position standing for each group, groups in rank order
    sizes = np.bincount(group_of, minlength=rep.size).astype(np.float64)
    conditioned = cfg.condition_on_labelled and lab_units.shape[0] > 0
    covered = _rows_in(units[rep], lab_units) if conditioned else np.zeros(rep.size, dtype=bool)
    cand_groups = np.flatnonzero(~covered)
    n_cand = cand_groups.size
    mode = _resolve_mode(cfg, n_cand)

    clients = units[rep[cand_groups]]
    weights = sizes[cand_groups]
    if cfg.include_labelled_as_clients and not cfg.condition_on_labelled and lab_units.shape[0]:
        lab_first, lab_inverse = _row_groups(lab_units)
        lab_count = np.bincount(lab_inverse, minlength=lab_first.size).astype(np.float64)
        in_pool = _rows_in(lab_units[lab_first], clients)
        if in_pool.any():
            pos = {row.tobytes(): i for i, row in enumerate(clients)}
            for g in np.flatnonzero(in_pool).tolist():
                weights[pos[lab_units[lab_first[g]].tobytes()]] += lab_count[g]
        clients = np.concatenate([clients, lab_units[lab_first[~in_pool]]])
        weights = np.concatenate([weights, lab_count[~in_pool]])

    knn_name: str | None = None
    oracle: GainOracle
    thresholds = np.full(clients.shape[0], floor, dtype=np.float64)
    if mode == "exact":
        if conditioned:
            thresholds = max_similarity(clients, lab_units, floor, cfg.block_size).astype(np.float64)
        kernel_bytes = n_cand * clients.shape[0] * clients.dtype.itemsize
        if kernel_bytes <= cfg.kernel_memory_mb * 2**20:
            kernel = build_kernel(clients, n_cand)
            oracle = KernelOracle(kernel, weights, thresholds, scale=scale, floor=floor, block_size=cfg.block_size)
        else:
            oracle = DenseOracle(
                clients, weights, n_cand, thresholds, scale=scale, floor=floor, block_size=cfg.block_size,
                cache_entries=cfg.cache_entries,
            )
        rule = tie_rule(cfg.precision, reproducible=False)
    else:
        approximate, backend = _search(cfg, n_cand)
        knn_name = f"{backend}-{'ivf' if approximate else 'exact'}"
        if conditioned:
            lab_approx, lab_backend = _search(cfg, lab_units.shape[0])
            _, best = knn(
                clients, lab_units, 1, approximate=lab_approx, backend=lab_backend, block_size=cfg.block_size,
                n_lists=None, n_probe=cfg.n_probe, iterations=cfg.kmeans_iterations,
            )
            thresholds = np.maximum(best[:, 0].astype(np.float64), floor)
        if n_cand and cfg.n_neighbors >= n_cand:
            approximate = False
        neighbours, cosines = knn(
            clients, clients[:n_cand], cfg.n_neighbors, approximate=approximate, backend=backend,
            block_size=cfg.block_size, n_lists=cfg.n_lists, n_probe=cfg.n_probe, iterations=cfg.kmeans_iterations,
        )
        oracle = SparseOracle(
            neighbours, cosines, weights, n_cand, thresholds, scale=scale, floor=floor,
            clients=clients if cfg.exact_coverage else None,
        )
        rule = tie_rule(cfg.precision, reproducible=True)

    trace: GreedyTrace
    # Matrix-vector products only (kernel rows, coverage updates): one BLAS thread is faster.
    matvec_only = isinstance(oracle, (KernelOracle, SparseOracle))
    with single_blas_thread() if matvec_only else nullcontext():
        if cfg.stochastic:
            trace = stochastic_lazy_greedy(oracle, target, rng, epsilon=cfg.epsilon, rule=rule)
        else:
            trace = lazy_greedy(oracle, target, rule=rule, max_batch=max(8, n_cand))

    picked = [int(rep[cand_groups[c]]) for c in trace.picks]
    if len(picked) < target:
        picked.extend(_completion(rep, cand_groups, trace.picks, rank_arr, cfg, rng, target - len(picked)))
    return FacilityLocationResult(
        indices=tuple(picked),
        gains=tuple(trace.gains),
        n_greedy=len(trace.picks),
        mode=mode,
        knn=knn_name,
        n_candidates=int(n_cand),
        evaluations=trace.evaluations,
    )


def _completion(
    rep: np.ndarray,
    cand_groups: np.ndarray,
    picks: list[int],
    ranks: np.ndarray,
    cfg: FacilityLocationConfig,
    rng: np.random.Generator,
    count: int,
) -> list[int]:
    """Positions that complete the batch once every gain is zero: distinct candidates first, then
    duplicates (extra members of a group, and pool inputs identical to a labelled input)."""
    chosen = np.zeros(cand_groups.size, dtype=bool)
    chosen[np.asarray(picks, dtype=np.int64)] = True
    distinct = rep[cand_groups[~chosen]]
    is_rep = np.zeros(ranks.size, dtype=bool)
    is_rep[rep[cand_groups]] = True
    duplicates = np.flatnonzero(~is_rep)
    out: list[int] = []
    for tier in (distinct, duplicates):
        if len(out) >= count:
            break
        if cfg.fill_order == "random":
            tier = rng.permutation(np.sort(tier))
        else:
            tier = tier[np.argsort(ranks[tier], kind="stable")]
        out.extend(int(p) for p in tier[: count - len(out)])
    return out


def facility_location_value(
    pool: np.ndarray,
    chosen: Sequence[int],
    labelled: np.ndarray | None = None,
    *,
    similarity: str = "shifted-cosine",
    include_labelled_as_clients: bool = False,
    block_size: int = 4_194_304,
) -> float:
    """f(S u L) = sum_i max_{j in S u L} s_ij in float64 over clients = pool (plus L if asked).

    ``chosen`` are pool positions; every pool row counts as a client (duplicates included). Exact,
    in blocks; meant for evaluation and tests.
    """
    scale, floor = SIMILARITIES[similarity]
    units = unit_rows(np.asarray(pool), "float64")
    lab = unit_rows(np.asarray(labelled), "float64") if labelled is not None and len(labelled) else None
    clients = units if lab is None or not include_labelled_as_clients else np.concatenate([units, lab])
    centres = units[np.asarray(list(chosen), dtype=np.int64)]
    if lab is not None:
        centres = np.concatenate([centres, lab])
    best = max_similarity(clients, centres, floor, block_size)
    return float(scale * (best - floor).sum())
