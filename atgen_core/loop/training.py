"""Training: each round trains on every label so far, starting from the model before it."""

from __future__ import annotations

import logging
import shutil
import sys
import time

from atgen_core.components import TrainContext, Trainer
from atgen_core.loop.models import ModelSlot
from atgen_core.loop.round import Round
from atgen_core.loop.run import Run
from atgen_core.rundir import relative_to_run
from atgen_core.types import TrainExample

__all__ = ["TrainingRoom"]

log = logging.getLogger("atgen")


class TrainingRoom:
    """Trains a round's adapter, stores where it is, and keeps the thread count honest."""

    def __init__(self, run: Run, trainer: Trainer, slot: ModelSlot) -> None:
        self.run = run
        self.trainer = trainer
        self.slot = slot
        self._threads_warned = False

    def train(self, round_: Round) -> None:
        """Train ``round_`` on every label so far (nothing when its training is stored)."""
        run = self.run
        if run.store.step_done(round_.index, "train") is not None:
            return
        labelled = run.labelled()
        examples = [
            TrainExample(id=e.id, prompt=e.prompt, target=text) for e, text in zip(labelled.examples, labelled.labels)
        ]
        output_dir = round_.adapter_dir(run.run_dir)
        if output_dir.exists():
            shutil.rmtree(output_dir)  # a half-written adapter from a killed run
        started = time.perf_counter()
        self.slot.drop()
        result = self.trainer.train(
            TrainContext(
                examples=examples,
                model=run.spec.model,
                output_dir=output_dir,
                iteration=round_.index,
                seed=run.spec.seed,
                previous_adapter=run.rounds.adapter(round_.model_before),
                cache_dir=run.cache_dir,
                progress=run.progress,
            )
        )
        seconds = time.perf_counter() - started
        self.slot.put(result.model, round_.index)
        self._check_threads()
        info = {
            "adapter": relative_to_run(run.run_dir, result.adapter_path),
            "loss": result.train_loss,
            "steps": result.steps,
            "examples": len(examples),
            **dict(result.extra),
        }
        run.store.mark_step(round_.index, "train", seconds, info)
        log.info(
            "round %d: trained on %d labels in %.1fs (loss %s)", round_.index, len(examples), seconds, result.train_loss
        )

    def retrain_missing_latest(self) -> None:
        """Forget the training of the latest trained round when its adapter folder is gone and no later
        label exists, so that it is retrained (training is deterministic: the same model comes back)."""
        run = self.run
        latest = run.rounds.trained_round(run.rounds_selected() - 1)
        if latest < 0:
            return
        path = run.rounds.stored_adapter(latest)
        later_labels = any(record.round > latest for record in run.store.labels())
        if path is not None and not path.exists() and not later_labels:
            log.warning("round %d: the trained model %s is missing; training it again", latest, path)
            run.store.forget_step(latest, "train")

    def _check_threads(self) -> None:
        """Record torch's thread count (results are bit-identical only at the same count); warn on change.

        torch is never imported here: the count is read only when a trainer has already imported it.
        """
        torch = sys.modules.get("torch")
        if torch is None or not hasattr(torch, "get_num_threads"):
            return
        threads = str(torch.get_num_threads())
        stored = self.run.store.get_meta("torch_threads")
        if stored is None:
            self.run.store.set_meta("torch_threads", threads)
        elif stored != threads and not self._threads_warned:
            self._threads_warned = True
            log.warning(
                "this run was trained with %s torch threads and now runs with %s: results may differ in "
                "the last digits from an uninterrupted run (set OMP_NUM_THREADS=%s to match)",
                stored,
                threads,
                stored,
            )
