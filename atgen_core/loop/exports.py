"""Exports: the run's plain files, rewritten from the store after each step.

``labels.jsonl`` (every attempt), ``metrics.csv``, ``generations/<round>.jsonl`` and the learning curve
``learning_curve.png`` (when matplotlib is installed).
"""

from __future__ import annotations

import csv
import json
import logging
import math
from collections.abc import Mapping, Sequence

from atgen_core.atomic import atomic_open, atomic_write
from atgen_core.loop.round import Round
from atgen_core.loop.run import Run

__all__ = ["Exports"]

log = logging.getLogger("atgen")


class Exports:
    """Writes a run's exports into its directory (atomically: a reader never sees half a file)."""

    def __init__(self, run: Run) -> None:
        self.run = run

    def labels(self) -> None:
        """``labels.jsonl``: every annotation attempt with its input."""
        lines = []
        for attempt in self.run.store.attempts():
            example = self.run.by_id[attempt["id"]]
            lines.append(json.dumps({**attempt, "input": example.input}, ensure_ascii=False))
        atomic_write(self.run.run_dir / "labels.jsonl", "\n".join(lines) + ("\n" if lines else ""))

    def metrics(self) -> None:
        """``metrics.csv``: one row per evaluated round."""
        rows = self.run.store.metrics()
        keys = sorted({k for _, _, vals in rows for k in vals})
        with atomic_open(self.run.run_dir / "metrics.csv", newline="") as handle:
            writer = csv.writer(handle)
            writer.writerow(["round", "labels", *keys])
            for r, n, vals in rows:
                writer.writerow([r, n, *(vals.get(k, "") for k in keys)])

    def generations(
        self, round_: Round, predictions: Sequence[str], per_example: Mapping[str, Sequence[float]]
    ) -> None:
        """``generations/<round>.jsonl``: each test prediction with its references and scores."""
        lines = []
        for i, (example, prediction) in enumerate(zip(self.run.test, predictions)):
            scores = {k: float(v[i]) for k, v in per_example.items() if len(v) == len(predictions)}
            lines.append(
                json.dumps(
                    {
                        "id": example.id,
                        "prediction": prediction,
                        "references": list(example.references),
                        "scores": scores,
                    },
                    ensure_ascii=False,
                )
            )
        folder = self.run.run_dir / "generations"
        folder.mkdir(exist_ok=True)
        atomic_write(folder / f"{round_.file_stem}.jsonl", "\n".join(lines) + "\n")

    def curve(self, strategy: str) -> None:
        """``learning_curve.png``: each metric against the number of labels (two evaluations at least)."""
        rows = [(n, vals) for r, n, vals in self.run.store.metrics()]
        if len(rows) < 2:
            return
        try:
            import matplotlib

            matplotlib.use("Agg")
            import matplotlib.pyplot as plt
        except ImportError:
            log.info("matplotlib is not installed: no learning-curve plot (pip install atgen-core[plot])")
            return
        keys = [k for k in rows[0][1] if not k.startswith("time_")]
        fig, ax = plt.subplots(figsize=(6, 4))
        for key in keys:
            ax.plot([n for n, _ in rows], [vals.get(key, math.nan) for _, vals in rows], marker="o", label=key)
        ax.set_xlabel("labelled examples")
        ax.set_ylabel("metric")
        ax.set_title(f"{self.run.spec.name}: {strategy}")
        ax.grid(alpha=0.3)
        ax.legend()
        fig.tight_layout()
        fig.savefig(self.run.run_dir / "learning_curve.png", dpi=120)
        plt.close(fig)
