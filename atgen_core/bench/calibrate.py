"""A rough wall-time estimate for a grid, from a short calibration through the generic component API.

Calibration (in a temporary folder, nothing written to the benchmark directory): load the model with
``Trainer.load``, ``ModelHandle.generate`` on one generation batch of test prompts, the metrics on those
outputs, and ``Trainer.train`` twice, on 2 and on 6 pool examples labelled with their references (two
sizes separate the fixed cost of a training call from the cost per label). Then, per cell::

    cell = load + T x (g + m)                      untrained evaluation (once per seed when shared)
         + sum over rounds r of:  a + L_r x t      training on the L_r labels of round r
                                + T x (g + m)      evaluation on the T test examples
                                + S_r x g x k      scoring S_r candidates when the strategy needs outputs

with ``g`` seconds per generated prompt (in full batches), ``m`` metric seconds per example, ``a`` the
fixed seconds of a training call and ``t`` the seconds per labelled example (both measured with the
spec's own epochs), ``S_r`` the unlabelled pool (or
``scoring_subsample``) and ``k`` the generations per candidate (1, plus the samples). Round 0 of a warm
start is counted once per seed (it is shared); embeddings once per benchmark (they are cached). Wall
time is the sum divided by ``--jobs``. It is rough: training time is not linear in tiny sets,
parallel cells slow each other on a loaded machine, and annotation time (an API, a human) is not counted.
"""

from __future__ import annotations

import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from atgen_core.components import DataContext, EmbedContext, MetricContext, ModelContext, TrainContext
from atgen_core.data import load_data
from atgen_core.spec import ExperimentSpec, ResolvedSpec
from atgen_core.types import Requirements, TrainExample

__all__ = ["Calibration", "calibrate", "cell_seconds"]


@dataclass(frozen=True)
class Calibration:
    """Measured costs (seconds) and the data sizes of the grid."""

    load: float
    train_fixed: float
    per_train_example: float
    per_prompt: float
    per_metric_example: float
    per_embedded_text: float
    pool_size: int
    test_size: int
    train_examples: int
    prompts: int

    def describe(self) -> str:
        """One line of the measured costs."""
        return (f"model load {self.load:.1f}s; training {self.train_fixed:.1f}s + {self.per_train_example:.2f}s "
                f"per label (on up to {self.train_examples}); generation {self.per_prompt:.2f}s per prompt "
                f"(batch of {self.prompts}); "
                f"metrics {self.per_metric_example * 1000:.1f}ms per example; pool {self.pool_size}, "
                f"test {self.test_size}")


def _timed(fn: Any, *args: Any) -> tuple[Any, float]:
    started = time.perf_counter()
    out = fn(*args)
    return out, time.perf_counter() - started


def calibrate(resolved: ResolvedSpec, embedder_spec: ResolvedSpec | None = None, *,
              train_sizes: tuple[int, int] = (2, 6)) -> Calibration:
    """Time one model load, generation, metrics and a short training of the spec's components."""
    from atgen_core.bench.grid import BenchmarkError

    spec = resolved.spec
    with tempfile.TemporaryDirectory(prefix="atgen-calibrate-") as tmp:
        cache = Path(tmp) / "cache"
        source = resolved.data_source.build()
        try:
            data = load_data(source, spec.data, spec.seed,  # type: ignore[arg-type]
                             DataContext(seed=spec.seed, cache_dir=cache, base_dir=resolved.base_dir))
        finally:
            source.close()
        labelled = [e for e in data.pool if e.references or e.target][: max(train_sizes)]
        if not labelled:
            raise BenchmarkError("calibration needs pool examples with references; use --no-calibration")
        test = list(data.test[: spec.model.generation.batch_size])
        trainer = resolved.trainer.build()
        try:
            ctx = ModelContext(model=spec.model, seed=spec.seed, run_dir=Path(tmp), cache_dir=cache)
            model, load = _timed(trainer.load, ctx, None)  # type: ignore[attr-defined]
            settings = spec.model.generation.with_seed(spec.seed)
            outputs, gen = _timed(model.generate, [e.prompt for e in test], settings)
            metric_s = _metric_seconds(resolved, test, [o.text for o in outputs], Path(tmp))
            examples = [TrainExample(id=e.id, prompt=e.prompt, target=(e.references or (e.target,))[0] or "")
                        for e in labelled]
            fixed, per_label = _fit_training(trainer, spec, examples, train_sizes, Path(tmp) / "cache")
        finally:
            trainer.close()
        embed = _embed_seconds(embedder_spec, [e.input for e in data.pool[: len(test)]])
    return Calibration(load, fixed, per_label, gen / max(1, len(test)), metric_s / max(1, len(test)), embed,
                       len(data.pool), len(data.test), len(examples), len(test))


def _fit_training(trainer: Any, spec: ExperimentSpec, examples: list[TrainExample], sizes: tuple[int, int],
                  cache: Path) -> tuple[float, float]:
    """(fixed seconds per training call, seconds per label) from trainings on two set sizes."""
    small, large = min(sizes[0], len(examples)), min(sizes[1], len(examples))
    times = []
    for n in dict.fromkeys((small, large)):
        ctx = TrainContext(examples=examples[:n], model=spec.model, output_dir=cache.parent / f"adapter-{n}",
                           seed=spec.seed, cache_dir=cache)
        times.append(_timed(trainer.train, ctx)[1])
    if len(times) == 1 or times[1] <= times[0]:
        return 0.0, times[-1] / large  # one size, or noise: all cost per label
    per_label = (times[1] - times[0]) / (large - small)
    return max(0.0, times[0] - small * per_label), per_label


def _metric_seconds(resolved: ResolvedSpec, test: list[Any], predictions: list[str], run_dir: Path) -> float:
    ctx = MetricContext(ids=[e.id for e in test], predictions=predictions,
                        references=[list(e.references) for e in test], sources=[e.input for e in test],
                        run_dir=run_dir)
    total = 0.0
    for ref in resolved.metrics:
        metric = ref.build()
        try:
            total += _timed(metric.compute, ctx)[1]  # type: ignore[attr-defined]
        finally:
            metric.close()
    return total


def _embed_seconds(resolved: ResolvedSpec | None, texts: list[str]) -> float:
    if resolved is None or resolved.embedder is None or not texts:
        return 0.0
    embedder = resolved.embedder.build()
    try:
        if getattr(embedder, "needs_model", False):
            return 0.0
        return _timed(embedder.embed, texts, EmbedContext())[1] / len(texts)  # type: ignore[attr-defined]
    finally:
        embedder.close()


def cell_seconds(cal: Calibration, spec: ExperimentSpec, req: Requirements, schedule: list[int], *,
                 rounds_done: int, base_done: bool, round0_shared: bool) -> float:
    """The estimated seconds left for one cell (see the module docstring for the formula)."""
    loop = spec.loop
    evaluation = cal.test_size * (cal.per_prompt + cal.per_metric_example)
    per_candidate = cal.per_prompt * ((1 if req.generations else 0) + (req.samples.n if req.samples else 0))
    total = 0.0 if base_done or not loop.evaluate_untrained else cal.load + evaluation
    for r, labels in enumerate(schedule):
        if r < rounds_done or (r == 0 and round0_shared):
            continue
        total += cal.train_fixed + labels * cal.per_train_example + evaluation
        if r > 0 or loop.start == "cold" or loop.mode == "design":
            candidates = cal.pool_size - (schedule[r - 1] if r > 0 else 0)
            if loop.scoring_subsample is not None:
                candidates = min(candidates, max(loop.scoring_subsample, labels - (schedule[r - 1] if r else 0)))
            total += candidates * per_candidate
    return total
