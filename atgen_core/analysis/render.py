"""report.md from the summary, and report.html through the ``markdown`` package when it is installed."""

from __future__ import annotations

import math
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from atgen_core.analysis.figures import curve_file
from atgen_core.analysis.verdict import fmt_ci, fmt_num, fmt_p

__all__ = ["render_markdown", "write_html"]

HTML_STYLE = (
    "body{font-family:sans-serif;max-width:64em;margin:2em auto}table{border-collapse:collapse}"
    "td,th{border:1px solid #ccc;padding:2px 6px;text-align:right}img{max-width:100%}"
)

DEFINITIONS = """## Definitions

- **mean ± sd**, and the bands of the figures: mean over seeds ± the sample standard deviation over
  seeds (ddof=1).
- **Intervals [lo, hi]**: 95% percentile intervals of a paired bootstrap over seeds ({samples} resamples,
  fixed RNG seed): the seeds are resampled with replacement, the same resample for the strategy and
  random, the mean curves are recomputed and every quantity is derived again.
- **Labels to reach**: the first label count at which the strategy's mean curve reaches random's mean
  score at that budget (linear interpolation between evaluated points; "not reached" when it never does
  within the evaluated range). **Savings ×** = the labels random itself first reaches that score with /
  the strategy's labels to reach (2.0 = random's score with half the labels). On a rising random curve
  the first is the budget; where random's mean dipped below an earlier point, it is the earlier label
  count (shown as "random: n"), so a dip of random is not counted as a saving.
- **Within noise**: the 95% interval of the mean paired score difference (strategy − random, same seed)
  at that budget contains 0 (or there is one seed only: no noise estimate); savings are then not
  printed. Savings are undefined when random's mean at that budget is not above its first point by more
  than its sd (random labels did not help). Comparisons use the seeds both strategies have.
- **p**: paired tests over seeds of the score difference at a budget or of the AULC difference: the exact
  two-sided sign-flip permutation test (its smallest possible value is 2 / 2^seeds: 0.25 for 3 seeds,
  0.0625 for 5) and the paired t-test (needs scipy). The verdict uses the t-test when available, else
  the sign flip, at p < 0.05.
- **Detectable (80% power)**: (t[0.975] + t[0.8]) × sd of the per-seed differences / √seeds: the true
  difference a paired t-test finds 80% of the time with these seeds; smaller gains usually go unseen, so
  "within noise" does not mean "no better". **Seeds to detect it**: the seeds the observed difference
  would need for that, at the same spread.
- **AULC**: area under the learning curve divided by its label range (the curve's mean level), per seed.
- **Selection bias**: the items a strategy picked itself (the shared seeded first batch left out)
  against the pool: mean words, total-variation distance between cluster histograms (k-means, 8
  clusters, over hashed bag-of-words vectors) and coverage (mean over pool items of the best cosine
  similarity to a picked item).
"""


def _score_table(summary: Mapping[str, Any], key: str) -> list[str]:
    labels = [lab for lab, e in summary["strategies"].items() if key in e["metrics"]]
    xs = sorted({x for lab in labels for x in summary["strategies"][lab]["metrics"][key]["labels"]})
    lines = ["| labels | " + " | ".join(labels) + " |", "|---" * (len(labels) + 1) + "|"]
    for x in xs:
        cells = []
        for lab in labels:
            m = summary["strategies"][lab]["metrics"][key]
            j = m["labels"].index(x) if x in m["labels"] else None
            cells.append("–" if j is None else f"{fmt_num(m['mean'][j], 4)} ± {fmt_num(m['sd'][j], 4)}")
        lines.append(f"| {x} | " + " | ".join(cells) + " |")
    return lines


def _savings_cell(b: Mapping[str, Any]) -> str:
    if b["diff"] == 0 and tuple(b["diff_ci"]) == (0.0, 0.0):
        return "identical on every seed"
    if not b["random_improved"]:
        return "undefined (random did not improve)"
    if not b["beyond_noise"]:
        return "within noise"
    if b["savings"] is None:
        return "not reached" if b["savings_ci"][1] == 0 else f"not reached {fmt_ci(b['savings_ci'])}"
    return f"{fmt_num(b['savings'])} {fmt_ci(b['savings_ci'])}"


def _reach_cell(b: Mapping[str, Any]) -> str:
    if not b["random_improved"]:
        return "–"
    value = "not reached" if b["labels_to_reach"] is None else fmt_num(b["labels_to_reach"], 1)
    cell = f"{value} {fmt_ci(b['labels_to_reach_ci'], 1, open_high='not reached')}"
    own = b.get("random_labels_to_reach")
    if own is not None and own < b["labels"] - 0.05:
        cell += f" (random: {fmt_num(own, 1)})"
    return cell


def _power_cells(b: Mapping[str, Any]) -> str:
    """The smallest difference these seeds detect, and the seeds the observed difference would need."""
    detectable, needed = b.get("detectable"), b.get("seeds_for_diff")
    if detectable is None:
        return "– | –"
    return f"±{detectable:.4f} | {needed if needed is not None else '> 1000'}"


def _against_random(summary: Mapping[str, Any], key: str) -> list[str]:
    lines = [
        "| strategy | labels | random | strategy − random [95% CI] | labels to reach random [CI] | "
        "savings × [CI] | p (sign flip) | p (t-test) | detectable (80% power) | seeds to detect it |",
        "|---|---|---|---|---|---|---|---|---|---|",
    ]
    aulc = ["| strategy | AULC | AULC − random [95% CI] | p (sign flip) | p (t-test) |", "|---|---|---|---|---|"]
    for label, entry in summary["strategies"].items():
        m = entry["metrics"].get(key)
        if not m or "vs_random" not in m:
            continue
        cmp = m["vs_random"]
        for b in cmp["budgets"]:
            lines.append(
                f"| {label} | {b['labels']} | {fmt_num(b['random_mean'], 4)} | {b['diff']:+.4f} "
                f"{fmt_ci(b['diff_ci'], 4)} | {_reach_cell(b)} | {_savings_cell(b)} | "
                f"{fmt_p(b['p_sign_flip'])} | {fmt_p(b['p_t_test'])} | {_power_cells(b)} |"
            )
        aulc.append(
            f"| {label} | {fmt_num(m['aulc'], 4)} | {fmt_num(cmp['aulc_diff'], 4)} "
            f"{fmt_ci(cmp['aulc_diff_ci'], 4)} | {fmt_p(cmp['aulc_p_sign_flip'])} | "
            f"{fmt_p(cmp['aulc_p_t_test'])} |"
        )
    if len(lines) == 2:
        return ["No strategy to compare with random on this metric."]
    note = ("*detectable*: the smallest true difference a paired t-test (α 0.05) finds 80% of the time with "
            "these seeds and this seed-to-seed spread of the difference; *seeds to detect it*: how many seeds "
            "the observed difference would need for that, if the spread stays the same.")
    return [*lines, "", note, "", *aulc]


def _metric_section(summary: Mapping[str, Any], key: str) -> list[str]:
    lines = [f"## {key}", ""]
    if summary.get("figures"):
        lines += [f"![{key}]({curve_file(key)})", ""]
    lines += [f"Verdict: {summary['verdicts'][key]}", "", "### Score by label count (mean ± sd over seeds)", ""]
    lines += _score_table(summary, key)
    lines += ["", "### Against random", "", *_against_random(summary, key), ""]
    return lines


def _cost_section(summary: Mapping[str, Any]) -> list[str]:
    cost = summary["cost"]
    steps = cost["steps"]
    lines = [
        "## Cost per run (mean over seeds; work shared by the cells of a seed on its own row)",
        "",
        "| strategy | labels | money | " + " | ".join(f"{s} s" for s in steps) + " | total s |",
        "|---|---|---|" + "---|" * (len(steps) + 1),
    ]
    for label, entry in cost["strategies"].items():
        cells = " | ".join(fmt_num(entry["step_seconds"].get(s), 1) for s in steps)
        total = sum(entry["step_seconds"].values())
        lines.append(
            f"| {label} | {fmt_num(entry['labels'], 1)} | {fmt_num(entry['money'], 4)} | {cells} | {total:.1f} |"
        )
    shared = cost["shared"]
    cells = " | ".join(fmt_num(shared["step_seconds"].get(s), 1) for s in steps)
    lines.append(
        f"| shared, once per seed | – | {fmt_num(shared['money'], 4)} | {cells} | "
        f"{sum(shared['step_seconds'].values()):.1f} |"
    )
    lines += [
        "",
        f"Shared work ({', '.join(shared['what'])}) is done once per seed for the whole grid and "
        "is not counted in any strategy's row.",
        "",
    ]
    return lines


def _bias_row(label: str, b: Mapping[str, Any]) -> str:
    return (
        f"| {label} | {fmt_num(b.get('pool_mean_words'), 1)} | {fmt_num(b.get('selected_mean_words'), 1)} | "
        f"{fmt_num(b.get('cluster_tv_distance'), 3)} | {fmt_num(b.get('coverage'), 3)} |"
    )


_BIAS_HEAD = ["| strategy | pool words | picked words | cluster TV distance | coverage |", "|---|---|---|---|---|"]


def _bias_section(summary: Mapping[str, Any]) -> list[str]:
    lines = ["## Selection bias (picked items against the pool; the shared first batch left out)", "", *_BIAS_HEAD]
    lines += [_bias_row(label, e["bias"]) for label, e in summary["strategies"].items()]
    lines.append("")
    lines += [f"Note: {note}" for note in summary["notes"] if "scikit-learn" in note]
    return [*lines, ""]


def _clip(text: str, limit: int = 140) -> str:
    flat = " ".join(text.split()).replace("|", "/")
    return flat if len(flat) <= limit else flat[: limit - 1] + "…"


_KIND_WORDS = {"noise": "within noise", "ahead": "ahead, not significantly", "behind": "behind", "saves": "saves"}


def _why_section(summary: Mapping[str, Any]) -> list[str]:
    base = summary["baseline"]
    losers = [lab for lab, kind in summary["verdict_kinds"].items() if kind != "saves"]
    if not losers or base not in summary["strategies"]:
        return []
    lines = [f"## Why did it not beat {base}? ({summary['primary_metric']})", ""]
    for label in losers:
        entry = summary["strategies"][label]
        lines += [
            f"### {label} ({_KIND_WORDS[summary['verdict_kinds'][label]]})",
            "",
            *_BIAS_HEAD,
            _bias_row(label, entry["bias"]),
            _bias_row(base, summary["strategies"][base]["bias"]),
            "",
            f"Inputs it picked most unlike {base} (share of runs that picked them):",
            "",
        ]
        for ex in entry["picked_unlike_random"]:
            lines.append(
                f"- {ex['picked_runs']}/{ex['runs']} runs ({base}: {ex['random_picked_runs']}/"
                f'{ex["random_runs"]}), {ex["words"]} words: "{_clip(ex["input"])}"'
            )
        lines.append("")
    return lines


def _skipped_section(summary: Mapping[str, Any]) -> list[str]:
    if not summary["skipped"]:
        return []
    kept = summary["included_unfinished"]
    head = (
        "Unfinished runs included (--include-unfinished):"
        if kept
        else "Unfinished runs left out (`--include-unfinished` keeps them):"
    )
    return (
        [head, ""]
        + [f"- `{s['path']}` ({s['label']}, seed {s['seed']}): {s['reason']}" for s in summary["skipped"]]
        + [""]
    )


def render_markdown(summary: Mapping[str, Any]) -> str:
    """The whole report.md."""
    lines = [f"# atgen report ({summary['runs']} runs)", "", f"**Verdict**: {summary['verdict']}", ""]
    lines += _skipped_section(summary)
    lines += [
        "Tables show mean ± sample sd over seeds (ddof=1); intervals are 95% paired bootstrap intervals "
        "over seeds; see Definitions at the end.",
        "",
    ]
    lines += [f"Note: {note}" for note in summary["notes"] if "scikit-learn" not in note]
    for key in summary["metrics"]:
        lines += _metric_section(summary, key)
    lines += _cost_section(summary) + _bias_section(summary) + _why_section(summary)
    lines.append(DEFINITIONS.format(samples=summary["bootstrap"]["samples"]))
    return "\n".join(lines)


def write_html(markdown_text: str, output: Path) -> bool:
    """report.html through the ``markdown`` package; False (nothing written) when it is not installed."""
    try:
        import markdown
    except ImportError:
        return False
    body = markdown.markdown(markdown_text, extensions=["tables"])
    page = (
        f"<!doctype html><html><head><meta charset='utf-8'><title>atgen report</title>"
        f"<style>{HTML_STYLE}</style></head><body>{body}</body></html>"
    )
    (output / "report.html").write_text(page, encoding="utf-8")
    return True


def json_safe(value: Any) -> Any:
    """Summary data for JSON: NaN and infinity become null, tuples lists."""
    if isinstance(value, float):
        return None if math.isnan(value) or math.isinf(value) else value
    if isinstance(value, Mapping):
        return {str(k): json_safe(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [json_safe(v) for v in value]
    if isinstance(value, Path):
        return str(value)
    return value
