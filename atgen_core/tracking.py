"""The loop's one door to experiment trackers (the spec's ``tracking`` list).

``RunTracking`` builds the spec's trackers, starts them (handing each the id it returned the last time
this run was started, kept in the run store's meta table), sends them the spec as params once, every
evaluated round's values with ``step`` = number of labels, and the run's artifacts at the end. Every
call is guarded: a tracker that raises is logged as a warning and the run goes on. What was sent is
recorded in the store per tracker, so a resumed run sends the rounds a crash kept from a tracker
(and never sends a round twice). A ``buffered`` tracker (its library writes in the background, so a
``kill -9`` loses what it had not written) has its rounds recorded only when ``finish`` returns: after
a hard kill, the rounds since its last clean finish are sent again.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from atgen_core.rundir import stored_adapter_path
from atgen_core.tracker import TrackedRun, Tracker

if TYPE_CHECKING:
    from atgen_core.loop import Experiment
    from atgen_core.store import RunStore

__all__ = ["RunTracking", "flatten_params", "latest_model", "round_values"]

log = logging.getLogger("atgen")

_MAX_PARAM = 500  # long values (lists of rows, ...) are cut: trackers limit parameter lengths


def flatten_params(data: Mapping[str, Any], prefix: str = "") -> dict[str, str]:
    """A nested spec as dotted keys with string values (``loop.query_size`` -> ``"4"``)."""
    out: dict[str, str] = {}
    for key, value in data.items():
        name = f"{prefix}.{key}" if prefix else str(key)
        if isinstance(value, Mapping) and value:
            out.update(flatten_params(value, name))
        elif isinstance(value, list) and value and all(isinstance(v, Mapping) for v in value):
            for i, item in enumerate(value):
                out.update(flatten_params(item, f"{name}.{i}"))
        else:
            text = value if isinstance(value, str) else json.dumps(value, sort_keys=True, default=str)
            out[name] = text if len(text) <= _MAX_PARAM else text[: _MAX_PARAM - 3] + "..."
    return out


def latest_model(store: RunStore, run_dir: Path) -> tuple[int, Path] | None:
    """The round and folder of the latest trained model (adapter) that still exists, else None."""
    for round_ in sorted({r for r, _, _ in store.metrics()}, reverse=True):
        info = store.step_done(round_, "train") if round_ >= 0 else None
        path = stored_adapter_path(run_dir, info.get("adapter")) if info else None
        if path is not None and path.is_dir():
            return round_, path
    return None


def round_values(store: RunStore, round_: int, values: Mapping[str, float], n_labels: int) -> dict[str, float]:
    """A round's metric values plus labels, money spent so far, step timings and the training loss."""
    out = {k: float(v) for k, v in values.items()}
    out["labels"] = float(n_labels)
    out["round"] = float(round_)
    out["money_spent"] = float(sum(a["cost"] for a in store.attempts() if a["round"] <= round_))
    for r, step, seconds in store.timings():
        if r == round_:
            out[f"time_{step}_s"] = float(seconds)
    train = store.step_done(round_, "train") if round_ >= 0 else None
    if train and isinstance(train.get("loss"), (int, float)):
        out["train_loss"] = float(train["loss"])
    return out


class RunTracking:
    """The trackers of one run, each call guarded; a no-op when the spec lists none."""

    def __init__(self, trackers: Sequence[Tracker], store: RunStore, run: TrackedRun) -> None:
        self.store = store
        self.run = run
        self._trackers = list(trackers)
        self._started: list[Tracker] = []
        self._buffered: dict[str, set[int]] = {}  # rounds a buffered tracker holds but has not yet made durable

    @classmethod
    def for_experiment(cls, experiment: Experiment) -> RunTracking:
        """Build and start the trackers of ``experiment``'s spec (a tracker that cannot be built only warns)."""
        trackers: list[Tracker] = []
        for ref in experiment.resolved.tracking:
            try:
                built = ref.build()
            except Exception as exc:
                log.warning("tracker %s could not be created (%s: %s); the run goes on without it",
                            ref.name, type(exc).__name__, exc)
                continue
            assert isinstance(built, Tracker)
            trackers.append(built)
        spec = json.loads(experiment.store.get_meta("spec") or "{}")
        from atgen_core import __version__

        tags = {
            "atgen.strategy": experiment.strategy.name, "atgen.annotator": experiment.annotator.name,
            "atgen.trainer": experiment.trainer.name, "atgen.model": experiment.spec.model.path,
            "atgen.version": __version__, "atgen.run_dir": str(experiment.run_dir),
        }
        key = f"{experiment.run_dir.resolve()}@{experiment.store.get_meta('created') or ''}"
        run = TrackedRun(experiment.spec.name, experiment.run_dir, key, spec, tags)
        tracking = cls(trackers, experiment.store, run)
        tracking.start()
        return tracking

    def _call(self, tracker: Tracker, what: str, *args: Any) -> tuple[bool, Any]:
        try:
            return True, getattr(tracker, what)(*args)
        except Exception as exc:
            log.warning("tracker %s: %s failed (%s: %s); the run goes on", tracker.name, what,
                        type(exc).__name__, exc)
            return False, None

    def _meta_key(self, tracker: Tracker, what: str) -> str:
        return f"tracking.{tracker.name}.{what}"

    def start(self) -> None:
        """Start every tracker, resuming the run it returned before; send the params once."""
        for tracker in self._trackers:
            key = self._meta_key(tracker, "id")
            resumed = self.store.get_meta(key)
            ok, new_id = self._call(tracker, "start", self.run, resumed)
            if not ok:
                continue
            self._started.append(tracker)
            if new_id is not None and new_id != resumed:
                self.store.set_meta(key, str(new_id))
            params_key = self._meta_key(tracker, "params")
            if self.store.get_meta(params_key) is None:
                ok, _ = self._call(tracker, "log_params", flatten_params(self.run.spec))
                if ok:
                    self.store.set_meta(params_key, "sent")
        self.sync()

    def sync(self) -> None:
        """Send every evaluated round that a started tracker has not received yet."""
        if not self._started:
            return
        rows = self.store.metrics()
        for tracker in self._started:
            key = self._meta_key(tracker, "rounds")
            sent = set(json.loads(self.store.get_meta(key) or "[]"))
            held = self._buffered.setdefault(tracker.name, set())
            for round_, n_labels, values in rows:
                if round_ in sent or round_ in held:
                    continue
                ok, _ = self._call(tracker, "log_metrics", round_values(self.store, round_, values, n_labels), n_labels)
                if not ok:
                    break  # try again at the next sync, in round order
                if tracker.buffered:
                    held.add(round_)  # durable only once finish returns: a kill -9 before that re-sends it
                else:
                    sent.add(round_)
                    self.store.set_meta(key, json.dumps(sorted(sent)))

    def finish(self, status: str, artifacts: Iterable[Path] = ()) -> None:
        """Send what is left and the artifacts that exist, then close every tracker. Never raises."""
        try:
            self.sync()
            files = [Path(p) for p in artifacts if Path(p).is_file()]
            model = latest_model(self.store, self.run.run_dir)
            for tracker in self._started:
                for path in files:
                    self._call(tracker, "log_artifact", path)
                if model is not None:
                    self._call(tracker, "log_model", model[1], model[0])
                ok, _ = self._call(tracker, "finish", status)
                held = self._buffered.pop(tracker.name, set())
                if ok and held:
                    key = self._meta_key(tracker, "rounds")
                    sent = set(json.loads(self.store.get_meta(key) or "[]")) | held
                    self.store.set_meta(key, json.dumps(sorted(sent)))
        except Exception as exc:  # the store itself failing must not hide the run's own outcome
            log.warning("tracking could not finish (%s: %s)", type(exc).__name__, exc)
        for tracker in self._trackers:
            self._call(tracker, "close")
