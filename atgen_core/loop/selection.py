"""Selection: round 0's random warm start, or the strategy's choice among the (subsampled) pool.

The selection is committed with the drafts of the selected items before any annotation starts.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Sequence
from typing import Any

from atgen_core.components import SelectionContext, Strategy
from atgen_core.data import seeded_subset
from atgen_core.loop.models import ModelSlot
from atgen_core.loop.round import Round
from atgen_core.loop.run import ComponentError, Run
from atgen_core.loop.signals import SignalRoom
from atgen_core.types import Example, PoolView

__all__ = ["Selector"]

log = logging.getLogger("atgen")


class Selector:
    """Selects a round's batch and stores it."""

    def __init__(self, run: Run, strategy: Strategy, signals: SignalRoom, slot: ModelSlot) -> None:
        self.run = run
        self.strategy = strategy
        self.signals = signals
        self.slot = slot

    def select(self, round_: Round, k: int) -> list[str]:
        """The ids of ``round_``'s selection: the stored one, else ``k`` (at most) newly selected."""
        run = self.run
        existing = run.store.selection(round_.index)
        if existing is not None:
            return existing
        candidates = run.unlabelled()
        left = run.labels_left()
        k = min(k, len(candidates), left if left is not None else k)
        if k <= 0:
            return []
        started = time.perf_counter()
        loop = run.spec.loop
        info: dict[str, Any] = {}
        drafts: dict[str, str] = {}
        if round_.index == 0 and loop.start == "warm" and loop.mode == "iterative":
            picked = round_.rng(run.spec.seed, 2).choice(len(candidates), size=k, replace=False)
            ids = [candidates[int(i)].id for i in picked]
            strategy_name = "random-initial"
        else:
            ids, drafts, info = self._strategy_select(round_, k, candidates)
            strategy_name = self.strategy.name
        run.store.save_selection(round_.index, ids, strategy_name, {i: drafts[i] for i in ids if i in drafts})
        run.store.mark_step(round_.index, "select", time.perf_counter() - started, info)
        log.info("round %d: selected %d items with %s", round_.index, len(ids), strategy_name)
        return ids

    def _strategy_select(
        self, round_: Round, k: int, candidates: list[Example]
    ) -> tuple[list[str], dict[str, str], dict[str, Any]]:
        run, seed = self.run, self.run.spec.seed
        requirements = self.strategy.requirements()
        labelled = run.labelled()
        if not self.strategy.cold_start and not labelled.examples:
            raise ComponentError(
                f"strategy {self.strategy.name!r} needs labelled data but none exists yet (all labels "
                "failed?); use a warm start"
            )
        scored = candidates
        subsample = run.spec.loop.scoring_subsample
        if subsample is not None and subsample < len(candidates):
            scored = seeded_subset(candidates, max(subsample, k), seed, f"score-{round_.index}")
        t0 = time.perf_counter()
        signals = self.signals.signals(round_, requirements, scored, labelled, self.strategy.name)
        signal_seconds = time.perf_counter() - t0
        ctx = SelectionContext(
            pool=PoolView(tuple(scored)),
            labelled=labelled,
            k=k,
            rng=round_.rng(seed, 1),
            iteration=round_.index,
            seed=seed,
            signals=signals,
            run_dir=run.run_dir,
            progress=run.progress,
            model=self.slot.for_round(round_.model_before) if requirements.model else None,
        )
        ids = self._check(self.strategy.select(ctx), scored, k)
        drafts = {i: g.text for i, g in (signals.generations or {}).items()}
        return ids, drafts, {"scored": len(scored), "signals_seconds": round(signal_seconds, 3)}

    def _check(self, ids: Sequence[Any], scored: list[Example], k: int) -> list[str]:
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
