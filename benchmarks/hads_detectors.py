"""Time of each HADAS hallucination detector per 1,000 (output, source) pairs on E2E data.

Usage:
    python benchmarks/hads_detectors.py [--data DIR] [--pairs 1000] [--batch-size 64] [--repeat 2]
                                        [--threads N] [--no-baseline]

Data: ``e2e_nlg.jsonl`` under ``--data`` or ``$ATGEN_SHARED_DATA`` (default /work/shared/data); the script
skips cleanly (exit 0) when it is absent. The references serve as fake model outputs and the inputs (meaning
representations) as sources. For ``bertscore-precision`` the same pairs are also scored with the
``bert-score`` package (same encoder, layer and batch size) in this process as the baseline, alternating
the two ``--repeat`` times and keeping the best wall and CPU time of each (robust to a busy machine): the
script prints the time ratios and the largest difference of the precision values. It also times the
vectorised diversity term against a naive double loop of scipy JS calls.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from collections.abc import Callable
from functools import partial
from pathlib import Path
from typing import Any

import numpy as np


def load_pairs(path: Path, n: int) -> tuple[list[str], list[str]]:
    """``n`` (output, source) pairs: each row's references as outputs, its input as the source (cycled)."""
    outputs: list[str] = []
    sources: list[str] = []
    with path.open(encoding="utf-8") as fh:
        rows = [json.loads(line) for line in fh if line.strip()]
    if not rows:
        raise SystemExit(f"{path} has no rows")
    while len(outputs) < n:
        for row in rows:
            for ref in row.get("references") or [row["target"]]:
                outputs.append(ref)
                sources.append(row["input"])
                if len(outputs) == n:
                    return outputs, sources
    return outputs, sources


def per_thousand(seconds: float, n: int) -> float:
    return seconds * 1000.0 / n


def timed(fn: Callable[[], Any]) -> tuple[Any, float, float]:
    """``fn()``, its wall time and the CPU time of this process (all threads) while it ran."""
    wall, cpu = time.perf_counter(), time.process_time()
    result = fn()
    return result, time.perf_counter() - wall, time.process_time() - cpu


def bench_detectors(outputs: list[str], sources: list[str], batch_size: int, baseline: bool, repeat: int) -> None:
    import torch
    from atgen_hads import DetectorOptions
    from atgen_hads.detectors import DETECTORS, BertScorePrecision
    from atgen_hads.detectors.bertscore import default_encoder_path

    n = len(outputs)
    options = DetectorOptions(batch_size=batch_size)
    print(f"pairs: {n} (unique sources {len(set(sources))}), torch threads: {torch.get_num_threads()}")
    print(f"{'detector':<24}{'load s':>9}{'wall s':>9}{'cpu s':>9}{'wall s / 1000 pairs':>22}")
    rows: dict[str, float] = {}
    bert: BertScorePrecision | None = None
    ours_precision = None
    for name in ("unsupported-content", "unsupported-entities", "bertscore-precision"):
        det = DETECTORS[name](options)
        _, load, _ = timed(partial(det.score, outputs[:2], sources[:2]))  # loads the model, if any
        if isinstance(det, BertScorePrecision):
            bert = det
            ours_precision, wall, cpu = timed(partial(det.precision, outputs, sources))
        else:
            _, wall, cpu = timed(partial(det.score, outputs, sources))
            det.close()
        rows[name] = wall
        print(f"{name:<24}{load:>9.2f}{wall:>9.2f}{cpu:>9.2f}{per_thousand(wall, n):>22.3f}")
    total = sum(rows.values())
    print(f"{'all three':<24}{'':>9}{total:>9.2f}{'':>9}{per_thousand(total, n):>22.3f}")
    print("split: " + ", ".join(f"{k} {100 * v / total:.1f}%" for k, v in rows.items()))

    if not baseline or bert is None:
        return
    try:
        from bert_score import BERTScorer
    except ImportError:
        print("baseline skipped: the bert-score package is not installed (pip install bert-score)")
        return
    scorer = BERTScorer(model_type=default_encoder_path(), num_layers=6, batch_size=batch_size)
    scorer.score(outputs[:2], sources[:2])
    ours_best, theirs_best = [float("inf")] * 2, [float("inf")] * 2
    theirs = None
    for _ in range(max(1, repeat)):
        _, wall, cpu = timed(lambda: bert.precision(outputs, sources))
        ours_best = [min(ours_best[0], wall), min(ours_best[1], cpu)]
        result, wall, cpu = timed(lambda: scorer.score(outputs, sources)[0])
        theirs = result.double().numpy()
        theirs_best = [min(theirs_best[0], wall), min(theirs_best[1], cpu)]
    bert.close()
    assert ours_precision is not None and theirs is not None
    diff = float(np.abs(theirs - ours_precision).max())
    print(
        f"bertscore-precision vs the bert-score package (best of {max(1, repeat)}, alternating): "
        f"ours {ours_best[0]:.2f} s wall / {ours_best[1]:.2f} s cpu, bert-score {theirs_best[0]:.2f} s wall / "
        f"{theirs_best[1]:.2f} s cpu; speed ratio ours/bert-score: wall {theirs_best[0] / ours_best[0]:.2f}, "
        f"cpu {theirs_best[1] / ours_best[1]:.2f}; max |P_ours - P_bert_score| = {diff:.2e}"
    )


def bench_diversity(n_pool: int, n_labelled: int) -> None:
    from atgen_hads.divergence import mean_js_divergence

    rng = np.random.default_rng(0)
    pool, labelled = rng.uniform(size=(n_pool, 3)), rng.uniform(size=(n_labelled, 3))
    start = time.perf_counter()
    fast = mean_js_divergence(pool, labelled)
    fast_s = time.perf_counter() - start
    try:
        from scipy.spatial.distance import jensenshannon
    except ImportError:
        print(f"diversity term {n_pool} x {n_labelled}: {fast_s:.4f} s (scipy missing: no baseline)")
        return
    sub = max(1, n_pool // 10)  # the naive loop is slow: time a tenth of the pool and scale
    start = time.perf_counter()
    naive = np.array([np.mean([jensenshannon(x, lab) ** 2 for lab in labelled]) for x in pool[:sub]])
    naive_s = (time.perf_counter() - start) * n_pool / sub
    diff = float(np.abs(naive - fast[:sub]).max())
    print(
        f"diversity term {n_pool} pool x {n_labelled} labelled: vectorised {fast_s:.4f} s, naive scipy loop "
        f"~{naive_s:.2f} s (from {sub} rows), ratio {naive_s / fast_s:.0f}x, max diff {diff:.1e}"
    )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", default=os.environ.get("ATGEN_SHARED_DATA", "/work/shared/data"))
    parser.add_argument("--pairs", type=int, default=1000)
    parser.add_argument("--batch-size", type=int, default=64)
    parser.add_argument("--repeat", type=int, default=2, help="alternating runs of ours vs bert-score")
    parser.add_argument("--threads", type=int, default=None, help="torch threads (default: torch's choice)")
    parser.add_argument("--no-baseline", action="store_true", help="skip the bert-score package baseline")
    args = parser.parse_args(argv)
    path = Path(args.data) / "e2e_nlg.jsonl"
    if not path.is_file():
        print(f"skipped: {path} not found (set --data or ATGEN_SHARED_DATA)")
        return 0
    if args.threads:
        import torch

        torch.set_num_threads(args.threads)
    outputs, sources = load_pairs(path, args.pairs)
    bench_detectors(outputs, sources, args.batch_size, baseline=not args.no_baseline, repeat=args.repeat)
    bench_diversity(args.pairs, 200)
    return 0


if __name__ == "__main__":
    sys.exit(main())
