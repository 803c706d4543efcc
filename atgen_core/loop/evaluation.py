"""Evaluation: the model after a round generates for the test set, and every metric scores it."""

from __future__ import annotations

import dataclasses
import logging
import time
from collections.abc import Mapping, Sequence

from atgen_core.components import Metric, MetricContext
from atgen_core.errors import AtgenError
from atgen_core.loop.exports import Exports
from atgen_core.loop.models import ModelSlot
from atgen_core.loop.round import Round
from atgen_core.loop.run import Run

__all__ = ["EvaluationRoom"]

log = logging.getLogger("atgen")


class EvaluationRoom:
    """Evaluates a round's model once, stores the values and generations, and exports them."""

    def __init__(self, run: Run, metrics: list[Metric], slot: ModelSlot, exports: Exports) -> None:
        self.run = run
        self.metrics = metrics
        self.slot = slot
        self.exports = exports

    def evaluate(self, round_: Round) -> dict[str, float]:
        """The metric values of ``round_`` (the stored ones when its evaluation is done)."""
        run, index = self.run, round_.index
        for r, _, stored in run.store.metrics():
            if r == index and run.store.step_done(index, "evaluate") is not None:
                return stored
        started = time.perf_counter()
        model = self.slot.for_round(run.rounds.plan(round_).evaluation)
        settings = run.spec.model.generation.with_seed(run.spec.seed)
        predictions = [g.text for g in model.generate([e.prompt for e in run.test], settings, run.progress)]
        ctx = MetricContext(
            ids=[e.id for e in run.test],
            predictions=predictions,
            references=[list(e.references) for e in run.test],
            sources=[e.input for e in run.test],
            run_dir=run.run_dir,
            progress=run.progress,
        )
        values: dict[str, float] = {}
        per_example: dict[str, Sequence[float]] = {}
        timings: dict[str, float] = {}
        for metric in self.metrics:
            result = metric.compute(dataclasses.replace(ctx, cache=run.store.cache(f"metric:{metric.name}")))
            values.update({k: float(v) for k, v in result.values.items()})
            per_example.update(result.per_example)
            timings[metric.name] = round(result.seconds, 3)
        n_labels = run.n_labels(index)
        run.store.save_evaluation(index, values, n_labels, zip(ctx.ids, predictions))
        run.store.mark_step(index, "evaluate", time.perf_counter() - started, {"metric_seconds": timings})
        self.exports.generations(round_, predictions, per_example)
        self.exports.metrics()
        shown = ", ".join(f"{k}={v:.4f}" for k, v in values.items())
        log.info("round %s: %d labels: %s", round_.label, n_labels, shown)
        return values

    def import_evaluation(self, round_: int, values: Mapping[str, float], generations: Mapping[str, str]) -> None:
        """Store an evaluation computed elsewhere for an identical model (see ``Experiment``)."""
        run = self.run
        if run.store.step_done(round_, "evaluate") is not None:
            return
        if set(generations) != {e.id for e in run.test}:
            raise AtgenError("import_evaluation: the generations do not cover this run's test set")
        run.store.save_evaluation(round_, values, run.n_labels(round_), [(e.id, generations[e.id]) for e in run.test])
        run.store.mark_step(round_, "evaluate", 0.0, {"imported": True})
        self.exports.metrics()
