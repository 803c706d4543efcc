"""The active-learning loop, driven from the run store so that it can resume anywhere.

A run is a sequence of *rounds*. Round 0 selects the first batch (random for a warm start, the
strategy for a cold start); every later round selects ``query_size`` items with the strategy. Each
round then annotates its selection, trains on every label so far, and evaluates on the test set. The
untrained model is evaluated first (stored as round -1). Each step is committed to the store when it
finishes (each label as it arrives), and a step already in the store is never redone: a run killed at
any point and resumed ends in the same state as an uninterrupted one, and no annotator is asked twice
for the same item.
"""

from __future__ import annotations

import csv
import dataclasses
import hashlib
import json
import logging
import math
import shutil
import sys
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from atgen_core.annotation import RunAnnotationStore
from atgen_core.atomic import atomic_open, atomic_write
from atgen_core.components import (
    AnnotationContext,
    Annotator,
    Budget,
    DataContext,
    DataSource,
    EmbedContext,
    Embedder,
    EmbedderRecipe,
    Metric,
    MetricContext,
    ModelContext,
    ScoringBackend,
    ScoringRequest,
    SelectionContext,
    Strategy,
    TrainContext,
    Trainer,
)
from atgen_core.data import LoadedData, load_data, seeded_subset
from atgen_core.errors import AtgenError, SpecError, StoreError
from atgen_core.preflight import check_spec
from atgen_core.progress import make_progress
from atgen_core.rundir import canonical_spec as _canonical_spec
from atgen_core.rundir import other_spec_error, refuse_other_spec, relative_to_run, spec_changes, stored_adapter_path
from atgen_core.spec import ExperimentSpec, ResolvedSpec, load_spec_file, raw_run_dir
from atgen_core.store import RunLock, RunStore, release_unstarted, run_has_progress
from atgen_core.tracking import RunTracking
from atgen_core.types import (
    AnnotationItem,
    AnnotationResult,
    Embeddings,
    Example,
    Generation,
    LabelledView,
    ModelHandle,
    PoolView,
    Requirements,
    Signals,
    TrainExample,
)

if TYPE_CHECKING:
    from atgen_core.registry import Registry

__all__ = ["BASE_ROUND", "ComponentError", "Experiment", "RunSummary"]

log = logging.getLogger("atgen")

OVER_BUDGET = "over the money budget"

BASE_ROUND = -1
"""Round index under which the untrained model's evaluation is stored."""



class ComponentError(AtgenError):
    """A component broke its contract (e.g. a strategy returned positions instead of ids)."""


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
            name = "base" if row["round"] == BASE_ROUND else str(row["round"])
            values = [_fmt(row["metrics"].get(k)) for k in keys]
            train = row.get("train_seconds")
            lines.append([name, str(row["labels"]), *values, "-" if train is None else f"{train:.1f}"])
        widths = [max(len(line[i]) for line in lines) for i in range(len(head))]
        return "\n".join("  ".join(cell.rjust(w) for cell, w in zip(line, widths)) for line in lines)


def _fmt(value: float | None) -> str:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "-"
    return f"{value:.4f}" if abs(value) < 10 else f"{value:.2f}"


def _rng(seed: int, round_: int, purpose: int) -> np.random.Generator:
    return np.random.default_rng([seed & 0xFFFFFFFF, round_ + 1, purpose])


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
        claimed = not self.run_dir.exists()
        made = [p for p in self.run_dir.parents if not p.exists()]  # parents this run would create
        self._lock.acquire()
        try:
            self.store = RunStore(self.run_dir)
            fresh = not self.store.has_progress()
            claimed = claimed and fresh
            self._attach_log()
            self._check_or_store_spec(fresh)
            self.strategy: Strategy = resolved.strategy.build()  # type: ignore[assignment]
            self.annotator: Annotator = resolved.annotator.build()  # type: ignore[assignment]
            self.trainer: Trainer = resolved.trainer.build()  # type: ignore[assignment]
            self.metrics: list[Metric] = [m.build() for m in resolved.metrics]  # type: ignore[misc]
            self.embedder: Embedder | None = (
                resolved.embedder.build() if resolved.embedder is not None else None  # type: ignore[assignment]
            )
            self.scorer: ScoringBackend | None = (
                resolved.scoring.build() if resolved.scoring is not None else None  # type: ignore[assignment]
            )
            self.pool, self.test = self._load_examples(data, fresh)
        except BaseException:
            self.close()
            if claimed:
                release_unstarted(self.run_dir, made)
            raise
        self._by_id: dict[str, Example] = {e.id: e for e in (*self.pool, *self.test)}
        self._model: ModelHandle | None = None
        self._model_round: int | None = None
        self._threads_warned = False
        self._drafts: dict[str, str] = {}
        """Drafts of the latest scored candidates; the selected ones are stored with the selection."""
        self.round_hook: Callable[[int], None] | None = None
        """Called by ``run()`` after each evaluated round (``BASE_ROUND`` for the untrained model)."""

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
        from atgen_core.plugins import get_registry

        registry = registry if registry is not None else get_registry()
        base_dir: Path | None = None
        source: str | None = None
        if isinstance(spec, (str, Path)):
            source = str(spec)
            base_dir = Path(spec).resolve().parent
            raw: Mapping[str, Any] = load_spec_file(spec)
        elif isinstance(spec, ExperimentSpec):
            raw = spec.model_dump(mode="json", by_alias=True, exclude={"schema_"})
        else:
            raw = spec
        target = run_dir if run_dir is not None else raw_run_dir(raw, Path.cwd())
        checked = check_spec(raw, registry, source=source, base_dir=base_dir, run_dir=target,
                             load_data=target is None or not run_has_progress(target), cache_dir=cache_dir)
        resolved = checked.resolved
        target = target if target is not None else resolved.spec.run_dir(Path.cwd())
        refuse_other_spec(target, _canonical_spec(resolved.spec))
        return cls(resolved, target, progress=progress, cache_dir=cache_dir, data=checked.data)

    @classmethod
    def resume(
        cls, run_dir: Path, *, registry: Registry | None = None, progress: bool | None = None
    ) -> Experiment:
        """Reopen a stored run with the spec it was started with."""
        from atgen_core.plugins import get_registry

        run_dir = Path(run_dir)
        store = RunStore(run_dir, read_only=True)
        try:
            raw = store.get_meta("spec")
            base = store.get_meta("base_dir")
            started = store.has_progress()
        finally:
            store.close()
        if raw is None:
            raise StoreError(f"{run_dir} holds no spec; it was never started (run it with `atgen run SPEC`)")
        registry = registry if registry is not None else get_registry()
        try:
            checked = check_spec(json.loads(raw), registry, source=str(run_dir / "atgen.sqlite"),
                                 base_dir=Path(base) if base else None, run_dir=run_dir, load_data=not started)
        except SpecError as exc:
            if started:
                raise
            raise StoreError(
                f"{exc}\nThis run never got past its set-up, so there is nothing to resume: fix the spec and "
                f"start it with `atgen run SPEC.json` (it takes {run_dir} over)"
            ) from None
        return cls(checked.resolved, run_dir, progress=progress, data=checked.data)

    def _attach_log(self) -> None:
        handler = logging.FileHandler(self.run_dir / "run.log", encoding="utf-8")
        handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(message)s"))
        log.addHandler(handler)
        if log.level == logging.NOTSET or log.level > logging.INFO:
            log.setLevel(logging.INFO)
        self._log_handler = handler

    def _check_or_store_spec(self, fresh: bool) -> None:
        new = _canonical_spec(self.spec)
        stored = self.store.get_meta("spec")
        if stored is not None:
            diff, blocking = spec_changes(json.loads(stored), new)
            if blocking and fresh:
                log.warning("%s held a run that never got past its set-up (spec differed in: %s); "
                            "this run takes it over", self.run_dir, ", ".join(blocking))
                self.store.clear_examples()
            elif blocking:
                raise other_spec_error(self.run_dir, blocking)
            if diff:
                log.info("continuing the stored run with changed %s", ", ".join(diff))
        self.store.set_meta("spec", json.dumps(new, sort_keys=True))
        if self.resolved.base_dir is not None:
            self.store.set_meta("base_dir", str(self.resolved.base_dir))
        if self.store.get_meta("created") is None:
            self.store.set_meta("created", str(time.time()))

    def _load_examples(
        self, data: LoadedData | None, fresh: bool
    ) -> tuple[tuple[Example, ...], tuple[Example, ...]]:
        if self.store.has_examples():
            if not (fresh and data is not None):
                return tuple(self.store.load_examples("pool")), tuple(self.store.load_examples("test"))
            self.store.clear_examples()  # set-up never finished: the data just checked replaces it
        if data is None:
            source = self.resolved.data_source.build()
            assert isinstance(source, DataSource)
            ctx = DataContext(seed=self.spec.seed, cache_dir=self.cache_dir, base_dir=self.resolved.base_dir)
            try:
                data = load_data(source, self.spec.data, self.spec.seed, ctx)
            finally:
                source.close()
        self.store.save_examples("pool", data.pool)
        self.store.save_examples("test", data.test)
        log.info("data: %d pool examples, %d test examples", len(data.pool), len(data.test))
        return data.pool, data.test

    def close(self) -> None:
        """Release components, the store and the run lock."""
        for component in [getattr(self, n, None) for n in ("strategy", "annotator", "trainer", "embedder", "scorer")]:
            if component is not None:
                component.close()
        for metric in getattr(self, "metrics", []):
            metric.close()
        store = getattr(self, "store", None)
        if store is not None:
            store.close()
        if self._log_handler is not None:
            log.removeHandler(self._log_handler)
            self._log_handler.close()
            self._log_handler = None
        self._lock.release()

    def __enter__(self) -> Experiment:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- views ------------------------------------------------------------------------------------

    def labelled(self) -> LabelledView:
        """The labelled set: examples and the label each received, in labelling order."""
        records = self.store.labels()
        return LabelledView(
            examples=tuple(self._by_id[r.id] for r in records), labels=tuple(r.text for r in records)
        )

    def unlabelled(self) -> list[Example]:
        """Pool examples never selected so far (failed items are not offered again)."""
        taken = self.store.selected_ids()
        return [e for e in self.pool if e.id not in taken]

    def _rounds_selected(self) -> int:
        r = 0
        while self.store.selection(r) is not None:
            r += 1
        return r

    # -- steps ------------------------------------------------------------------------------------

    def query(self, k: int | None = None) -> list[str]:
        """Select the next batch (round ``n``), commit it and return its ids."""
        round_ = self._rounds_selected()
        if k is None:
            k = self.spec.loop.batch_size(round_) or self.spec.loop.query_size
        return self._select(round_, k)

    def _current_round(self) -> int:
        round_ = self._rounds_selected() - 1
        if round_ < 0:
            raise AtgenError("nothing selected yet: call query() first")
        return round_

    def annotate(self) -> list[AnnotationResult]:
        """Annotate the latest selection's items that have no result yet."""
        round_ = self._current_round()
        return self._annotate(round_, self.store.selection(round_) or [])

    def teach(self, labels: Mapping[str, str], annotator: str = "manual") -> None:
        """Store labels given directly (e.g. from a notebook) for items of the latest selection."""
        round_ = self._current_round()
        selected = set(self.store.selection(round_) or [])
        for id_, text in labels.items():
            if id_ not in selected:
                raise AtgenError(f"teach: id {id_!r} is not in the selection of round {round_}")
            self.store.record_result(round_, AnnotationResult(id=id_, status="ok", text=text), annotator)
        self._export_labels()

    def train(self) -> None:
        """Train on every label so far (the latest round)."""
        self._train(self._current_round())

    def evaluate(self) -> dict[str, float]:
        """Evaluate the latest trained model on the test set."""
        return self._evaluate(self._current_round())

    # -- the loop ---------------------------------------------------------------------------------

    def run(self) -> RunSummary:
        """Run (or continue) the whole loop until an iteration, budget or metric stop."""
        tracking = RunTracking.for_experiment(self)
        try:
            summary = self._run_rounds(tracking)
        except BaseException as exc:
            tracking.finish("interrupted" if isinstance(exc, KeyboardInterrupt) else "failed")
            raise
        tracking.finish("finished", [self.run_dir / "learning_curve.png", self.run_dir / "metrics.csv"])
        return summary

    def _run_rounds(self, tracking: RunTracking) -> RunSummary:
        loop = self.spec.loop
        self.store.set_meta("status", "running")
        self._retrain_missing_latest()
        if loop.evaluate_untrained:
            self._evaluate(BASE_ROUND)
            self._round_done(BASE_ROUND)
        rounds = loop.rounds
        reason = "iterations done"
        for round_ in range(rounds):
            k = loop.batch_size(round_)
            budget_left = self._labels_left()
            if budget_left == 0 or self._money_left() == 0.0:
                reason = "budget spent"
                break
            ids = self._select(round_, k)
            if not ids:
                reason = "pool exhausted"
                break
            self._annotate(round_, ids)
            self._train(round_)
            values = self._evaluate(round_)
            self._round_done(round_)
            tracking.sync()
            if loop.stop_when and all(values.get(key, -math.inf) >= t for key, t in loop.stop_when.items()):
                reason = "target reached: " + ", ".join(f"{k} >= {t}" for k, t in loop.stop_when.items())
                break
            if any(a["error"] == OVER_BUDGET for a in self.store.attempts(round_)):
                reason = "budget spent"
                break
            if not self.unlabelled():
                reason = "pool exhausted"
                break
        self.store.set_meta("status", f"finished: {reason}")
        log.info("stopped: %s", reason)
        summary = self.summary(reason)
        self._export_curve()
        return summary

    def _round_done(self, round_: int) -> None:
        if self.round_hook is not None:
            self.round_hook(round_)

    def summary(self, reason: str = "") -> RunSummary:
        """Per-round metrics, labels and spend so far."""
        n_labels, money = self.store.spent()
        train_seconds = {r: s for r, step, s in self.store.timings() if step == "train"}
        rounds = [
            {"round": r, "labels": n, "metrics": vals, "train_seconds": train_seconds.get(r)}
            for r, n, vals in self.store.metrics()
        ]
        summary = RunSummary(self.run_dir, rounds, reason or (self.store.get_meta("status") or ""), n_labels, money)
        summary.verdict = self._verdict(rounds)
        return summary

    def _verdict(self, rounds: list[dict[str, Any]]) -> str:
        """How this run's strategy compares with random, from the spec's reference file (analysis.reference)."""
        from atgen_core.analysis.reference import load_reference, verdict

        reference, source = None, ""
        if self.spec.reference:
            path = Path(self.spec.reference).expanduser()
            if not path.is_absolute() and self.resolved.base_dir is not None:
                path = self.resolved.base_dir / path
            reference, source = load_reference(path), self.spec.reference
            if reference is None:
                return f"Verdict: the reference file {path} is missing or unreadable."
        labels = int(rounds[-1]["labels"]) if rounds else 0
        metrics: dict[str, float] = dict(rounds[-1]["metrics"]) if rounds else {}
        value = metrics.get(str(reference.get("metric"))) if reference else None
        return verdict(self.strategy.name, labels, value, reference, source)

    # -- budget -----------------------------------------------------------------------------------

    def _labels_left(self) -> int | None:
        limit = self.spec.loop.budget.labels
        if limit is None:
            return None
        return max(0, limit - self.store.spent()[0])

    def _money_left(self) -> float | None:
        limit = self.spec.loop.budget.money
        if limit is None:
            return None
        return max(0.0, limit - self.store.spent()[1])

    # -- select -----------------------------------------------------------------------------------

    def _select(self, round_: int, k: int) -> list[str]:
        existing = self.store.selection(round_)
        if existing is not None:
            return existing
        candidates = self.unlabelled()
        left = self._labels_left()
        k = min(k, len(candidates), left if left is not None else k)
        if k <= 0:
            return []
        started = time.perf_counter()
        warm_first = round_ == 0 and self.spec.loop.start == "warm" and self.spec.loop.mode == "iterative"
        info: dict[str, Any] = {}
        if warm_first:
            rng = _rng(self.spec.seed, round_, 2)
            picked = rng.choice(len(candidates), size=k, replace=False)
            ids = [candidates[int(i)].id for i in picked]
            strategy_name = "random-initial"
        else:
            ids, info = self._strategy_select(round_, k, candidates)
            strategy_name = self.strategy.name
        drafts = {i: self._drafts[i] for i in ids if i in self._drafts} if not warm_first else {}
        self.store.save_selection(round_, ids, strategy_name, drafts)
        self.store.mark_step(round_, "select", time.perf_counter() - started, info)
        log.info("round %d: selected %d items with %s", round_, len(ids), strategy_name)
        return ids

    def _strategy_select(
        self, round_: int, k: int, candidates: list[Example]
    ) -> tuple[list[str], dict[str, Any]]:
        requirements = self.strategy.requirements()
        self._drafts = {}
        labelled = self.labelled()
        if not self.strategy.cold_start and not labelled.examples:
            raise ComponentError(
                f"strategy {self.strategy.name!r} needs labelled data but none exists yet (all labels "
                "failed?); use a warm start"
            )
        scored = candidates
        subsample = self.spec.loop.scoring_subsample
        if subsample is not None and subsample < len(candidates):
            scored = seeded_subset(candidates, max(subsample, k), self.spec.seed, f"score-{round_}")
        t0 = time.perf_counter()
        signals = self._signals(round_, requirements, scored, labelled)
        signal_seconds = time.perf_counter() - t0
        ctx = SelectionContext(
            pool=PoolView(tuple(scored)),
            labelled=labelled,
            k=k,
            rng=_rng(self.spec.seed, round_, 1),
            iteration=round_,
            seed=self.spec.seed,
            signals=signals,
            model=self._model_for(round_ - 1) if requirements.model else None,
            run_dir=self.run_dir,
            progress=self.progress,
        )
        ids = self._check_selection(self.strategy.select(ctx), scored, k)
        return ids, {"scored": len(scored), "signals_seconds": round(signal_seconds, 3)}

    def _check_selection(self, ids: Sequence[Any], scored: list[Example], k: int) -> list[str]:
        name = self.strategy.name
        out = list(ids)
        if any(not isinstance(i, str) for i in out):
            raise ComponentError(
                f"strategy {name!r} returned non-string items ({type(out[0]).__name__}); strategies must "
                "return example ids, never positions"
            )
        allowed = {e.id for e in scored}
        unknown = [i for i in out if i not in allowed]
        if unknown:
            raise ComponentError(f"strategy {name!r} returned ids not in the unlabelled pool: {unknown[:3]}")
        if len(set(out)) != len(out):
            raise ComponentError(f"strategy {name!r} returned duplicate ids")
        if len(out) != k:
            raise ComponentError(f"strategy {name!r} returned {len(out)} ids, expected {k}")
        return out

    def _signals(
        self, round_: int, req: Requirements, scored: list[Example], labelled: LabelledView
    ) -> Signals:
        generations: dict[str, Generation] | None = None
        samples: dict[str, list[Generation]] | None = None
        embeddings: Embeddings | None = None
        if req.generations or req.samples is not None:
            request = self._scoring_request(round_, [e.id for e in scored], [e.prompt for e in scored])
            settings = request.settings
            if req.generations:
                t0 = time.perf_counter()
                if self.scorer is not None:
                    outs = self.scorer.generate(request)
                else:
                    outs = self._model_for(round_ - 1).generate(request.prompts, settings, self.progress)
                if len(outs) != len(scored):
                    raise ComponentError(f"scoring returned {len(outs)} outputs for {len(scored)} prompts")
                generations = {e.id: g for e, g in zip(scored, outs)}
                self._drafts = {i: g.text for i, g in generations.items()}
                log.info("round %d: generated for %d candidates in %.1fs", round_, len(scored),
                         time.perf_counter() - t0)
            if req.samples is not None:
                from dataclasses import replace

                sample_settings = replace(
                    settings, do_sample=True, temperature=req.samples.temperature, top_p=req.samples.top_p
                )
                sample_request = replace(request, settings=sample_settings, n_samples=req.samples.n)
                if self.scorer is not None:
                    outs_n = self.scorer.sample(sample_request)
                else:
                    outs_n = self._model_for(round_ - 1).sample(
                        sample_request.prompts, req.samples.n, sample_settings, self.progress
                    )
                samples = {e.id: list(g) for e, g in zip(scored, outs_n)}
        if req.embeddings:
            embeddings = self._embeddings(round_, [*scored, *labelled.examples])
        return Signals(generations=generations, samples=samples, embeddings=embeddings)

    def _scoring_request(
        self, round_: int, ids: Sequence[str], prompts: Sequence[str], embedder: EmbedderRecipe | None = None
    ) -> ScoringRequest:
        """A scoring-backend request for ``round_`` (which scores with the model trained in ``round_ - 1``)."""
        return ScoringRequest(
            round=round_,
            ids=list(ids),
            prompts=list(prompts),
            settings=self.spec.model.generation.with_seed(self.spec.seed + round_),
            trainer_name=self.trainer.name,
            trainer_config=self.trainer.config.model_dump(mode="json"),
            model=self.spec.model,
            adapter=self._adapter(round_ - 1),
            seed=self.spec.seed,
            run_dir=self.run_dir,
            cache_dir=self.cache_dir,
            progress=self.progress,
            local_model=lambda: self._model_for(round_ - 1),
            embedder=embedder,
        )

    def _embed(self, round_: int, ids: Sequence[str], texts: Sequence[str]) -> np.ndarray:
        """Embeddings of ``texts`` by the spec's embedder: through the scoring backend when it can embed."""
        assert self.embedder is not None
        if self.scorer is not None and self.scorer.can_embed:
            recipe = EmbedderRecipe(
                name=self.embedder.name,
                config=self.embedder.config.model_dump(mode="json"),
                needs_model=self.embedder.needs_model,
            )
            matrix = self.scorer.embed(self._scoring_request(round_, ids, texts, embedder=recipe))
        else:
            model = self._model_for(round_ - 1) if self.embedder.needs_model else None
            matrix = self.embedder.embed(list(texts), EmbedContext(model=model, progress=self.progress))
        matrix = np.asarray(matrix, dtype=np.float32)
        if matrix.shape[0] != len(ids):
            raise ComponentError(
                f"embedder {self.embedder.name!r} returned {matrix.shape[0]} rows for {len(ids)} texts"
            )
        return matrix

    def _embeddings(self, round_: int, examples: Sequence[Example]) -> Embeddings:
        if self.embedder is None:
            raise ComponentError(f"strategy {self.strategy.name!r} needs embeddings but no embedder is set")
        texts = {e.id: e.input for e in examples}
        if self.embedder.needs_model:
            ids = list(texts)
            return Embeddings(ids, self._embed(round_, ids, [texts[i] for i in ids]))
        key = json.dumps({"name": self.embedder.name, "config": self.embedder.config.model_dump(mode="json")},
                         sort_keys=True)
        cache_root = self.cache_dir if self.cache_dir is not None else self.run_dir / "cache"
        cache_file = cache_root / f"embeddings-{hashlib.sha256(key.encode()).hexdigest()[:12]}.npz"
        known: dict[str, np.ndarray] = {}
        if cache_file.exists():
            with np.load(cache_file, allow_pickle=False) as data:
                known = dict(zip(data["ids"].tolist(), data["matrix"]))
        missing = [i for i in texts if i not in known]
        if missing:
            # Embed the whole pool once per run (cheap next time), not only today's candidates.
            everything = {e.id: e.input for e in self.pool}
            everything.update(texts)
            missing = [i for i in everything if i not in known]
            matrix = self._embed(round_, missing, [everything[i] for i in missing])
            known.update(zip(missing, matrix))
            ids_all = list(known)
            with atomic_open(cache_file, "wb") as handle:
                np.savez(handle, ids=np.array(ids_all), matrix=np.stack([known[i] for i in ids_all]))
        ids = list(texts)
        return Embeddings(ids, np.stack([known[i] for i in ids]).astype(np.float32))

    # -- annotate ---------------------------------------------------------------------------------

    def _annotate(self, round_: int, ids: Sequence[str]) -> list[AnnotationResult]:
        attempted = self.store.attempted_ids(round_)
        pending = [i for i in ids if i not in attempted]
        if not pending:
            # Labelled elsewhere (e.g. `atgen annotate`) or before a crash: make the exports current.
            if self.store.step_done(round_, "annotate") is None:
                self._finish_annotation(round_, 0.0)
            return []
        started = time.perf_counter()
        name = self.annotator.name
        drafts = self.store.drafts(round_)  # stored with the selection: identical after a resume
        items = [AnnotationItem(self._by_id[i], draft=drafts.get(i)) for i in pending]
        money_left = self._money_left()
        allowed: list[AnnotationItem] = []
        if money_left is None:
            allowed = items
        else:
            running = 0.0
            for item in items:
                running += self.annotator.max_cost(item)
                if running > money_left + 1e-12:
                    break
                allowed.append(item)
            for item in items[len(allowed):]:
                self.store.record_result(
                    round_, AnnotationResult(id=item.id, status="skipped", error=OVER_BUDGET), name
                )
        labels_left = self._labels_left()
        ctx = AnnotationContext(
            iteration=round_,
            labelled=self.labelled(),
            budget=Budget(labels=labels_left, money=money_left),
            cache=self.store.cache(f"annotator:{name}"),
            run_dir=self.run_dir,
            progress=self.progress,
            store=RunAnnotationStore(self.store),
        )
        results: list[AnnotationResult] = []
        expected = {item.id for item in allowed}
        if allowed:
            for result in self.annotator.annotate(allowed, ctx):
                if result.id not in expected:
                    log.warning("annotator %s returned a result for unexpected id %r; ignored", name, result.id)
                    continue
                expected.discard(result.id)
                self.store.record_result(round_, result, name)
                results.append(result)
        for missing in sorted(expected):
            self.store.record_result(
                round_, AnnotationResult(id=missing, status="failed", error="annotator returned no result"), name
            )
        self._finish_annotation(round_, time.perf_counter() - started)
        return results

    def _finish_annotation(self, round_: int, seconds: float) -> None:
        counts: dict[str, int] = {}
        for attempt in self.store.attempts(round_):
            counts[attempt["status"]] = counts.get(attempt["status"], 0) + 1
        self.store.mark_step(round_, "annotate", seconds, counts)
        log.info("round %d: annotation %s", round_, counts)
        failed = [a for a in self.store.attempts(round_) if a["status"] != "ok"]
        for attempt in failed[:5]:
            log.warning("round %d: item %s %s: %s", round_, attempt["id"], attempt["status"], attempt["error"])
        self._export_labels()

    # -- train ------------------------------------------------------------------------------------

    def _adapter(self, round_: int) -> Path | None:
        if round_ < 0:
            return None
        info = self.store.step_done(round_, "train")
        if info is None:
            return self._adapter(round_ - 1)
        path = stored_adapter_path(self.run_dir, info.get("adapter"))
        if path is not None and not path.exists():
            raise StoreError(
                f"the model trained in round {round_} is missing: {path} does not exist (deleted or moved?). "
                "Restore that folder; atgen retrains only the latest round by itself (when no later label exists)"
            )
        return path

    def _check_threads(self) -> None:
        """Record torch's thread count (results are bit-identical only at the same count); warn on change.

        torch is never imported here: the count is read only when a trainer has already imported it.
        """
        torch = sys.modules.get("torch")
        if torch is None or not hasattr(torch, "get_num_threads"):
            return
        threads = str(torch.get_num_threads())
        stored = self.store.get_meta("torch_threads")
        if stored is None:
            self.store.set_meta("torch_threads", threads)
        elif stored != threads and not self._threads_warned:
            self._threads_warned = True
            log.warning("this run was trained with %s torch threads and now runs with %s: results may differ in "
                        "the last digits from an uninterrupted run (set OMP_NUM_THREADS=%s to match)",
                        stored, threads, stored)

    def _retrain_missing_latest(self) -> None:
        """Forget the training of the latest trained round when its adapter folder is gone and no later
        label exists, so that it is retrained (training is deterministic: the same model comes back)."""
        trained = [r for r in range(self._rounds_selected()) if self.store.step_done(r, "train") is not None]
        if not trained:
            return
        latest = trained[-1]
        path = stored_adapter_path(self.run_dir, self.store.step_done(latest, "train").get("adapter"))  # type: ignore[union-attr]
        later_labels = any(record.round > latest for record in self.store.labels())
        if path is not None and not path.exists() and not later_labels:
            log.warning("round %d: the trained model %s is missing; training it again", latest, path)
            self.store.forget_step(latest, "train")

    def _model_for(self, round_: int) -> ModelHandle:
        """The model after training round ``round_`` (``-1``: the base model), loaded once."""
        if round_ >= 0 and self.store.step_done(round_, "train") is None:
            round_ = max((r for r in range(round_) if self.store.step_done(r, "train")), default=BASE_ROUND)
        if self._model is not None and self._model_round == round_:
            return self._model
        ctx = ModelContext(model=self.spec.model, seed=self.spec.seed, run_dir=self.run_dir,
                           cache_dir=self.cache_dir, progress=self.progress)
        self._model = None
        self._model = self.trainer.load(ctx, self._adapter(round_))
        self._model_round = round_
        return self._model

    def _train(self, round_: int) -> None:
        if self.store.step_done(round_, "train") is not None:
            return
        labelled = self.labelled()
        examples = [
            TrainExample(id=e.id, prompt=e.prompt, target=text) for e, text in zip(labelled.examples, labelled.labels)
        ]
        output_dir = self.run_dir / "adapters" / f"round-{round_}"
        if output_dir.exists():
            shutil.rmtree(output_dir)  # a half-written adapter from a killed run
        started = time.perf_counter()
        self._model = None
        result = self.trainer.train(
            TrainContext(
                examples=examples,
                model=self.spec.model,
                output_dir=output_dir,
                iteration=round_,
                seed=self.spec.seed,
                previous_adapter=self._adapter(round_ - 1),
                cache_dir=self.cache_dir,
                progress=self.progress,
            )
        )
        seconds = time.perf_counter() - started
        self._model, self._model_round = result.model, round_
        self._check_threads()
        self.store.mark_step(
            round_, "train", seconds,
            {
                "adapter": relative_to_run(self.run_dir, result.adapter_path),
                "loss": result.train_loss,
                "steps": result.steps,
                "examples": len(examples),
                **dict(result.extra),
            },
        )
        log.info("round %d: trained on %d labels in %.1fs (loss %s)", round_, len(examples), seconds,
                 result.train_loss)

    # -- evaluate ---------------------------------------------------------------------------------

    def _evaluate(self, round_: int) -> dict[str, float]:
        for r, _, stored in self.store.metrics():
            if r == round_ and self.store.step_done(round_, "evaluate") is not None:
                return stored
        started = time.perf_counter()
        model = self._model_for(round_)
        settings = self.spec.model.generation.with_seed(self.spec.seed)
        outputs = model.generate([e.prompt for e in self.test], settings, self.progress)
        predictions = [g.text for g in outputs]
        ctx = MetricContext(
            ids=[e.id for e in self.test],
            predictions=predictions,
            references=[list(e.references) for e in self.test],
            sources=[e.input for e in self.test],
            run_dir=self.run_dir,
            progress=self.progress,
        )
        values: dict[str, float] = {}
        per_example: dict[str, Sequence[float]] = {}
        timings: dict[str, float] = {}
        for metric in self.metrics:
            result = metric.compute(dataclasses.replace(ctx, cache=self.store.cache(f"metric:{metric.name}")))
            values.update({k: float(v) for k, v in result.values.items()})
            per_example.update(result.per_example)
            timings[metric.name] = round(result.seconds, 3)
        n_labels = self.store.spent()[0] if round_ >= 0 else 0
        self.store.save_evaluation(round_, values, n_labels, zip(ctx.ids, predictions))
        self.store.mark_step(round_, "evaluate", time.perf_counter() - started, {"metric_seconds": timings})
        self._export_generations(round_, predictions, per_example)
        self._export_metrics()
        shown = ", ".join(f"{k}={v:.4f}" for k, v in values.items())
        log.info("round %s: %d labels: %s", "base" if round_ == BASE_ROUND else round_, n_labels, shown)
        return values

    def import_evaluation(self, round_: int, values: Mapping[str, float], generations: Mapping[str, str]) -> None:
        """Store an evaluation computed elsewhere for an identical model (e.g. the untrained model's, shared
        by every run of a benchmark with the same seed), so that this run does not recompute it."""
        if self.store.step_done(round_, "evaluate") is not None:
            return
        if set(generations) != {e.id for e in self.test}:
            raise AtgenError("import_evaluation: the generations do not cover this run's test set")
        n_labels = self.store.spent()[0] if round_ >= 0 else 0
        self.store.save_evaluation(round_, values, n_labels, [(e.id, generations[e.id]) for e in self.test])
        self.store.mark_step(round_, "evaluate", 0.0, {"imported": True})
        self._export_metrics()

    # -- exports ----------------------------------------------------------------------------------

    def _export_labels(self) -> None:
        path = self.run_dir / "labels.jsonl"
        lines = []
        for attempt in self.store.attempts():
            example = self._by_id[attempt["id"]]
            lines.append(json.dumps({**attempt, "input": example.input}, ensure_ascii=False))
        atomic_write(path, "\n".join(lines) + ("\n" if lines else ""))

    def _export_metrics(self) -> None:
        rows = self.store.metrics()
        keys = sorted({k for _, _, vals in rows for k in vals})
        with atomic_open(self.run_dir / "metrics.csv", newline="") as handle:
            writer = csv.writer(handle)
            writer.writerow(["round", "labels", *keys])
            for r, n, vals in rows:
                writer.writerow([r, n, *(vals.get(k, "") for k in keys)])

    def _export_generations(
        self, round_: int, predictions: Sequence[str], per_example: Mapping[str, Sequence[float]]
    ) -> None:
        name = "base" if round_ == BASE_ROUND else f"round-{round_}"
        lines = []
        for i, (example, prediction) in enumerate(zip(self.test, predictions)):
            scores = {k: float(v[i]) for k, v in per_example.items() if len(v) == len(predictions)}
            lines.append(json.dumps({"id": example.id, "prediction": prediction,
                                     "references": list(example.references), "scores": scores},
                                    ensure_ascii=False))
        (self.run_dir / "generations").mkdir(exist_ok=True)
        atomic_write(self.run_dir / "generations" / f"{name}.jsonl", "\n".join(lines) + "\n")

    def _export_curve(self) -> None:
        rows = [(n, vals) for r, n, vals in self.store.metrics()]
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
        ax.set_title(f"{self.spec.name}: {self.strategy.name}")
        ax.grid(alpha=0.3)
        ax.legend()
        fig.tight_layout()
        fig.savefig(self.run_dir / "learning_curve.png", dpi=120)
        plt.close(fig)


