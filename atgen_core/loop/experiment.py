"""``Experiment``: the public face of the loop, bound to a run directory; the work is in the rooms.

Data flows one way: spec -> data (``setup``) -> signals (``signals``, ``embeddings``, ``scoring``) ->
strategy (``selection``) -> annotator (``annotate``) -> store -> trainer (``training``) -> metrics
(``evaluation``) -> exports (``exports``); ``driver`` runs the rounds, ``round`` names the model of
each step.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

from atgen_core.data import LoadedData
from atgen_core.loop import setup
from atgen_core.loop.annotate import AnnotationRoom
from atgen_core.loop.driver import RoundDriver
from atgen_core.loop.evaluation import EvaluationRoom
from atgen_core.loop.exports import Exports
from atgen_core.loop.models import ModelSlot
from atgen_core.loop.round import Round
from atgen_core.loop.run import Parts, Run
from atgen_core.loop.scoring import ScoringRequests
from atgen_core.loop.selection import Selector
from atgen_core.loop.signals import SignalRoom
from atgen_core.loop.summary import RunSummary, summarise
from atgen_core.loop.training import TrainingRoom
from atgen_core.progress import make_progress
from atgen_core.spec import ExperimentSpec, ResolvedSpec
from atgen_core.store import RunLock, RunStore, release_unstarted
from atgen_core.tracking import RunTracking
from atgen_core.types import AnnotationResult, Example, LabelledView

if TYPE_CHECKING:
    from atgen_core.registry import Registry

__all__ = ["Experiment"]


class Experiment:
    """One active-learning experiment bound to its run directory.

    Use ``run()`` for the whole loop, or drive it step by step from a notebook: ``query()``,
    ``annotate()`` (or ``teach()`` with your own labels), ``train()``, ``evaluate()``.
    """

    def __init__(
        self,
        resolved: ResolvedSpec,
        run_dir: Path,
        *,
        progress: bool | None = None,
        cache_dir: Path | None = None,
        data: LoadedData | None = None,
    ) -> None:
        self.resolved = resolved
        self.spec = resolved.spec
        self.run_dir = Path(run_dir)
        self.progress = make_progress(progress)
        self.cache_dir = cache_dir
        self._lock = RunLock(self.run_dir)
        self._log_handler: logging.Handler | None = None
        self._parts: Parts | None = None
        claimed = not self.run_dir.exists()
        made = [p for p in self.run_dir.parents if not p.exists()]  # parents this run would create
        self._lock.acquire()
        try:
            self.store = RunStore(self.run_dir)
            fresh = not self.store.has_progress()
            claimed = claimed and fresh
            self._log_handler = setup.attach_log(self.run_dir)
            setup.check_or_store_spec(self.store, resolved, self.run_dir, fresh)
            self._parts = parts = Parts.build(resolved)
            self.pool, self.test = setup.load_examples(self.store, resolved, cache_dir, data, fresh)
        except BaseException:
            self.close()
            if claimed:
                release_unstarted(self.run_dir, made)
            raise
        self.strategy, self.annotator, self.trainer = parts.strategy, parts.annotator, parts.trainer
        self.metrics, self.embedder, self.scorer = parts.metrics, parts.embedder, parts.scorer
        self._build_rooms(parts)
        self.round_hook: Callable[[int], None] | None = None
        """Called by ``run()`` after each evaluated round (``BASE_ROUND`` for the untrained model)."""

    def _build_rooms(self, parts: Parts) -> None:
        run = self._run = Run(
            self.resolved, self.run_dir, self.store, self.pool, self.test, self.progress, self.cache_dir
        )
        slot = ModelSlot(run, parts.trainer)
        requests = ScoringRequests(run, parts.trainer, slot)
        signals = SignalRoom(run, requests, slot, parts.scorer, parts.embedder)
        self._exports = Exports(run)
        self._selector = Selector(run, parts.strategy, signals, slot)
        self._annotation = AnnotationRoom(run, parts.annotator, self._exports)
        self._training = TrainingRoom(run, parts.trainer, slot)
        self._evaluation = EvaluationRoom(run, parts.metrics, slot, self._exports)

    # -- construction -----------------------------------------------------------------------------

    @classmethod
    def from_spec(
        cls,
        spec: ExperimentSpec | Mapping[str, Any] | str | Path,
        *,
        registry: Registry | None = None,
        run_dir: Path | None = None,
        progress: bool | None = None,
        cache_dir: Path | None = None,
    ) -> Experiment:
        """Build an experiment from a spec object, a dict or a JSON file path.

        ``cache_dir`` holds what may be shared between runs (input embeddings); converted models live in
        the user's model cache.
        """
        checked, target = setup.check_new(spec, registry, run_dir, cache_dir)
        return cls(checked.resolved, target, progress=progress, cache_dir=cache_dir, data=checked.data)

    @classmethod
    def resume(cls, run_dir: Path, *, registry: Registry | None = None, progress: bool | None = None) -> Experiment:
        """Reopen a stored run with the spec it was started with."""
        checked = setup.check_stored(Path(run_dir), registry)
        return cls(checked.resolved, Path(run_dir), progress=progress, data=checked.data)

    def close(self) -> None:
        """Release components, the store and the run lock."""
        if self._parts is not None:
            self._parts.close()
        store = getattr(self, "store", None)
        if store is not None:
            store.close()
        if self._log_handler is not None:
            setup.detach_log(self._log_handler)
            self._log_handler = None
        self._lock.release()

    def __enter__(self) -> Experiment:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- views ------------------------------------------------------------------------------------

    def labelled(self) -> LabelledView:
        """The labelled set: examples and the label each received, in labelling order."""
        return self._run.labelled()

    def unlabelled(self) -> list[Example]:
        """Pool examples never selected so far (failed items are not offered again)."""
        return self._run.unlabelled()

    # -- steps ------------------------------------------------------------------------------------

    def query(self, k: int | None = None) -> list[str]:
        """Select the next batch (round ``n``), commit it and return its ids."""
        round_ = self._run.rounds_selected()
        if k is None:
            k = self.spec.loop.batch_size(round_) or self.spec.loop.query_size
        return self._selector.select(Round(round_), k)

    def annotate(self) -> list[AnnotationResult]:
        """Annotate the latest selection's items that have no result yet."""
        round_ = self._run.current_round()
        return self._annotation.annotate(round_, self.store.selection(round_) or [])

    def teach(self, labels: Mapping[str, str], annotator: str = "manual") -> None:
        """Store labels given directly (e.g. from a notebook) for items of the latest selection."""
        self._annotation.teach(self._run.current_round(), labels, annotator)

    def train(self) -> None:
        """Train on every label so far (the latest round)."""
        self._training.train(Round(self._run.current_round()))

    def evaluate(self) -> dict[str, float]:
        """Evaluate the latest trained model on the test set."""
        return self._evaluation.evaluate(Round(self._run.current_round()))

    def import_evaluation(self, round_: int, values: Mapping[str, float], generations: Mapping[str, str]) -> None:
        """Store an evaluation computed elsewhere for an identical model (e.g. the untrained model's, shared
        by every run of a benchmark with the same seed), so that this run does not recompute it."""
        self._evaluation.import_evaluation(round_, values, generations)

    # -- the loop ---------------------------------------------------------------------------------

    def run(self) -> RunSummary:
        """Run (or continue) the whole loop until an iteration, budget or metric stop."""
        tracking = RunTracking.for_experiment(self)
        driver = RoundDriver(
            self._run,
            self._selector,
            self._annotation,
            self._training,
            self._evaluation,
            on_round=self._round_done,
            on_sync=tracking.sync,
        )
        try:
            reason = driver.run_rounds()
            summary = self.summary(reason)
            self._exports.curve(self.strategy.name)
        except BaseException as exc:
            tracking.finish("interrupted" if isinstance(exc, KeyboardInterrupt) else "failed")
            raise
        tracking.finish("finished", [self.run_dir / "learning_curve.png", self.run_dir / "metrics.csv"])
        return summary

    def _round_done(self, round_: int) -> None:
        if self.round_hook is not None:
            self.round_hook(round_)

    def summary(self, reason: str = "") -> RunSummary:
        """Per-round metrics, labels and spend so far."""
        return summarise(self._run, self.strategy.name, reason)
