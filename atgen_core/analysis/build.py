"""``build_report``: read the runs, compare every strategy with random, write the report files."""

from __future__ import annotations

import importlib.util
import json
from collections.abc import Iterable, Sequence
from dataclasses import asdict
from pathlib import Path
from typing import Any

from atgen_core.analysis.bias import GeometryCache, picked_unlike_random, selection_bias, sklearn_available
from atgen_core.analysis.cost import cost_table
from atgen_core.analysis.curves import SeedCurves, metric_keys, seed_curves
from atgen_core.analysis.figures import plot_curves
from atgen_core.analysis.render import json_safe, render_markdown, write_html
from atgen_core.analysis.runs import RunRecord, collect_runs, split_unfinished, warn_skipped
from atgen_core.analysis.savings import BOOTSTRAP_SAMPLES, Comparison, compare
from atgen_core.analysis.verdict import strategy_verdict, task_verdict
from atgen_core.errors import AtgenError

__all__ = ["BASELINE", "build_report", "primary_metric"]

BASELINE = "random"
PREFERRED_METRICS = ("rougeL", "rouge_l", "accuracy")
"""The verdict's metric when none is chosen: the first of these that the runs report, else the first key."""


def primary_metric(keys: Sequence[str], chosen: Sequence[str] | None) -> str:
    """The metric the headline verdict is about."""
    if chosen:
        return chosen[0]
    return next((k for k in PREFERRED_METRICS if k in keys), keys[0])


def _metric_entry(curves: SeedCurves) -> dict[str, Any]:
    mean, sd = curves.mean.tolist(), curves.sd.tolist()
    per_seed = curves.aulc_per_seed()
    return {
        "labels": curves.xs,
        "mean": mean,
        "sd": sd,
        "final": mean[-1] if mean else float("nan"),
        "aulc": float(sum(per_seed.values()) / len(per_seed)) if per_seed else float("nan"),
        "aulc_per_seed": per_seed,
    }


def _strategy_entry(runs: Sequence[RunRecord], keys: Sequence[str], cache: GeometryCache) -> dict[str, Any]:
    biases = [selection_bias(r, cache) for r in runs]
    names = sorted({k for b in biases for k in b})
    return {
        "seeds": sorted({r.seed for r in runs}),
        "runs": [str(r.path) for r in runs],
        "bias": {k: sum(b[k] for b in biases if k in b) / sum(1 for b in biases if k in b) for k in names},
        "metrics": {key: _metric_entry(seed_curves(runs, key)) for key in keys},
    }


def _comparisons(
    groups: dict[str, list[RunRecord]], keys: Sequence[str], seed: int
) -> dict[str, dict[str, Comparison]]:
    """comparisons[metric][strategy] against the baseline (empty without a baseline)."""
    if BASELINE not in groups:
        return {key: {} for key in keys}
    out: dict[str, dict[str, Comparison]] = {}
    for key in keys:
        ref = seed_curves(groups[BASELINE], key)
        out[key] = {
            label: compare(seed_curves(runs, key), ref, seed=seed)
            for label, runs in groups.items()
            if label != BASELINE
        }
    return out


def _notes(figures: bool) -> list[str]:
    notes = []
    if not sklearn_available():
        notes.append(
            "scikit-learn is not installed: the cluster TV distance and coverage columns are empty "
            "(pip install scikit-learn, or atgen-core[report])."
        )
    if importlib.util.find_spec("markdown") is None:
        notes.append(
            "the markdown package is not installed: only report.md is written, no report.html "
            "(pip install markdown, or atgen-core[report])."
        )
    if not figures:
        notes.append("matplotlib is not installed: no figures (pip install matplotlib, or atgen-core[report]).")
    return notes


def _select_runs(paths: Iterable[Path], include_unfinished: bool) -> tuple[list[RunRecord], list[dict[str, Any]]]:
    runs = collect_runs(paths)
    kept, skipped = split_unfinished(runs)
    warn_skipped(skipped, included=include_unfinished)
    if include_unfinished:
        kept = runs
    if not kept:
        raise AtgenError(f"all {len(runs)} runs are unfinished; wait for them, or pass --include-unfinished")
    return kept, [asdict(s) for s in skipped]


def _metric_choice(runs: Sequence[RunRecord], metrics: Sequence[str] | None) -> list[str]:
    found = metric_keys(runs)
    unknown = [k for k in metrics or () if k not in found]
    if unknown:
        raise AtgenError(f"metric {unknown[0]!r} is not in the runs; they report: {', '.join(found) or 'nothing'}")
    keys = list(metrics) if metrics else found
    if not keys:
        raise AtgenError("the runs hold no evaluated metric yet; nothing to report")
    return keys


def _strategies(
    groups: dict[str, list[RunRecord]], keys: Sequence[str], bootstrap_seed: int
) -> tuple[dict[str, Any], dict[str, dict[str, Comparison]]]:
    """Per-strategy summary entries (curves, bias, comparisons) and the comparison objects."""
    cache = GeometryCache()
    strategies = {label: _strategy_entry(group, keys, cache) for label, group in groups.items()}
    comparisons = _comparisons(groups, keys, bootstrap_seed)
    for key, per_label in comparisons.items():
        for label, cmp in per_label.items():
            entry = strategies[label]["metrics"][key]
            entry["vs_random"] = cmp.to_dict()
            entry.update(
                aulc_diff_vs_random=cmp.aulc_diff,
                p_value_sign_flip=cmp.aulc_p_sign_flip,
                p_value_t_test=cmp.aulc_p_t_test,
            )
    for label, group in groups.items():
        strategies[label]["picked_unlike_random"] = picked_unlike_random(group, groups.get(BASELINE, []), cache=cache)
    return strategies, comparisons


def build_report(
    paths: Iterable[Path],
    output: Path,
    *,
    metrics: Sequence[str] | None = None,
    include_unfinished: bool = False,
    bootstrap_seed: int = 0,
) -> dict[str, Any]:
    """Write report.md, report.html (with ``markdown``), summary.json and the figures into ``output``.

    Returns the summary (the same numbers as summary.json, with infinities kept).
    """
    runs, skipped = _select_runs(paths, include_unfinished)
    output.mkdir(parents=True, exist_ok=True)
    groups: dict[str, list[RunRecord]] = {}
    for run in sorted(runs, key=lambda r: (r.label != BASELINE, r.label, r.seed)):
        groups.setdefault(run.label, []).append(run)
    keys = _metric_choice(runs, metrics)
    strategies, comparisons = _strategies(groups, keys, bootstrap_seed)
    primary = primary_metric(keys, metrics)
    summary: dict[str, Any] = {
        "runs": len(runs),
        "skipped": skipped,
        "included_unfinished": include_unfinished,
        "baseline": BASELINE,
        "metrics": keys,
        "primary_metric": primary,
        "verdicts": {key: task_verdict(key, comparisons[key], BASELINE) for key in keys},
        "verdict_kinds": {label: strategy_verdict(label, cmp)[0] for label, cmp in comparisons[primary].items()},
        "sd": "sample standard deviation over seeds (ddof=1)",
        "bootstrap": {"samples": BOOTSTRAP_SAMPLES, "level": 0.95, "seed": bootstrap_seed, "paired": True},
        "strategies": strategies,
        "cost": cost_table(groups),
    }
    summary["verdict"] = summary["verdicts"][primary]
    summary["figures"] = plot_curves(summary, keys, output)
    summary["notes"] = _notes(summary["figures"])
    markdown_text = render_markdown(summary)
    (output / "report.md").write_text(markdown_text, encoding="utf-8")
    summary["html"] = write_html(markdown_text, output)
    if not summary["html"]:
        (output / "report.html").unlink(missing_ok=True)  # a stale page from an older report would mislead
    (output / "summary.json").write_text(json.dumps(json_safe(summary), indent=2), encoding="utf-8")
    return summary
