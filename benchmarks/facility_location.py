"""facility-location strategy vs apricot-select: selection time and objective on clustered embeddings.

For each pool size (default 5,000 and 20,000; d = 384, k = 100) on the same synthetic clustered
embeddings (100 clusters of Dirichlet sizes, a shared mean direction, noise), it times

- apricot's ``FacilityLocationSelection`` (lazy optimizer) on a precomputed kernel s = (1 + cos)/2,
  the same objective as ours (apricot's own metric='cosine' uses cos^2, a different objective). Its
  time includes building the float64 kernel (apricot needs float64) and the fit, which compiles
  apricot's numba kernels on every fit. Skipped when apricot is not installed.
- our exact mode (the same greedy, memory-bounded blocks) and our sparse kNN mode (defaults),

and prints the speed-up over apricot and the objective ratio f(ours) / f(apricot), all evaluated by
one float64 function. Without apricot, our exact mode is the baseline for the sparse ratios.

First, sparse mode on a large pool (default 200,000 x 384, k = 100) in fresh child processes, started
while this process is still small (a child inherits its parent's peak RSS): selection time and peak
RSS (``resource.getrusage``), next to the peak RSS of a child that only builds the data.

    pip install apricot-select      # the baseline (not installed by scripts/setup.sh)
    python benchmarks/facility_location.py
    python benchmarks/facility_location.py --sizes 5000 --large 0        # quick
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import time
from typing import Any

import numpy as np


def clustered(n: int, dim: int = 384, clusters: int = 100, seed: int = 0) -> np.ndarray:
    """Unit-free clustered embeddings: centre + 0.6 * unit noise + 0.3 * a shared mean direction."""
    rng = np.random.default_rng(seed)
    centres = rng.standard_normal((clusters, dim))
    centres /= np.linalg.norm(centres, axis=1, keepdims=True)
    mean = rng.standard_normal(dim)
    mean /= np.linalg.norm(mean)
    label = rng.choice(clusters, size=n, p=rng.dirichlet(np.full(clusters, 2.0)))
    out = np.empty((n, dim), dtype=np.float32)
    for start in range(0, n, 50_000):
        stop = min(n, start + 50_000)
        noise = rng.standard_normal((stop - start, dim))
        noise /= np.linalg.norm(noise, axis=1, keepdims=True)
        out[start:stop] = centres[label[start:stop]] + 0.6 * noise + 0.3 * mean
    return out


def apricot_select(x: np.ndarray, k: int) -> tuple[list[int], float, float]:
    """apricot on the (1 + cos)/2 kernel; returns (ranking, kernel seconds, fit seconds)."""
    from apricot import FacilityLocationSelection

    started = time.perf_counter()
    unit = x.astype(np.float64)
    unit /= np.linalg.norm(unit, axis=1, keepdims=True)
    kernel = np.empty((len(x), len(x)))
    # Row blocks: numpy's X @ X.T takes a dsyrk path that crashes at 20k rows with this OpenBLAS build.
    for start in range(0, len(x), 4096):
        kernel[start : start + 4096] = unit[start : start + 4096] @ unit.T
    kernel += 1.0
    kernel *= 0.5
    kernel_seconds = time.perf_counter() - started
    started = time.perf_counter()
    selector = FacilityLocationSelection(k, metric="precomputed", optimizer="lazy").fit(kernel)
    fit_seconds = time.perf_counter() - started
    return [int(i) for i in selector.ranking], kernel_seconds, fit_seconds


def ours(x: np.ndarray, k: int, **options: Any) -> tuple[list[int], float, Any]:
    from atgen_facility_location import FacilityLocationConfig, select_facility_location

    config = FacilityLocationConfig(**options)
    started = time.perf_counter()
    result = select_facility_location(x, None, k, config)
    return list(result.indices), time.perf_counter() - started, result


def compare(n: int, k: int, seed: int) -> None:
    from atgen_facility_location import facility_location_value

    x = clustered(n, seed=seed)
    print(f"\nN = {n}, d = {x.shape[1]}, k = {k}, similarity (1 + cos)/2")
    try:
        import apricot  # noqa: F401

        have_apricot = True
    except ImportError:
        have_apricot = False
        print("  apricot-select is not installed: our exact mode is the baseline")
    base_time = base_value = None
    base_sel: list[int] = []
    if have_apricot:
        base_sel, kernel_s, fit_s = apricot_select(x, k)
        base_time = kernel_s + fit_s
        base_value = facility_location_value(x, base_sel)
        print(
            f"  apricot lazy       {base_time:7.2f} s (kernel {kernel_s:.2f} s + fit {fit_s:.2f} s)  "
            f"f = {base_value:.3f}"
        )
    exact_sel, exact_s, exact_res = ours(x, k, mode="exact")
    exact_value = facility_location_value(x, exact_sel)
    if base_time is None:
        base_time, base_value, base_sel = exact_s, exact_value, exact_sel
    same = "same picks in the same order" if exact_sel == base_sel else (
        "same set" if set(exact_sel) == set(base_sel) else f"{len(set(exact_sel) & set(base_sel))}/{k} picks shared"
    )
    print(
        f"  ours exact         {exact_s:7.2f} s  f = {exact_value:.3f}  speed-up {base_time / exact_s:6.1f}x  "
        f"f ratio {exact_value / base_value:.6f}  ({same}; {exact_res.evaluations} gain evaluations)"
    )
    from atgen_facility_location.knn import faiss_available

    variants: list[tuple[str, dict[str, Any]]] = [("ours sparse", {"mode": "sparse"})]
    if faiss_available():
        variants.append(("ours sparse faiss", {"mode": "sparse", "knn_backend": "faiss"}))
    for label, options in variants:
        sel, seconds, res = ours(x, k, **options)
        value = facility_location_value(x, sel)
        print(
            f"  {label:<18} {seconds:7.2f} s  f = {value:.3f}  speed-up {base_time / seconds:6.1f}x  "
            f"f ratio {value / base_value:.6f}  (knn {res.knn}, n_neighbors 10)"
        )


def child(args: argparse.Namespace) -> None:
    """Build the large pool and (unless --data-only) run sparse selection; print JSON with peak RSS."""
    started = time.perf_counter()
    x = clustered(args.large, seed=args.seed)
    out: dict[str, Any] = {"data_seconds": round(time.perf_counter() - started, 2)}
    if not args.data_only:
        _, seconds, result = ours(x, args.k, mode="sparse", knn_backend=args.backend)
        out.update(seconds=round(seconds, 2), knn=result.knn, greedy=result.n_greedy, picked=len(result.indices))
    out["peak_rss_mb"] = round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1)
    print(json.dumps(out))


def run_child(args: argparse.Namespace, *extra: str) -> dict[str, Any]:
    argv = [sys.executable, __file__, "--child", "--large", str(args.large), "--k", str(args.k)]
    argv += ["--seed", str(args.seed), "--backend", args.backend, *extra]
    proc = subprocess.run(argv, capture_output=True, text=True, check=False, env=dict(os.environ))
    if proc.returncode != 0:
        raise SystemExit(f"child failed ({proc.returncode}):\n{proc.stderr}")
    return dict(json.loads(proc.stdout.strip().splitlines()[-1]))


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--sizes", type=int, nargs="*", default=[5000, 20000])
    parser.add_argument("--k", type=int, default=100)
    parser.add_argument("--large", type=int, default=200_000, help="large sparse run size (0 skips it)")
    parser.add_argument("--backend", default="numpy", help="knn_backend of the large run: numpy, faiss, auto")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--data-only", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        child(args)
        return 0
    print(f"load average at start: {os.getloadavg()[0]:.1f} on {os.cpu_count()} cores")
    if args.large:
        # First, while this process is small: Linux children inherit the parent's peak RSS at fork.
        print(f"\nsparse mode, N = {args.large}, d = 384, k = {args.k} (fresh processes)")
        data = run_child(args, "--data-only")
        run = run_child(args)
        print(
            f"  data only        peak RSS {data['peak_rss_mb']:8.1f} MB "
            f"(building the pool: {data['data_seconds']} s)"
        )
        print(
            f"  sparse selection peak RSS {run['peak_rss_mb']:8.1f} MB, selection {run['seconds']} s "
            f"(knn {run['knn']}, {run['greedy']} greedy picks, {run['picked']} ids); "
            f"selection's own memory about {run['peak_rss_mb'] - data['peak_rss_mb']:.0f} MB "
            f"(a dense float32 kernel would need {args.large**2 * 4 / 2**30:.0f} GiB)"
        )
    for n in args.sizes:
        compare(n, args.k, args.seed)
    print(f"\nload average at end: {os.getloadavg()[0]:.1f}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
