"""Selection time of the atgen-baselines strategies on synthetic pools, and IDDS incremental vs naive.

Pools of 1,000 and 10,000 items (by default) with fabricated signals: 384-dimensional clustered float32
embeddings, greedy outputs of 5-30 tokens with random log-probs and entropies, 10 sampled outputs of
4-20 words per item, raw inputs of 10-40 words, and a labelled set of 100 items. Each strategy's
``select`` is timed once per pool size (signal computation is the loop's job and is not timed).

The IDDS comparison runs the plugin's incremental greedy (row sums updated with one matrix-vector
product per pick, O(N d) per step) against a naive reference in the same process: a dense N x N
similarity matrix with both means recomputed from it at every step (O(N^2) per step, as in the
original's formulation). Both must pick the same ids; the ratio naive / incremental is printed.

Usage: python benchmarks/baseline_strategies.py [--sizes 1000 10000] [--k 100] [--dim 384]
"""

from __future__ import annotations

import argparse
import time
import warnings
from collections.abc import Callable
from typing import Any, TypeVar

import numpy as np
from atgen_baselines.hooks import atgen_register_strategies
from atgen_baselines.idds import idds_greedy

from atgen_core import (
    Embeddings,
    Example,
    Generation,
    LabelledView,
    PoolView,
    SelectionContext,
    Signals,
)
from atgen_core.ranking import id_ranks

VOCAB = [f"w{i}" for i in range(2000)]
T = TypeVar("T")


def synthetic_context(n: int, k: int, dim: int, n_labelled: int, seed: int) -> SelectionContext:
    """A pool of ``n`` items and ``n_labelled`` labelled ones with every signal fabricated."""
    rng = np.random.default_rng(seed)
    pool_ids = [f"p{i:06d}" for i in range(n)]
    lab_ids = [f"l{i:05d}" for i in range(n_labelled)]
    all_ids = pool_ids + lab_ids
    centres = rng.normal(size=(20, dim))
    matrix = (centres[rng.integers(0, 20, size=len(all_ids))] + rng.normal(scale=0.7, size=(len(all_ids), dim)))
    zipf = np.minimum(rng.zipf(1.3, size=(len(all_ids), 40)), len(VOCAB)) - 1

    def text(row: int) -> str:
        return " ".join(VOCAB[j] for j in zipf[row, : int(rng.integers(10, 41))])

    examples = [Example(id=i, input=text(r), prompt=f"Q: {i}") for r, i in enumerate(all_ids)]
    generations = {}
    samples = {}
    for i in pool_ids:
        t = int(rng.integers(5, 31))
        generations[i] = Generation(
            text="out", token_logprobs=tuple(-rng.exponential(1.0, t)), token_entropies=tuple(rng.uniform(0, 4, t))
        )
        base = rng.choice(VOCAB[:300], size=int(rng.integers(4, 21)))
        outs = []
        for _ in range(10):
            words = base.copy()
            flips = rng.random(len(words)) < rng.uniform(0, 0.6)
            words[flips] = rng.choice(VOCAB[:300], size=int(flips.sum()))
            outs.append(Generation(text=" ".join(words)))
        samples[i] = outs
    return SelectionContext(
        pool=PoolView(tuple(examples[:n])),
        labelled=LabelledView(tuple(examples[n:]), tuple("label" for _ in lab_ids)),
        k=k,
        rng=np.random.default_rng(seed + 1),
        seed=seed,
        signals=Signals(
            generations=generations, samples=samples, embeddings=Embeddings(all_ids, matrix.astype(np.float32))
        ),
    )


def naive_idds(pool: np.ndarray, labelled: np.ndarray, k: int, lam: float, ids: list[str]) -> list[int]:
    """IDDS from a dense similarity matrix, means recomputed from scratch at every step (O(N^2) per step)."""
    n = pool.shape[0]
    sim = pool @ pool.T
    sim_lab = pool @ labelled.T
    diag = np.diag(sim).copy()
    ranks = id_ranks(ids)
    rest = np.ones(n)
    chosen: list[int] = []
    for _ in range(min(k, n)):
        n_rest = rest.sum()
        density = (sim @ rest - diag) / (n_rest - 1) if n_rest > 1 else np.zeros(n)
        lab_total = sim_lab.sum(axis=1) + (sim[:, chosen].sum(axis=1) if chosen else 0.0)
        n_lab = labelled.shape[0] + len(chosen)
        coverage = lab_total / n_lab if n_lab else np.zeros(n)
        scores = lam * density - (1 - lam) * coverage
        scores[chosen] = -np.inf
        best = np.flatnonzero(scores == scores.max())
        j = int(best[np.argmin(ranks[best])])
        chosen.append(j)
        rest[j] = 0.0
    return chosen


def timed(fn: Callable[..., T], *args: Any, repeat: int = 1) -> tuple[float, float, T]:
    """Best wall time and best process CPU time (all threads) of ``repeat`` calls, and the last result.

    The CPU time is less sensitive to other processes competing for the cores than the wall time.
    """
    best_wall = best_cpu = float("inf")
    for _ in range(repeat):
        wall, cpu = time.perf_counter(), time.process_time()
        out = fn(*args)
        best_wall = min(best_wall, time.perf_counter() - wall)
        best_cpu = min(best_cpu, time.process_time() - cpu)
    return best_wall, best_cpu, out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--sizes", type=int, nargs="+", default=[1000, 10000], help="pool sizes")
    parser.add_argument("--k", type=int, default=100, help="query size")
    parser.add_argument("--dim", type=int, default=384, help="embedding dimension")
    parser.add_argument("--labelled", type=int, default=100, help="labelled set size")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--repeat", type=int, default=1, help="report the best of this many calls")
    args = parser.parse_args()
    warnings.simplefilter("error")  # the fabricated signals are valid: any NaN warning is a bug

    strategies = [cls() for cls in atgen_register_strategies()]
    print(f"k = {args.k}, d = {args.dim}, |L| = {args.labelled}; seconds per select() call "
          f"(best of {args.repeat}; cpu = process CPU time, all threads)\n")
    print(f"{'strategy':<12}" + "".join(f"{f'N={n:,} wall':>14}{'cpu':>8}" for n in args.sizes))
    contexts = {}
    for n in args.sizes:
        contexts[n] = synthetic_context(n, args.k, args.dim, args.labelled, args.seed)
    # Warm lazy imports (nltk, sacrebleu) outside the timed calls.
    warm = synthetic_context(20, 2, 8, 2, 1)
    for s in strategies:
        s.select(warm)
    for s in strategies:
        row = f"{s.name:<12}"
        for n in args.sizes:
            wall, cpu, picks = timed(s.select, contexts[n], repeat=args.repeat)
            assert len(set(picks)) == min(args.k, n)
            row += f"{wall:>14.3f}{cpu:>8.3f}"
        print(row, flush=True)

    print("\nIDDS (dot similarity, lambda 0.667, float64 for both): incremental vs naive dense O(k N^2)")
    print(f"{'N':>8}{'incremental s':>15}{'naive s':>12}{'ratio':>10}{'cpu ratio':>11}  same picks")
    for n in args.sizes:
        ctx = contexts[n]
        ids = list(ctx.pool.ids)
        emb = ctx.signals.embeddings
        assert emb is not None
        pool = emb.take(ids).astype(np.float64)
        labelled = emb.take(list(ctx.labelled.ids)).astype(np.float64)
        t_inc, c_inc, inc = timed(idds_greedy, pool, labelled, args.k, 0.667, id_ranks(ids), repeat=args.repeat)
        t_naive, c_naive, naive = timed(naive_idds, pool, labelled, args.k, 0.667, ids)
        print(f"{n:>8}{t_inc:>15.4f}{t_naive:>12.3f}{t_naive / t_inc:>9.1f}x{c_naive / c_inc:>10.1f}x  "
              f"{inc == naive}")


if __name__ == "__main__":
    main()
