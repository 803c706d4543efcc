"""The annotation desk: the store-backed state of one round that the page and the annotator share.

Items, answers and revisions are read from the run's ``AnnotationStore`` on every request, so a reload or a
restart shows what was saved. Writes are compare-and-swap on a per-item revision: of two annotators editing
one item the later one gets a conflict. One re-entrant lock (in ``changed``) serialises writes; the result
generator holds it while the loop commits a yielded result, so an edit cannot slip in between.
"""

from __future__ import annotations

import contextlib
import json
import threading
import time
from collections.abc import Generator, Iterator, Sequence
from dataclasses import dataclass
from typing import Any, Literal

from atgen_core import AnnotationItem, AnnotationResult, Example
from atgen_core.annotation import AnnotationStore, StoredAnswer

__all__ = ["MAX_ANSWER_CHARS", "AnnotationDesk", "DeskBusyError", "ItemView", "SubmitOutcome"]

DRAFT_NAMESPACE = "human-annotator:drafts"  # where batch drafts are kept, so a restarted server shows them
MAX_ANSWER_CHARS = 100_000
WEB_FLAG = "web"  # key in an answer's meta marking answers written through the page
LOCK_WAIT_SECONDS = 15.0

ItemStatus = Literal["pending", "ok", "skipped"]


class DeskBusyError(RuntimeError):
    """The desk lock could not be taken in time (the loop is committing results); retry."""


@dataclass(frozen=True)
class ItemView:
    """One item of the round as the page shows it (``n``: 1-based position in the round)."""

    n: int
    id: str
    input: str
    draft: str | None
    status: ItemStatus
    text: str
    revision: int
    by: str | None = None
    note: str | None = None

    @property
    def done(self) -> bool:
        return self.status != "pending"


@dataclass(frozen=True)
class SubmitOutcome:
    """``saved`` (``revision`` is the new one), ``invalid``, ``conflict`` (``item``: the stored state),
    ``closed`` (the round is no longer served) or ``unknown`` (no such item); ``message`` says why."""

    kind: Literal["saved", "invalid", "conflict", "closed", "unknown"]
    message: str = ""
    revision: int = 0
    item: ItemView | None = None


class AnnotationDesk:
    """The items of one round of a run, their answers, and the submit / wait operations."""

    def __init__(self, store: AnnotationStore, *, annotator: str = "human", guidelines: str | None = None,
                 show_draft: bool = True, mode: Literal["loop", "cli"] = "cli", run_name: str = "") -> None:
        self.store, self.annotator, self.guidelines, self.show_draft = store, annotator, guidelines, show_draft
        self.mode, self.run_name = mode, run_name
        self.changed = threading.Condition(threading.RLock())
        self.changes = 0  # bumped after every write: waiters re-read the store only after a change
        self.round: int | None = None
        self.batch_open = False  # the loop waits for this round's batch (loop mode)
        self._ids: list[str] = []
        self._examples: dict[str, Example] = {}
        self._drafts: dict[str, str] = {}

    def open_round(self, round_: int, items: Sequence[AnnotationItem] | None = None) -> None:
        """Serve ``round_``. ``items`` (from the loop) carry drafts, stored so that a restart keeps them."""
        with self._locked():
            ids = self.store.selection(round_)
            ids += [i.id for i in items or () if i.id not in set(ids)]
            cache = self.store.cache(DRAFT_NAMESPACE)
            for item in items or ():
                if item.draft is not None:
                    cache.put(json.dumps([round_, item.id]), item.draft)
            self._examples = {i.id: i.example for i in items or ()}
            self._examples.update(self.store.examples([i for i in ids if i not in self._examples]))
            drafts = {i: cache.get(json.dumps([round_, i])) for i in ids}
            self._drafts = {i: d for i, d in drafts.items() if d is not None}
            self.round, self._ids, self.batch_open = round_, ids, items is not None
            self._bump()

    def items(self) -> list[ItemView]:
        """The round's items in selection order: pending ones and those answered through the page."""
        if self.round is None:
            return []
        answers = self.store.answers(self.round)
        out: list[ItemView] = []
        for id_ in self._ids:
            answer, example = answers.get(id_), self._examples.get(id_)
            if example is None or (answer is not None and not answer.meta.get(WEB_FLAG)):
                continue  # labelled by another annotator (or skipped by the loop for budget): not ours
            out.append(self._view(len(out) + 1, example, answer))
        return out

    def find(self, id_: str) -> ItemView | None:
        """The item with this id in the served round."""
        return next((v for v in self.items() if v.id == id_), None)

    def counts(self) -> dict[str, int]:
        """``total``, ``done``, ``ok``, ``skipped`` and ``pending`` item counts of the round."""
        views = self.items()
        ok, skipped = sum(v.status == "ok" for v in views), sum(v.status == "skipped" for v in views)
        return {"total": len(views), "done": ok + skipped, "ok": ok, "skipped": skipped,
                "pending": len(views) - ok - skipped}

    def _view(self, n: int, example: Example, answer: StoredAnswer | None) -> ItemView:
        draft = self._drafts.get(example.id) if self.show_draft else None
        if answer is None:
            return ItemView(n, example.id, example.input, draft, "pending", "", 0)
        note = "not answered before the time limit" if answer.meta.get("timeout") else None
        return ItemView(n, example.id, example.input, draft, "ok" if answer.status == "ok" else "skipped",
                        answer.text, answer.revision, answer.meta.get("by"), note)

    def submit(self, *, round_: int, id_: str, expected_revision: int, action: str, text: str = "",
               seconds: float = 0.0, by: str | None = None) -> SubmitOutcome:
        """Save (``action="save"``) or skip (``"skip"``) one item if it is still at ``expected_revision``."""
        answer = text.replace("\r\n", "\n").replace("\r", "\n").strip()
        if action not in ("save", "skip"):
            return SubmitOutcome("invalid", f"unknown action {action!r}: use save or skip")
        if action == "save" and not answer:
            return SubmitOutcome("invalid", "The answer is empty. Type the label, or press Skip.")
        if len(answer) > MAX_ANSWER_CHARS:
            return SubmitOutcome("invalid", f"The answer is too long ({len(answer)} characters; at most "
                                            f"{MAX_ANSWER_CHARS}).")
        with self._locked():
            if round_ != self.round:
                return SubmitOutcome("closed", "This batch is closed: the run has moved on to another round. "
                                               "Your answer was not saved.")
            current = self.find(id_)
            if current is None:
                return SubmitOutcome("unknown", "This item is not part of the batch. Nothing was saved.")
            meta: dict[str, Any] = {WEB_FLAG: True, "by": by or self.annotator}
            if action == "save":
                kept = current.draft is not None and answer == current.draft.strip()
                meta["draft"] = "none" if current.draft is None else "kept" if kept else "edited"
            result = AnnotationResult(id_, "ok" if action == "save" else "skipped", answer if action == "save" else "",
                                      seconds=seconds, meta=meta,
                                      error=None if action == "save" else "skipped by the annotator")
            stored, revision = self.store.save_answer(round_, result, self.annotator, expected_revision)
            if stored:
                self._bump()
                return SubmitOutcome("saved", revision=revision)
            fresh = self.find(id_)
            who = f" by {fresh.by}" if fresh is not None and fresh.by else ""
            return SubmitOutcome(
                "conflict", f"Someone else changed this item while you were editing it (now revision {revision}"
                f"{who}). Their version is shown below and your text is still in the editor: save again to "
                "replace theirs, or go on.", revision=revision, item=fresh)

    def skip_unanswered(self, round_: int, ids: Sequence[str], reason: str) -> None:
        """Record every still-pending item of ``ids`` as skipped (used when the batch times out)."""
        with self._locked():
            answers = self.store.answers(round_)
            meta = {WEB_FLAG: True, "by": self.annotator, "timeout": True}
            for id_ in (i for i in ids if i not in answers):
                self.store.save_answer(round_, AnnotationResult(id_, "skipped", error=reason, meta=meta),
                                       self.annotator, 0)
            self._bump()

    def results(self, round_: int, ids: Sequence[str], timeout: float | None = None,
                tick: float = 0.5) -> Generator[AnnotationResult, None, None]:
        """Yield one result per id as soon as it is saved or skipped; stop when all are done.

        After ``timeout`` seconds the unanswered items are recorded and yielded as skipped. The desk lock
        is held while a result is handed out, so the caller's commit of it cannot race with an edit.
        ``tick`` only bounds each wait so that Ctrl-C is noticed; the store is re-read only after a change.
        """
        pending = list(dict.fromkeys(ids))
        deadline = None if timeout is None else time.monotonic() + timeout
        with self.changed:
            try:
                while pending:
                    answers = self.store.answers(round_)
                    ready = [i for i in pending if i in answers]
                    if not ready and deadline is not None and time.monotonic() >= deadline:
                        self.skip_unanswered(round_, pending, f"no answer within {timeout:g} s")
                        continue
                    for id_ in ready:
                        pending.remove(id_)
                        yield answers[id_].to_result()
                    seen = self.changes
                    while not ready and self.changes == seen:
                        wait = tick if deadline is None else min(tick, deadline - time.monotonic())
                        if wait <= 0:
                            break
                        self.changed.wait(wait)
            finally:
                if self.round == round_:
                    self.batch_open = False
                    self._bump()

    def _bump(self) -> None:
        with self.changed:
            self.changes += 1
            self.changed.notify_all()

    @contextlib.contextmanager
    def _locked(self) -> Iterator[None]:
        """The desk lock with a bounded wait (a web request must not hang forever)."""
        if not self.changed.acquire(timeout=LOCK_WAIT_SECONDS):
            raise DeskBusyError("the annotation desk is busy; try again in a moment")
        try:
            yield
        finally:
            self.changed.release()
