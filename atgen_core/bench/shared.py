"""Work shared between the cells of one seed: the untrained evaluation and, when it is strategy-free, round 0.

With a warm start in iterative mode, round 0 is a seeded random batch: its selection, annotation,
training and evaluation do not depend on the strategy. The first cell of a seed to finish round 0
exports it to ``<bench>/shared/seed-<s>-<key>/``; the others import it instead of recomputing it. The
key is a hash of the cell spec without what cannot change round 0 (strategy, name, output folder,
embedder, scoring backend, and the loop fields of later rounds), so cells share only when round 0 is
really identical. A lock file per group makes concurrent cells (``--jobs``, or two ``atgen benchmark``
processes) wait for the one computing it instead of computing it twice.

Imported labels are recorded with cost 0 (they were paid for once, by the exporting cell): their
``meta`` holds ``imported_from`` and the ``source_cost``. With a money budget round 0 is not shared, so
that every strategy's budget pays for the same first batch.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import shutil
import tempfile
from pathlib import Path
from typing import TYPE_CHECKING, Any

from atgen_core.rundir import relative_to_run, stored_adapter_path
from atgen_core.spec import ExperimentSpec
from atgen_core.types import AnnotationResult

if TYPE_CHECKING:
    from atgen_core.loop import Experiment

__all__ = ["GroupLock", "SharedRound", "shares_round0"]

_LATER_ROUNDS = ("query_size", "iterations", "stop_when", "scoring_subsample")
_NOT_ROUND0 = ("$schema", "name", "output_dir", "strategy", "embedder", "scoring")


def shares_round0(spec: ExperimentSpec) -> bool:
    """True when round 0 does not depend on the strategy: a warm start in iterative mode (no money budget)."""
    loop = spec.loop
    return loop.start == "warm" and loop.mode == "iterative" and loop.budget.money is None


def share_key(spec: ExperimentSpec) -> str:
    """A hash of everything that determines the shared work of ``spec`` (round 0, or only the base model)."""
    data = spec.model_dump(mode="json", by_alias=True)
    for key in _NOT_ROUND0:
        data.pop(key, None)
    loop = data.pop("loop")
    if shares_round0(spec):
        kept = {k: v for k, v in loop.items() if k not in _LATER_ROUNDS}
        if kept.get("schedule"):
            kept["schedule"] = kept["schedule"][:1]
        data["loop"] = kept
    text = json.dumps(data, sort_keys=True, default=str)
    return ("r0-" if shares_round0(spec) else "base-") + hashlib.sha256(text.encode()).hexdigest()[:12]


class GroupLock:
    """A blocking ``flock`` on the group's lock file (released by the OS if the process dies)."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._fd: int | None = None

    def acquire(self, blocking: bool = True) -> bool:
        import fcntl

        self.path.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o644)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | (0 if blocking else fcntl.LOCK_NB))
        except BlockingIOError:
            os.close(fd)
            return False
        self._fd = fd
        return True

    def release(self) -> None:
        if self._fd is not None:
            import fcntl

            fcntl.flock(self._fd, fcntl.LOCK_UN)
            os.close(self._fd)
            self._fd = None


def _publish(folder: Path, fill: Any) -> None:
    """Build ``folder`` in a temporary sibling with ``fill(tmp)``, then rename it into place."""
    if folder.exists():
        return
    folder.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(dir=folder.parent, prefix=f".tmp-{folder.name}-"))
    try:
        fill(tmp)
        os.rename(tmp, folder)
    except OSError:
        if not folder.exists():
            raise
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


class SharedRound:
    """The shared folder of one group of cells (same seed, same key) and its lock."""

    def __init__(self, root: Path, spec: ExperimentSpec) -> None:
        self.round0 = shares_round0(spec)
        self.folder = root / "shared" / f"seed-{spec.seed}-{share_key(spec)}"
        self.lock = GroupLock(self.folder.with_name(self.folder.name + ".lock"))

    # -- export -----------------------------------------------------------------------------------

    def export(self, experiment: Experiment, round_: int) -> None:
        """Publish the base evaluation (``round_ == -1``) or round 0 of ``experiment`` if not yet published."""
        if round_ < 0:
            self._export_base(experiment)
        elif round_ == 0 and self.round0:
            self._export_round0(experiment)

    def _export_base(self, experiment: Experiment) -> None:
        store = experiment.store
        rows = [vals for r, _, vals in store.metrics() if r == -1]
        if not rows or store.step_done(-1, "evaluate") is None:
            return

        def fill(tmp: Path) -> None:
            payload = {"source": str(experiment.run_dir), "metrics": rows[0], "generations": store.generations(-1)}
            (tmp / "evaluation.json").write_text(json.dumps(payload), encoding="utf-8")
            _copy_if(experiment.run_dir / "generations" / "base.jsonl", tmp / "generations.jsonl")

        _publish(self.folder / "base", fill)

    def _export_round0(self, experiment: Experiment) -> None:
        store = experiment.store
        train = store.step_done(0, "train")
        rows = [(n, vals) for r, n, vals in store.metrics() if r == 0]
        if train is None or not rows or store.step_done(0, "evaluate") is None:
            return

        adapter = stored_adapter_path(experiment.run_dir, train.get("adapter"))  # stored relative to the run
        if adapter is not None and not adapter.exists():
            return  # a store carried over without its adapters (scripts/grid_archive.py): nothing to share
        round_dir = experiment.run_dir / "adapters" / "round-0"
        # Keep the trainer's layout (e.g. round-0/adapter/) when the adapter lies in the round's folder.
        copied = round_dir if adapter is not None and adapter.is_relative_to(round_dir) else adapter

        def fill(tmp: Path) -> None:
            payload = {
                "adapter_rel": str(adapter.relative_to(copied)) if adapter is not None and copied else None,
                "source": str(experiment.run_dir),
                "selection": store.selection(0),
                "attempts": store.attempts(0),
                "train": train,
                "n_labels": rows[0][0],
                "metrics": rows[0][1],
                "generations": store.generations(0),
                "seconds": {step: s for r, step, s in store.timings() if r == 0},
            }
            (tmp / "round0.json").write_text(json.dumps(payload), encoding="utf-8")
            if copied is not None and copied.is_dir():
                shutil.copytree(copied, tmp / "adapter")
            _copy_if(experiment.run_dir / "generations" / "round-0.jsonl", tmp / "generations.jsonl")

        _publish(self.folder / "round-0", fill)

    # -- import -----------------------------------------------------------------------------------

    def import_into(self, experiment: Experiment) -> list[str]:
        """Import what is published and not yet in ``experiment``; returns what was imported."""
        done = []
        if self._import_base(experiment):
            done.append("untrained evaluation")
        if self.round0 and self._import_round0(experiment):
            done.append("round 0")
        return done

    def _import_base(self, experiment: Experiment) -> bool:
        file = self.folder / "base" / "evaluation.json"
        if not experiment.spec.loop.evaluate_untrained or not file.is_file():
            return False
        if experiment.store.step_done(-1, "evaluate") is not None:
            return False
        payload = json.loads(file.read_text(encoding="utf-8"))
        experiment.import_evaluation(-1, payload["metrics"], payload["generations"])
        _copy_if(self.folder / "base" / "generations.jsonl", experiment.run_dir / "generations" / "base.jsonl")
        return True

    def _import_round0(self, experiment: Experiment) -> bool:
        file = self.folder / "round-0" / "round0.json"
        store = experiment.store
        if not file.is_file() or store.step_done(0, "evaluate") is not None:
            return False
        payload = json.loads(file.read_text(encoding="utf-8"))
        ids: list[str] = payload["selection"]
        own = store.selection(0)
        pool = {e.id for e in experiment.pool}
        if (own is not None and own != ids) or not set(ids) <= pool or store.step_done(0, "train") is not None:
            return False  # this cell computed its own round 0 already: keep it
        source = payload["source"]
        if own is None:
            store.save_selection(0, ids, "random-initial")
            store.mark_step(0, "select", 0.0, {"imported_from": source})
        attempted = store.attempted_ids(0)
        for a in payload["attempts"]:
            if a["id"] in attempted:
                continue
            meta = {"imported_from": source, "source_cost": a["cost"], "source_seconds": a["seconds"]}
            result = AnnotationResult(id=a["id"], status=a["status"], text=a["text"], cost=0.0, error=a["error"],
                                      meta=meta)
            store.record_result(0, result, a["annotator"])
        experiment.annotate()  # marks the annotation step and writes labels.jsonl
        seconds = payload.get("seconds", {})
        self._import_training(experiment, payload, source, float(seconds.get("train", 0.0)))
        experiment.import_evaluation(0, payload["metrics"], payload["generations"])
        _copy_if(self.folder / "round-0" / "generations.jsonl", experiment.run_dir / "generations" / "round-0.jsonl")
        return True

    def _import_training(self, experiment: Experiment, payload: dict[str, Any], source: str, seconds: float) -> None:
        """Copy the shared adapter into this run's ``adapters/round-0`` and record the training step."""
        info: dict[str, Any] = payload["train"]
        adapter: str | None = None
        if (self.folder / "round-0" / "adapter").is_dir() and payload.get("adapter_rel") is not None:
            target = experiment.run_dir / "adapters" / "round-0"
            if target.exists():
                shutil.rmtree(target)
            shutil.copytree(self.folder / "round-0" / "adapter", target)
            adapter = relative_to_run(experiment.run_dir, target / payload["adapter_rel"])
        experiment.store.mark_step(0, "train", 0.0, {**info, "adapter": adapter, "imported_from": source,
                                                     "source_seconds": seconds})


def _copy_if(src: Path, dst: Path) -> None:
    if src.is_file():
        dst.parent.mkdir(parents=True, exist_ok=True)
        with contextlib.suppress(OSError):
            shutil.copyfile(src, dst)
