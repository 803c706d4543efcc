"""Sparse facility location on 200k synthetic embeddings: time and peak memory, without an N x N matrix.

Uses the ``facility-location`` plugin's own selection (``atgen_facility_location.selection``) in
sparse kNN mode. Each measurement runs in a fresh child process so that its peak RSS
(``ru_maxrss``) is its own; a child that only builds the data gives the baseline RSS, so the
selection's own memory is the difference. A dense similarity matrix of 200k items would need
200k^2 x 4 bytes = 160 GB.

A second, small comparison (default 8k items, same process family) runs exact and sparse mode on
the same data and prints the time ratio and the objective ratio f(sparse) / f(exact), so the
approximation's price is visible.

    python benchmarks/sparse_facility_location_200k.py                 # 200k x 384, k = 100
    python benchmarks/sparse_facility_location_200k.py --n 1000000 --dim 128
"""

from __future__ import annotations

import argparse
import json
import resource
import subprocess
import sys
import time
from typing import Any


def synthetic(n: int, dim: int, n_labelled: int, clusters: int, seed: int) -> tuple[Any, Any]:
    """Unit-norm rows drawn around ``clusters`` random centres (embeddings of topical text look like this)."""
    import numpy as np

    rng = np.random.default_rng(seed)
    centres = rng.standard_normal((clusters, dim)).astype(np.float32)
    spread = rng.uniform(0.3, 1.2, size=clusters).astype(np.float32)

    def draw(count: int) -> Any:
        out = np.empty((count, dim), dtype=np.float32)
        step = 65_536
        for start in range(0, count, step):
            m = min(step, count - start)
            which = rng.integers(0, clusters, size=m)
            block = centres[which] + spread[which, None] * rng.standard_normal((m, dim), dtype=np.float32)
            out[start : start + m] = block / np.linalg.norm(block, axis=1, keepdims=True)
        return out

    return draw(n), draw(n_labelled)


def child(args: argparse.Namespace) -> dict[str, Any]:
    """One measurement (run in its own process): build the data, optionally select, report time and RSS."""
    started = time.perf_counter()
    pool, labelled = synthetic(args.n, args.dim, args.labelled, args.clusters, args.seed)
    data_seconds = time.perf_counter() - started
    out: dict[str, Any] = {"n": args.n, "dim": args.dim, "data_seconds": round(data_seconds, 2)}
    if args.mode != "none":
        from atgen_facility_location.config import FacilityLocationConfig
        from atgen_facility_location.selection import facility_location_value, select_facility_location

        config = FacilityLocationConfig(mode=args.mode, n_neighbors=args.neighbors, knn_backend=args.knn_backend)
        started, cpu = time.perf_counter(), time.process_time()
        result = select_facility_location(pool, labelled, args.k, config)
        out["select_seconds"] = round(time.perf_counter() - started, 2)
        out["select_cpu_seconds"] = round(time.process_time() - cpu, 2)
        out["knn"] = result.knn
        out["picked"] = len(result.indices)
        out["greedy_picks"] = result.n_greedy
        out["evaluations"] = result.evaluations
        if args.value:
            out["value"] = facility_location_value(pool, list(result.indices), labelled)
    out["peak_rss_mb"] = round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1)
    return out


def run_child(argv: list[str]) -> dict[str, Any]:
    proc = subprocess.run([sys.executable, __file__, "--child", *argv], capture_output=True, text=True, check=False)
    if proc.returncode != 0:
        raise SystemExit(f"child {' '.join(argv)} failed:\n{proc.stderr[-3000:]}")
    result: dict[str, Any] = json.loads(proc.stdout.strip().splitlines()[-1])
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--n", type=int, default=200_000, help="Pool size of the large run.")
    parser.add_argument("--dim", type=int, default=384, help="Embedding width (all-MiniLM-L6-v2: 384).")
    parser.add_argument("--k", type=int, default=100, help="Batch size to select.")
    parser.add_argument("--labelled", type=int, default=1_000, help="Labelled set size.")
    parser.add_argument("--clusters", type=int, default=500, help="Centres of the synthetic data.")
    parser.add_argument("--neighbors", type=int, default=20, help="n_neighbors of sparse mode.")
    parser.add_argument("--knn-backend", default="auto", choices=["auto", "numpy", "faiss"])
    parser.add_argument("--small", type=int, default=8_000, help="Pool size of the exact-vs-sparse comparison.")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--mode", default="sparse", help=argparse.SUPPRESS)
    parser.add_argument("--value", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        print(json.dumps(child(args)))
        return
    try:
        import atgen_facility_location.selection  # noqa: F401
    except ImportError as exc:
        raise SystemExit(
            f"needs the facility-location plugin (pip install -e plugins/facility-location): {exc}"
        ) from exc

    common = [f"--dim={args.dim}", f"--k={args.k}", f"--labelled={args.labelled}", f"--clusters={args.clusters}",
              f"--neighbors={args.neighbors}", f"--knn-backend={args.knn_backend}", f"--seed={args.seed}"]

    small = [f"--n={args.small}", *common]
    exact = run_child([*small, "--mode=exact", "--value"])
    sparse_small = run_child([*small, "--mode=sparse", "--value"])
    print(f"exact vs sparse on {args.small} x {args.dim} (k={args.k}, labelled={args.labelled}):")
    print(f"  exact : {exact['select_seconds']:8.2f} s ({exact['select_cpu_seconds']:.2f} s CPU)  "
          f"f = {exact['value']:.2f}")
    print(f"  sparse: {sparse_small['select_seconds']:8.2f} s ({sparse_small['select_cpu_seconds']:.2f} s CPU)  "
          f"f = {sparse_small['value']:.2f}  "
          f"(knn {sparse_small['knn']}, n_neighbors {args.neighbors})")
    print(f"  time ratio exact/sparse = {exact['select_seconds'] / max(sparse_small['select_seconds'], 1e-9):.2f}x, "
          f"objective ratio sparse/exact = {sparse_small['value'] / exact['value']:.5f}")

    large = [f"--n={args.n}", *common]
    base = run_child([*large, "--mode=none"])
    sparse = run_child([*large, "--mode=sparse"])
    dense_gb = args.n * args.n * 4 / 1e9
    data_mb = args.n * args.dim * 4 / 2**20
    print(f"sparse facility location on {args.n} x {args.dim} synthetic embeddings (k={args.k}, "
          f"labelled={args.labelled}, n_neighbors={args.neighbors}, knn {sparse['knn']}):")
    print(f"  selection time : {sparse['select_seconds']:.1f} s wall, {sparse['select_cpu_seconds']:.1f} s CPU "
          f"({sparse['greedy_picks']} greedy picks, {sparse['evaluations']} gain evaluations)")
    added = sparse["peak_rss_mb"] - base["peak_rss_mb"]
    print(f"  peak RSS       : {sparse['peak_rss_mb']:.0f} MB (data only: {base['peak_rss_mb']:.0f} MB, "
          f"of which the pool matrix {data_mb:.0f} MB; selection adds {added:.0f} MB)")
    print(f"  a dense {args.n} x {args.n} float32 similarity matrix would need {dense_gb:.0f} GB")


if __name__ == "__main__":
    main()
