"""The round driver: select, annotate, train and evaluate round after round until a stop.

A run stops when its rounds are done, its budget is spent, its pool is exhausted or its metric
targets are reached. Each step is skipped when the store already holds it, so ``run`` resumes.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Callable
from dataclasses import dataclass

from atgen_core.loop.annotate import OVER_BUDGET, AnnotationRoom
from atgen_core.loop.evaluation import EvaluationRoom
from atgen_core.loop.round import BASE_ROUND, Round
from atgen_core.loop.run import Run
from atgen_core.loop.selection import Selector
from atgen_core.loop.training import TrainingRoom

__all__ = ["RoundDriver"]

log = logging.getLogger("atgen")


@dataclass
class RoundDriver:
    """Drives the rooms through the rounds of the spec's loop."""

    run: Run
    selector: Selector
    annotation: AnnotationRoom
    training: TrainingRoom
    evaluation: EvaluationRoom
    on_round: Callable[[int], None]
    """Called after each evaluated round (``BASE_ROUND`` for the untrained model)."""
    on_sync: Callable[[], None]
    """Called after each round's hook (trackers catch up)."""

    def run_rounds(self) -> str:
        """Run (or continue) every round; returns why the run stopped."""
        loop = self.run.spec.loop
        self.run.store.set_meta("status", "running")
        self.training.retrain_missing_latest()
        if loop.evaluate_untrained:
            self.evaluation.evaluate(Round(BASE_ROUND))
            self.on_round(BASE_ROUND)
        reason = "iterations done"
        for index in range(loop.rounds):
            stop = self._round(Round(index))
            if stop:
                reason = stop
                break
        self.run.store.set_meta("status", f"finished: {reason}")
        log.info("stopped: %s", reason)
        return reason

    def _round(self, round_: Round) -> str:
        """One round; returns a stop reason, or ``""`` to go on."""
        run, loop = self.run, self.run.spec.loop
        if run.labels_left() == 0 or run.money_left() == 0.0:
            return "budget spent"
        ids = self.selector.select(round_, loop.batch_size(round_.index))
        if not ids:
            return "pool exhausted"
        self.annotation.annotate(round_.index, ids)
        self.training.train(round_)
        values = self.evaluation.evaluate(round_)
        self.on_round(round_.index)
        self.on_sync()
        if loop.stop_when and all(values.get(key, -math.inf) >= t for key, t in loop.stop_when.items()):
            return "target reached: " + ", ".join(f"{k} >= {t}" for k, t in loop.stop_when.items())
        if any(a["error"] == OVER_BUDGET for a in run.store.attempts(round_.index)):
            return "budget spent"
        if not run.unlabelled():
            return "pool exhausted"
        return ""
