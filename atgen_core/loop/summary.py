"""What a run did: per-round metrics, labels and spend, and the verdict against the reference."""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from atgen_core.loop.round import Round
from atgen_core.loop.run import Run

__all__ = ["RunSummary", "summarise"]


@dataclass
class RunSummary:
    """What a finished (or stopped) run did."""

    run_dir: Path
    rounds: list[dict[str, Any]] = field(default_factory=list)
    stop_reason: str = ""
    labels: int = 0
    money: float = 0.0
    verdict: str = ""

    def table(self) -> str:
        """A plain-text table: one row per evaluated round."""
        if not self.rounds:
            return "(no evaluation yet)"
        keys: list[str] = []
        for row in self.rounds:
            for key in row["metrics"]:
                if key not in keys and not key.startswith("time_"):
                    keys.append(key)
        head = ["round", "labels", *keys, "train_s"]
        lines = [head]
        for row in self.rounds:
            values = [_fmt(row["metrics"].get(k)) for k in keys]
            train = row.get("train_seconds")
            lines.append(
                [Round(row["round"]).label, str(row["labels"]), *values, "-" if train is None else f"{train:.1f}"]
            )
        widths = [max(len(line[i]) for line in lines) for i in range(len(head))]
        return "\n".join("  ".join(cell.rjust(w) for cell, w in zip(line, widths)) for line in lines)


def _fmt(value: float | None) -> str:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "-"
    return f"{value:.4f}" if abs(value) < 10 else f"{value:.2f}"


def summarise(run: Run, strategy: str, reason: str = "") -> RunSummary:
    """Per-round metrics, labels and spend so far, with the verdict."""
    store = run.store
    n_labels, money = store.spent()
    train_seconds = {r: s for r, step, s in store.timings() if step == "train"}
    rounds = [
        {"round": r, "labels": n, "metrics": vals, "train_seconds": train_seconds.get(r)}
        for r, n, vals in store.metrics()
    ]
    summary = RunSummary(run.run_dir, rounds, reason or (store.get_meta("status") or ""), n_labels, money)
    summary.verdict = _verdict(run, strategy, rounds)
    return summary


def _verdict(run: Run, strategy: str, rounds: list[dict[str, Any]]) -> str:
    """How this run's strategy compares with random, from the spec's reference file (analysis.reference)."""
    from atgen_core.analysis.reference import load_reference, verdict

    reference, source = None, ""
    if run.spec.reference:
        path = Path(run.spec.reference).expanduser()
        if not path.is_absolute() and run.resolved.base_dir is not None:
            path = run.resolved.base_dir / path
        reference, source = load_reference(path), run.spec.reference
        if reference is None:
            return f"Verdict: the reference file {path} is missing or unreadable."
    labels = int(rounds[-1]["labels"]) if rounds else 0
    metrics: dict[str, float] = dict(rounds[-1]["metrics"]) if rounds else {}
    value = metrics.get(str(reference.get("metric"))) if reference else None
    return verdict(strategy, labels, value, reference, source)
