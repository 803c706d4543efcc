"""Annotation: the selected items that have no result yet go to the annotator, within the budget.

Items whose upper-bound cost no longer fits the money left are recorded as skipped; each result is
committed as it arrives; a round's annotation is finished (counted, logged, exported) once.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Mapping, Sequence

from atgen_core.annotation import RunAnnotationStore
from atgen_core.components import AnnotationContext, Annotator, Budget
from atgen_core.errors import AtgenError
from atgen_core.loop.exports import Exports
from atgen_core.loop.run import Run
from atgen_core.types import AnnotationItem, AnnotationResult

__all__ = ["OVER_BUDGET", "AnnotationRoom"]

log = logging.getLogger("atgen")

OVER_BUDGET = "over the money budget"


class AnnotationRoom:
    """Hands a round's pending items to the annotator and stores every result."""

    def __init__(self, run: Run, annotator: Annotator, exports: Exports) -> None:
        self.run = run
        self.annotator = annotator
        self.exports = exports

    def annotate(self, round_: int, ids: Sequence[str]) -> list[AnnotationResult]:
        """Annotate the items of ``ids`` with no result in ``round_`` yet; returns the new results."""
        store = self.run.store
        attempted = store.attempted_ids(round_)
        pending = [i for i in ids if i not in attempted]
        if not pending:
            # Labelled elsewhere (e.g. `atgen annotate`) or before a crash: make the exports current.
            if store.step_done(round_, "annotate") is None:
                self.finish(round_, 0.0)
            return []
        started = time.perf_counter()
        drafts = store.drafts(round_)  # stored with the selection: identical after a resume
        items = [AnnotationItem(self.run.by_id[i], draft=drafts.get(i)) for i in pending]
        money_left = self.run.money_left()
        allowed = self._affordable(round_, items, money_left)
        results = self._call_annotator(round_, allowed, money_left)
        self.finish(round_, time.perf_counter() - started)
        return results

    def _affordable(self, round_: int, items: list[AnnotationItem], money_left: float | None) -> list[AnnotationItem]:
        """The leading items whose summed upper-bound cost fits ``money_left``; the rest are skipped."""
        if money_left is None:
            return items
        allowed: list[AnnotationItem] = []
        running = 0.0
        for item in items:
            running += self.annotator.max_cost(item)
            if running > money_left + 1e-12:
                break
            allowed.append(item)
        for item in items[len(allowed) :]:
            self.run.store.record_result(
                round_, AnnotationResult(id=item.id, status="skipped", error=OVER_BUDGET), self.annotator.name
            )
        return allowed

    def _call_annotator(
        self, round_: int, allowed: list[AnnotationItem], money_left: float | None
    ) -> list[AnnotationResult]:
        run, name = self.run, self.annotator.name
        ctx = AnnotationContext(
            iteration=round_,
            labelled=run.labelled(),
            budget=Budget(labels=run.labels_left(), money=money_left),
            cache=run.store.cache(f"annotator:{name}"),
            run_dir=run.run_dir,
            progress=run.progress,
            store=RunAnnotationStore(run.store),
        )
        results: list[AnnotationResult] = []
        expected = {item.id for item in allowed}
        if allowed:
            for result in self.annotator.annotate(allowed, ctx):
                if result.id not in expected:
                    log.warning("annotator %s returned a result for unexpected id %r; ignored", name, result.id)
                    continue
                expected.discard(result.id)
                run.store.record_result(round_, result, name)
                results.append(result)
        for missing in sorted(expected):
            run.store.record_result(
                round_, AnnotationResult(id=missing, status="failed", error="annotator returned no result"), name
            )
        return results

    def teach(self, round_: int, labels: Mapping[str, str], annotator: str) -> None:
        """Store labels given directly (e.g. from a notebook) for items of ``round_``'s selection."""
        store = self.run.store
        selected = set(store.selection(round_) or [])
        for id_, text in labels.items():
            if id_ not in selected:
                raise AtgenError(f"teach: id {id_!r} is not in the selection of round {round_}")
            store.record_result(round_, AnnotationResult(id=id_, status="ok", text=text), annotator)
        self.exports.labels()

    def finish(self, round_: int, seconds: float) -> None:
        """Count the round's results, mark its annotation done, log failures and export the labels."""
        store = self.run.store
        counts: dict[str, int] = {}
        for attempt in store.attempts(round_):
            counts[attempt["status"]] = counts.get(attempt["status"], 0) + 1
        store.mark_step(round_, "annotate", seconds, counts)
        log.info("round %d: annotation %s", round_, counts)
        failed = [a for a in store.attempts(round_) if a["status"] != "ok"]
        for attempt in failed[:5]:
            log.warning("round %d: item %s %s: %s", round_, attempt["id"], attempt["status"], attempt["error"])
        self.exports.labels()
