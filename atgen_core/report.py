"""``atgen report``: learning curves, label savings against random, significance, cost and selection bias.

Input: run directories, or a benchmark directory (every run below it). Output: one PNG per metric
(mean and a band of one standard deviation over seeds), ``report.md``, ``report.html`` and
``summary.json`` holding every number shown.

Definitions:
- *AULC*: the area under the learning curve (metric against labels, trapezoids over the evaluated
  points from the first to the last label count) divided by that label range, i.e. the curve's mean
  level; computed per run, then averaged over seeds.
- *Labels to reach random*: the number of labels at which a strategy's mean curve first reaches
  random's final mean score (linear interpolation between evaluated points); the *savings ratio* is
  random's label count divided by that number (2.0 = the same quality with half the labels).
- *Paired test*: per seed, AULC(strategy) - AULC(random); an exact sign-flip permutation test over
  seeds (two-sided), and the paired t-test when scipy is installed.
- *Selection bias*: selected examples against the pool: mean input length in words, the total-variation
  distance between cluster histograms (k-means over hashed bag-of-words vectors), and coverage (mean over
  pool items of the best cosine similarity to a selected item).
"""

from __future__ import annotations

import html
import itertools
import json
import math
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from atgen_core.errors import AtgenError
from atgen_core.store import DB_NAME, RunStore

__all__ = ["RunRecord", "aulc", "build_report", "collect_runs", "labels_to_reach", "sign_flip_pvalue"]

BASELINE = "random"


@dataclass
class RunRecord:
    """What the report needs from one run directory."""

    path: Path
    label: str
    seed: int
    curve: list[tuple[int, dict[str, float]]]
    labels: int
    money: float
    step_seconds: dict[str, float]
    pool_inputs: list[str] = field(default_factory=list)
    selected_inputs: list[str] = field(default_factory=list)


def collect_runs(paths: Iterable[Path]) -> list[RunRecord]:
    """Read every run under ``paths`` (run directories or folders containing them)."""
    found: list[Path] = []
    for path in paths:
        path = Path(path)
        if (path / DB_NAME).exists():
            found.append(path)
        elif path.is_dir():
            found.extend(sorted(p.parent for p in path.rglob(DB_NAME)))
        else:
            raise AtgenError(f"{path} is neither a run directory nor a folder of runs")
    if not found:
        raise AtgenError("no run directories found (looked for atgen.sqlite files)")
    records = []
    for run_dir in found:
        store = RunStore(run_dir, create=False)
        try:
            spec = json.loads(store.get_meta("spec") or "{}")
            label = store.get_meta("benchmark_label") or spec.get("strategy", {}).get("name", "?")
            n_labels, money = store.spent()
            seconds: dict[str, float] = {}
            for _round, step, secs in store.timings():
                seconds[step] = seconds.get(step, 0.0) + secs
            pool = store.load_examples("pool")
            chosen = store.selected_ids()
            records.append(
                RunRecord(
                    path=run_dir, label=label, seed=int(spec.get("seed", 0)),
                    curve=[(n, vals) for _r, n, vals in store.metrics()], labels=n_labels, money=money,
                    step_seconds=seconds, pool_inputs=[e.input for e in pool],
                    selected_inputs=[e.input for e in pool if e.id in chosen],
                )
            )
        finally:
            store.close()
    return records


def aulc(points: Sequence[tuple[float, float]]) -> float:
    """Mean level of a piecewise-linear curve over its x range (the single value if one point)."""
    pts = sorted((x, y) for x, y in points if not math.isnan(y))
    if not pts:
        return math.nan
    if len(pts) == 1 or pts[-1][0] == pts[0][0]:
        return pts[-1][1]
    area = sum((x1 - x0) * (y0 + y1) / 2 for (x0, y0), (x1, y1) in itertools.pairwise(pts))
    return area / (pts[-1][0] - pts[0][0])


def labels_to_reach(points: Sequence[tuple[float, float]], target: float) -> float | None:
    """The first x at which the piecewise-linear curve reaches ``target`` (None if it never does)."""
    pts = sorted(points)
    for i, (x, y) in enumerate(pts):
        if y >= target:
            if i == 0:
                return x
            x0, y0 = pts[i - 1]
            return x0 + (target - y0) * (x - x0) / (y - y0)
    return None


def sign_flip_pvalue(differences: Sequence[float]) -> float:
    """Exact two-sided sign-flip permutation p-value of the mean of paired differences."""
    diffs = np.asarray([d for d in differences if not math.isnan(d)], dtype=float)
    if len(diffs) == 0:
        return math.nan
    observed = abs(diffs.mean())
    signs = np.array(list(itertools.product((1.0, -1.0), repeat=len(diffs))))
    means = np.abs((signs * diffs).mean(axis=1))
    return float((means >= observed - 1e-12).mean())


def _mean_curve(runs: Sequence[RunRecord], key: str) -> tuple[list[int], list[float], list[float]]:
    xs = sorted({n for r in runs for n, vals in r.curve if key in vals})
    means, stds = [], []
    for x in xs:
        values = [vals[key] for r in runs for n, vals in r.curve if n == x and key in vals]
        means.append(float(np.mean(values)))
        stds.append(float(np.std(values)) if len(values) > 1 else 0.0)
    return xs, means, stds


def _hashed_bow(texts: Sequence[str], dim: int = 256) -> np.ndarray:
    import zlib

    out = np.zeros((len(texts), dim), dtype=np.float32)
    for i, text in enumerate(texts):
        for token in re.findall(r"\w+", text.lower()):
            out[i, zlib.crc32(token.encode()) % dim] += 1.0
    norms = np.linalg.norm(out, axis=1, keepdims=True)
    return out / np.maximum(norms, 1e-12)


def _kmeans(x: np.ndarray, k: int, seed: int = 0, steps: int = 25) -> np.ndarray:
    rng = np.random.default_rng(seed)
    k = min(k, len(x))
    centres = x[rng.choice(len(x), size=k, replace=False)]
    assign = np.zeros(len(x), dtype=int)
    for _ in range(steps):
        assign = np.argmax(x @ centres.T, axis=1)
        for c in range(k):
            members = x[assign == c]
            if len(members):
                centres[c] = members.mean(axis=0)
    return assign


def selection_bias(run: RunRecord, clusters: int = 8) -> dict[str, float]:
    """How the selected set differs from the pool (length, cluster histogram distance, coverage)."""
    if not run.selected_inputs:
        return {}
    vectors = _hashed_bow(run.pool_inputs)
    assign = _kmeans(vectors, clusters)
    chosen = set(run.selected_inputs)
    mask = np.array([t in chosen for t in run.pool_inputs])
    k = int(assign.max()) + 1
    pool_hist = np.bincount(assign, minlength=k) / len(assign)
    sel_hist = np.bincount(assign[mask], minlength=k) / max(1, int(mask.sum()))
    coverage = float((vectors @ vectors[mask].T).max(axis=1).mean())
    words = [len(t.split()) for t in run.pool_inputs]
    return {
        "pool_mean_words": float(np.mean(words)),
        "selected_mean_words": float(np.mean([len(t.split()) for t in run.selected_inputs])),
        "cluster_tv_distance": float(0.5 * np.abs(pool_hist - sel_hist).sum()),
        "coverage": coverage,
    }


def _metric_keys(runs: Sequence[RunRecord]) -> list[str]:
    keys: list[str] = []
    for run in runs:
        for _, vals in run.curve:
            keys.extend(k for k in vals if k not in keys and not k.startswith("time_"))
    return keys


def build_report(paths: Iterable[Path], output: Path, *, metrics: Sequence[str] | None = None) -> dict[str, Any]:
    """Write the report files into ``output`` and return the summary (also saved as summary.json)."""
    runs = collect_runs(paths)
    output.mkdir(parents=True, exist_ok=True)
    by_label: dict[str, list[RunRecord]] = {}
    for run in runs:
        by_label.setdefault(run.label, []).append(run)
    keys = list(metrics) if metrics else _metric_keys(runs)
    summary: dict[str, Any] = {"runs": len(runs), "strategies": {}, "metrics": keys, "baseline": BASELINE}
    for label, group in sorted(by_label.items()):
        entry: dict[str, Any] = {
            "seeds": sorted(r.seed for r in group),
            "labels": float(np.mean([r.labels for r in group])),
            "money": float(np.mean([r.money for r in group])),
            "step_seconds": {
                step: float(np.mean([r.step_seconds.get(step, 0.0) for r in group]))
                for step in sorted({s for r in group for s in r.step_seconds})
            },
            "bias": _mean_dicts([selection_bias(r) for r in group]),
            "metrics": {},
        }
        for key in keys:
            xs, means, stds = _mean_curve(group, key)
            per_seed = {r.seed: aulc([(n, v[key]) for n, v in r.curve if key in v]) for r in group}
            entry["metrics"][key] = {
                "labels": xs, "mean": means, "std": stds,
                "final": means[-1] if means else math.nan,
                "aulc": float(np.nanmean(list(per_seed.values()))) if per_seed else math.nan,
                "aulc_per_seed": per_seed,
            }
        summary["strategies"][label] = entry
    if BASELINE in by_label:
        _compare_with_baseline(summary, keys)
    _plots(summary, keys, output)
    (output / "summary.json").write_text(json.dumps(summary, indent=2, default=_json_default), encoding="utf-8")
    markdown = _markdown(summary, keys)
    (output / "report.md").write_text(markdown, encoding="utf-8")
    (output / "report.html").write_text(_html(markdown, keys, output), encoding="utf-8")
    return summary


def _json_default(value: Any) -> Any:
    if isinstance(value, float) and math.isnan(value):
        return None
    return str(value)


def _mean_dicts(items: Sequence[Mapping[str, float]]) -> dict[str, float]:
    keys = {k for item in items for k in item}
    return {k: float(np.mean([i[k] for i in items if k in i])) for k in sorted(keys)}


def _compare_with_baseline(summary: dict[str, Any], keys: Sequence[str]) -> None:
    base = summary["strategies"][BASELINE]
    for label, entry in summary["strategies"].items():
        for key in keys:
            mine, ref = entry["metrics"].get(key), base["metrics"].get(key)
            if not mine or not ref or not ref["labels"]:
                continue
            target, n_random = ref["final"], ref["labels"][-1]
            # Savings only mean something when random's curve clearly ends above where it started
            # (usually the untrained model): by more than the spread of its final value over seeds.
            # Otherwise every strategy "reaches" random's final at once and the ratio is noise.
            noise = float(ref["std"][-1]) if ref.get("std") else 0.0
            improved = bool(ref["mean"]) and target - ref["mean"][0] > noise
            reach = labels_to_reach(list(zip(mine["labels"], mine["mean"])), target) if improved else None
            mine["random_improved"] = improved
            mine["labels_to_reach_random_final"] = reach
            mine["savings_ratio"] = (n_random / reach) if reach else None
            shared = sorted(set(mine["aulc_per_seed"]) & set(ref["aulc_per_seed"]))
            diffs = [mine["aulc_per_seed"][s] - ref["aulc_per_seed"][s] for s in shared]
            mine["aulc_diff_vs_random"] = float(np.mean(diffs)) if diffs else None
            mine["p_value_sign_flip"] = sign_flip_pvalue(diffs) if label != BASELINE and diffs else None
            mine["p_value_t_test"] = _t_test(diffs) if label != BASELINE else None


def _t_test(diffs: Sequence[float]) -> float | None:
    if len(diffs) < 2:
        return None
    try:
        from scipy import stats
    except ImportError:
        return None
    if np.allclose(diffs, diffs[0]):
        return None
    return float(stats.ttest_1samp(diffs, 0.0).pvalue)


def _plots(summary: Mapping[str, Any], keys: Sequence[str], output: Path) -> None:
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        return
    for key in keys:
        fig, ax = plt.subplots(figsize=(6.4, 4.2))
        for label, entry in summary["strategies"].items():
            curve = entry["metrics"].get(key)
            if not curve or not curve["labels"]:
                continue
            xs, mean, std = np.array(curve["labels"]), np.array(curve["mean"]), np.array(curve["std"])
            style: dict[str, Any] = {"linestyle": "--", "color": "black"} if label == BASELINE else {}
            ax.plot(xs, mean, marker="o", label=f"{label} (n={len(entry['seeds'])})", **style)
            ax.fill_between(xs, mean - std, mean + std, alpha=0.15, color=style.get("color"))
        ax.set_xlabel("labelled examples")
        ax.set_ylabel(key)
        ax.grid(alpha=0.3)
        ax.legend(fontsize=8)
        fig.tight_layout()
        fig.savefig(output / f"curve-{_slug(key)}.png", dpi=110)
        plt.close(fig)


def _slug(key: str) -> str:
    return re.sub(r"[^A-Za-z0-9_-]+", "_", key)


def _f(value: Any, digits: int = 4) -> str:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "–"
    if isinstance(value, float):
        return f"{value:.{digits}f}"
    return str(value)


def _markdown(summary: Mapping[str, Any], keys: Sequence[str]) -> str:
    lines = [f"# atgen report ({summary['runs']} runs)", ""]
    for key in keys:
        lines += [f"## {key}", "", f"![{key}](curve-{_slug(key)}.png)", "",
                  "| strategy | seeds | final | AULC | AULC − random | labels to reach random's final | "
                  "savings × | p (sign flip) | p (t-test) |",
                  "|---|---|---|---|---|---|---|---|---|"]
        for label, entry in summary["strategies"].items():
            m = entry["metrics"].get(key)
            if not m:
                continue
            lines.append(
                f"| {label} | {len(entry['seeds'])} | {_f(m['final'])} | {_f(m['aulc'])} | "
                f"{_f(m.get('aulc_diff_vs_random'))} | {_f(m.get('labels_to_reach_random_final'), 1)} | "
                f"{_f(m.get('savings_ratio'), 2)} | {_f(m.get('p_value_sign_flip'), 3)} | "
                f"{_f(m.get('p_value_t_test'), 3)} |"
            )
        base = summary["strategies"].get(BASELINE, {}).get("metrics", {}).get(key)
        if base and base.get("random_improved") is False:
            lines += ["", f"Random's final {key} ({_f(base['final'])}) is not clearly above its first point "
                      f"({_f(base['mean'][0])} at {base['labels'][0]} labels; clearly = by more than the "
                      "standard deviation of its final value over seeds): the model did not improve with "
                      "random labels, so labels-to-reach and savings are undefined (–) for this metric."]
        lines.append("")
    steps = sorted({s for e in summary["strategies"].values() for s in e["step_seconds"]})
    lines += ["## Cost per run (mean over seeds)", "",
              "| strategy | labels | money | " + " | ".join(f"{s} s" for s in steps) + " |",
              "|---|---|---|" + "---|" * len(steps)]
    for label, entry in summary["strategies"].items():
        cells = " | ".join(_f(entry["step_seconds"].get(s), 1) for s in steps)
        lines.append(f"| {label} | {_f(entry['labels'], 1)} | {_f(entry['money'])} | {cells} |")
    lines += ["", "## Selection bias (selected set against the pool)", "",
              "| strategy | pool words | selected words | cluster TV distance | coverage |", "|---|---|---|---|---|"]
    for label, entry in summary["strategies"].items():
        b = entry["bias"]
        lines.append(f"| {label} | {_f(b.get('pool_mean_words'), 1)} | {_f(b.get('selected_mean_words'), 1)} | "
                     f"{_f(b.get('cluster_tv_distance'), 3)} | {_f(b.get('coverage'), 3)} |")
    lines += ["", "Definitions: see `atgen_core/report.py` (AULC = mean level of the learning curve over its label "
              "range; savings × = random's labels / labels this strategy needs to reach random's final score).", ""]
    return "\n".join(lines)


def _html(markdown: str, keys: Sequence[str], output: Path) -> str:
    body: list[str] = []
    table: list[str] = []

    def flush() -> None:
        if table:
            rows = [r for r in table if not set(r.replace("|", "").strip()) <= {"-"}]
            cells = [[html.escape(c.strip()) for c in r.strip().strip("|").split("|")] for r in rows]
            head = "".join(f"<th>{c}</th>" for c in cells[0])
            rest = "".join("<tr>" + "".join(f"<td>{c}</td>" for c in row) + "</tr>" for row in cells[1:])
            body.append(f"<table><tr>{head}</tr>{rest}</table>")
            table.clear()

    for line in markdown.splitlines():
        if line.startswith("|"):
            table.append(line)
            continue
        flush()
        if line.startswith("# "):
            body.append(f"<h1>{html.escape(line[2:])}</h1>")
        elif line.startswith("## "):
            body.append(f"<h2>{html.escape(line[3:])}</h2>")
        elif line.startswith("!["):
            src = line[line.index("(") + 1: -1]
            if (output / src).exists():
                body.append(f'<img src="{html.escape(src)}" alt="learning curve">')
        elif line.strip():
            body.append(f"<p>{html.escape(line)}</p>")
    flush()
    style = ("body{font-family:sans-serif;max-width:60em;margin:2em auto}table{border-collapse:collapse}"
             "td,th{border:1px solid #ccc;padding:2px 6px;text-align:right}img{max-width:100%}")
    return f"<!doctype html><meta charset='utf-8'><title>atgen report</title><style>{style}</style>" + "".join(body)
