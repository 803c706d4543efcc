"""What an annotator may read and write in the run store: the :class:`AnnotationStore` protocol.

The loop commits whatever ``Annotator.annotate`` yields, so most annotators never touch the store. An
annotator that keeps its own state across a batch (a web page where people save, skip, come back and
correct answers while the loop waits) gets ``AnnotationContext.store``: an :class:`AnnotationStore`,
never the whole run store. It may read the run's spec, its selections, the selected examples and the
answers of a round, keep data in its own cache namespaces, and write answers of a round with a
per-item revision (compare-and-swap), so that two people editing one item cannot silently overwrite
each other. :func:`open_for_annotation` opens a stopped run the same way (for an ``atgen`` command).

Revisions: 0 means no answer yet; each write through :meth:`AnnotationStore.save_answer` adds one; an
answer written by the loop itself (``record_result``) counts as revision 1.
"""

from __future__ import annotations

import contextlib
import json
import time
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol, get_args, runtime_checkable

from atgen_core.store import RunLock, RunStore, log_attempt
from atgen_core.types import AnnotationResult, AnnotationStatus, Example, KeyValueCache

__all__ = ["AnnotationStore", "RunAnnotationStore", "StoredAnswer", "open_for_annotation"]


@dataclass(frozen=True)
class StoredAnswer:
    """The stored answer of one item in one round."""

    id: str
    status: AnnotationStatus
    text: str
    """The label (empty unless ``status == "ok"``)."""
    annotator: str
    revision: int
    seconds: float = 0.0
    cost: float = 0.0
    error: str | None = None
    meta: Mapping[str, Any] = field(default_factory=dict)
    """The result's ``meta`` as written, plus ``revision``."""

    def to_result(self) -> AnnotationResult:
        """The answer as the ``AnnotationResult`` an annotator yields to the loop."""
        return AnnotationResult(id=self.id, status=self.status, text=self.text if self.status == "ok" else "",
                                seconds=self.seconds, cost=self.cost, error=self.error, meta=dict(self.meta))


@runtime_checkable
class AnnotationStore(Protocol):
    """The part of a run's store an annotator may use (``AnnotationContext.store``)."""

    @property
    def run_dir(self) -> Path:
        """The run directory (for the annotator's own private files, e.g. an access token)."""
        ...

    def spec(self) -> Mapping[str, Any]:
        """The run's spec as stored when the run started (read only)."""
        ...

    def base_dir(self) -> Path | None:
        """The spec file's folder (relative paths in component configs are resolved against it)."""
        ...

    def latest_round(self) -> int | None:
        """The highest round with a selection (``None`` before the first selection)."""
        ...

    def selection(self, round_: int) -> list[str]:
        """The ids selected in ``round_``, in selection order (empty when there is none)."""
        ...

    def examples(self, ids: Sequence[str]) -> dict[str, Example]:
        """The stored examples with these ids; unknown ids are left out."""
        ...

    def answers(self, round_: int) -> dict[str, StoredAnswer]:
        """Every stored answer of ``round_`` by id."""
        ...

    def save_answer(
        self, round_: int, result: AnnotationResult, annotator: str, expected_revision: int
    ) -> tuple[bool, int]:
        """Store ``result`` if the item's revision in ``round_`` is still ``expected_revision``.

        Returns ``(True, new_revision)``, or ``(False, current_revision)`` having written nothing. The
        item's label follows its latest answer: an ``ok`` answer (non-empty text) sets it, any other
        status removes the label this round gave it.
        """
        ...

    def cache(self, namespace: str) -> KeyValueCache:
        """A persistent key-value store of the annotator's own (e.g. drafts shown again after a restart)."""
        ...


def _revision(meta: Mapping[str, Any]) -> int:
    value = meta.get("revision", 1)
    return value if isinstance(value, int) and value >= 1 else 1


class RunAnnotationStore:
    """The :class:`AnnotationStore` of a :class:`~atgen_core.store.RunStore` (what the loop hands out)."""

    def __init__(self, store: RunStore) -> None:
        self._store = store

    @property
    def run_dir(self) -> Path:
        return self._store.run_dir

    def spec(self) -> Mapping[str, Any]:
        value = json.loads(self._store.get_meta("spec") or "{}")
        return value if isinstance(value, dict) else {}

    def base_dir(self) -> Path | None:
        value = self._store.get_meta("base_dir")
        return Path(value) if value else None

    def latest_round(self) -> int | None:
        with self._store.transaction() as db:
            row = db.execute("SELECT MAX(round) FROM selections").fetchone()
        return None if row is None or row[0] is None else int(row[0])

    def selection(self, round_: int) -> list[str]:
        return list(self._store.selection(round_) or [])

    def examples(self, ids: Sequence[str]) -> dict[str, Example]:
        wanted = list(dict.fromkeys(ids))
        out: dict[str, Example] = {}
        with self._store.transaction() as db:
            for start in range(0, len(wanted), 500):
                chunk = wanted[start : start + 500]
                rows = db.execute("SELECT id, input, prompt, target, refs, fields FROM examples WHERE id IN "
                                  f"({', '.join('?' * len(chunk))})", chunk).fetchall()
                for r in rows:
                    out[r[0]] = Example(id=r[0], input=r[1], prompt=r[2], target=r[3],
                                        references=tuple(json.loads(r[4])), fields=json.loads(r[5]))
        return out

    def answers(self, round_: int) -> dict[str, StoredAnswer]:
        with self._store.transaction() as db:
            rows = db.execute("SELECT id, status, text, annotator, cost, seconds, error, meta FROM attempts "
                              "WHERE round = ?", (round_,)).fetchall()
        out: dict[str, StoredAnswer] = {}
        for id_, status, text, annotator, cost, seconds, error, raw_meta in rows:
            meta = json.loads(raw_meta) if raw_meta else {}
            known: AnnotationStatus = status if status in get_args(AnnotationStatus) else "failed"
            out[id_] = StoredAnswer(id_, known, text, annotator, _revision(meta), float(seconds), float(cost),
                                    error, {**meta, "revision": _revision(meta)})
        return out

    def save_answer(
        self, round_: int, result: AnnotationResult, annotator: str, expected_revision: int
    ) -> tuple[bool, int]:
        ok = result.status == "ok"
        if ok and not result.text.strip():
            raise ValueError(f"save_answer: empty label text for id {result.id!r}")
        now = time.time()
        with self._store.transaction() as db:
            row = db.execute("SELECT meta FROM attempts WHERE round = ? AND id = ?", (round_, result.id)).fetchone()
            current = 0 if row is None else _revision(json.loads(row[0]) if row[0] else {})
            if current != expected_revision:
                return False, current
            meta = json.dumps({**dict(result.meta), "revision": current + 1}, default=str)
            values = (result.id, round_, result.text, annotator, float(result.cost), float(result.seconds))
            db.execute("INSERT OR REPLACE INTO attempts (id, round, text, annotator, cost, seconds, status, error, "
                       "meta, created) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                       (*values, result.status, result.error, meta, now))
            log_attempt(db, round_, result.id, result.status, result.text, annotator, float(result.cost),
                        result.error, meta, now)
            if ok:
                db.execute("INSERT OR REPLACE INTO labels (id, round, text, annotator, cost, seconds, meta, created) "
                           "VALUES (?, ?, ?, ?, ?, ?, ?, ?)", (*values, meta, now))
            else:
                db.execute("DELETE FROM labels WHERE id = ? AND round = ?", (result.id, round_))
        return True, current + 1

    def cache(self, namespace: str) -> KeyValueCache:
        return self._store.cache(namespace)


@contextlib.contextmanager
def open_for_annotation(run_dir: Path) -> Iterator[AnnotationStore]:
    """Open a stopped run for annotation, holding its lock (so the loop cannot write meanwhile).

    Raises ``StoreError`` when ``run_dir`` is not a run directory, ``RunLockedError`` when another
    process uses it (both ``AtgenError``: print them and exit 2).
    """
    store = RunStore(Path(run_dir), create=False)
    lock = RunLock(Path(run_dir))
    try:
        lock.acquire()
        try:
            yield RunAnnotationStore(store)
        finally:
            lock.release()
    finally:
        store.close()
