"""The active-learning loop, driven from the run store so that it can resume anywhere.

A run is a sequence of *rounds*. Round 0 selects the first batch (random for a warm start, the
strategy for a cold start); every later round selects ``query_size`` items with the strategy. Each
round then annotates its selection, trains on every label so far, and evaluates on the test set. The
untrained model is evaluated first (stored as round -1). Each step is committed to the store when it
finishes (each label as it arrives), and a step already in the store is never redone: a run killed at
any point and resumed ends in the same state as an uninterrupted one, and no annotator is asked twice
for the same item.

The work is split into private rooms (one job each); see ``docs/design.md`` for the picture.
"""

from __future__ import annotations

from atgen_core.loop.annotate import OVER_BUDGET
from atgen_core.loop.experiment import Experiment
from atgen_core.loop.round import BASE_ROUND
from atgen_core.loop.run import ComponentError
from atgen_core.loop.summary import RunSummary

__all__ = ["BASE_ROUND", "OVER_BUDGET", "ComponentError", "Experiment", "RunSummary"]
