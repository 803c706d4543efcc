"""The one-line verdict at the end of a run: how its strategy compares with random, where that is known.

One run cannot say whether its strategy beats random: the difference between two single runs is mostly
seed noise. What can be known comes from a *reference*: a JSON file holding, for the same task and
spec, the metric of several seeds of ``random`` and of other strategies at each label count (written by
:func:`write_reference` from a benchmark directory, e.g. ``docs/reference/quickstart/reference.json``). A run
whose spec names one (``"reference": "file.json"``) ends with a sentence built from those numbers: the
paired difference of the run's strategy against random at the run's final label count over the
reference seeds, its 95% t-interval, and whether that interval excludes zero. Without a reference the
verdict says how to measure it.

Reference file format::

    {"metric": "rougeL", "source": "...", "curves": {"random": {"16": [0.41, 0.44, ...], ...}, ...}}

where each list holds one value per seed, in the same seed order for every strategy.
"""

from __future__ import annotations

import json
import math
import statistics
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

__all__ = ["paired_interval", "verdict", "write_reference"]

# Two-sided 95% quantiles of Student's t for 1..30 degrees of freedom.
_T95 = (
    12.706,
    4.303,
    3.182,
    2.776,
    2.571,
    2.447,
    2.365,
    2.306,
    2.262,
    2.228,
    2.201,
    2.179,
    2.160,
    2.145,
    2.131,
    2.120,
    2.110,
    2.101,
    2.093,
    2.086,
    2.080,
    2.074,
    2.069,
    2.064,
    2.060,
    2.056,
    2.052,
    2.048,
    2.045,
    2.042,
)


def paired_interval(a: Sequence[float], b: Sequence[float]) -> tuple[float, float, float]:
    """Mean of ``a - b`` (paired by seed) and its 95% t-interval (low, high); needs >= 2 pairs."""
    diffs = [x - y for x, y in zip(a, b)]
    if len(diffs) < 2:
        raise ValueError("a paired interval needs at least two seeds")
    mean = statistics.fmean(diffs)
    half = _T95[min(len(diffs) - 2, len(_T95) - 1)] * statistics.stdev(diffs) / math.sqrt(len(diffs))
    return mean, mean - half, mean + half


def _mean_sd(values: Sequence[float]) -> str:
    sd = statistics.stdev(values) if len(values) > 1 else 0.0
    return f"{statistics.fmean(values):.3f} ± {sd:.3f}"


def verdict(
    strategy: str, labels: int, value: float | None, reference: Mapping[str, Any] | None, source: str = ""
) -> str:
    """The verdict sentence for a run of ``strategy`` that reached ``value`` with ``labels`` labels."""
    if reference is None:
        return (
            f"Verdict: one run cannot tell whether {strategy} beats random (seed noise); compare them over "
            "several seeds with `atgen benchmark` (docs/benchmarks.md)."
        )
    metric = str(reference.get("metric", "?"))
    curves: Mapping[str, Mapping[str, Sequence[float]]] = reference.get("curves", {})
    random_curve = curves.get("random", {})
    here = f" This run: {value:.3f}." if value is not None else ""
    where = f" ({source})" if source else ""
    if strategy == "random":
        base = random_curve.get(str(labels))
        if not base:
            return f"Verdict: no reference value of random at {labels} labels{where}.{here}"
        return (
            f"Verdict: random is the baseline; at {labels} labels it scores {metric} {_mean_sd(base)} over "
            f"{len(base)} seeds{where}.{here}"
        )
    ours, base = curves.get(strategy, {}).get(str(labels)), random_curve.get(str(labels))
    if not ours or not base or len(ours) != len(base) or len(ours) < 2:
        return (
            f"Verdict: not known: the reference{where} has no paired seeds of {strategy} and random at "
            f"{labels} labels; measure it with `atgen benchmark`.{here}"
        )
    mean, low, high = paired_interval(ours, base)
    if low > 0:
        word = "better than random"
    elif high < 0:
        word = "worse than random"
    else:
        word = "not distinguishable from random (within seed noise)"
    return (
        f"Verdict: at {labels} labels {strategy} is {word} on this task: {metric} {_mean_sd(ours)} vs random "
        f"{_mean_sd(base)} over {len(ours)} seeds, paired difference {mean:+.3f} (95% CI [{low:+.3f}, "
        f"{high:+.3f}]){where}.{here}"
    )


def load_reference(path: Path) -> dict[str, Any] | None:
    """A reference file's content, or None when it is missing or unreadable (the verdict then says so)."""
    try:
        data = json.loads(Path(path).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    return data if isinstance(data, dict) and isinstance(data.get("curves"), dict) else None


def write_reference(bench_dir: Path, metric: str, out: Path) -> dict[str, Any]:
    """Collect ``metric`` per strategy, label count and seed from the finished runs under ``bench_dir``."""
    from atgen_core.store import DB_NAME, RunStore

    per: dict[str, dict[int, dict[int, float]]] = {}
    seeds: set[int] = set()
    for db in sorted(Path(bench_dir).rglob(DB_NAME)):
        store = RunStore(db.parent, create=False)
        try:
            if not (store.get_meta("status") or "").startswith("finished"):
                continue
            spec = json.loads(store.get_meta("spec") or "{}")
            label = store.get_meta("benchmark_label") or spec.get("strategy", {}).get("name", "?")
            seed = int(spec.get("seed", 0))
            seeds.add(seed)
            for _round, n_labels, values in store.metrics():
                if metric in values:
                    per.setdefault(label, {}).setdefault(n_labels, {})[seed] = float(values[metric])
        finally:
            store.close()
    order = sorted(seeds)
    curves = {
        label: {str(n): [by_seed[s] for s in order] for n, by_seed in sorted(points.items()) if set(by_seed) == seeds}
        for label, points in sorted(per.items())
    }
    data = {"metric": metric, "seeds": order, "source": str(bench_dir), "curves": curves}
    out.write_text(json.dumps(data, indent=1) + "\n", encoding="utf-8")
    return data
