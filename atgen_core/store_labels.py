"""The run store's selections, annotation attempts and labels."""

from __future__ import annotations

import json
import sqlite3
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from atgen_core.store_db import StoreBase
from atgen_core.types import AnnotationResult

__all__ = ["LabelRecord", "LabelStore", "log_attempt"]


def log_attempt(
    db: sqlite3.Connection,
    round_: int,
    id_: str,
    status: str,
    text: str,
    annotator: str,
    cost: float,
    error: str | None,
    meta: str,
    now: float,
) -> None:
    """Append one annotation result to ``attempt_log`` (inside the caller's transaction)."""
    db.execute(
        "INSERT INTO attempt_log (round, id, status, text, annotator, cost, error, meta, created) "
        "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
        (round_, id_, status, text, annotator, cost, error, meta, now),
    )


@dataclass(frozen=True)
class LabelRecord:
    """A stored label."""

    id: str
    round: int
    text: str
    annotator: str
    cost: float
    seconds: float


class LabelStore(StoreBase):
    """Selections, attempts and labels: what was chosen, asked and answered (never lost)."""

    def save_selection(
        self, round_: int, ids: Sequence[str], strategy: str, drafts: Mapping[str, str] | None = None
    ) -> None:
        """Commit a round's selection, with the model's draft of each item (handed to annotators)."""
        now = time.time()
        drafts = drafts or {}
        with self.transaction() as db:
            db.executemany(
                "INSERT INTO selections (round, rank, id, strategy, created, draft) VALUES (?, ?, ?, ?, ?, ?)",
                [(round_, rank, id_, strategy, now, drafts.get(id_)) for rank, id_ in enumerate(ids)],
            )

    def drafts(self, round_: int) -> dict[str, str]:
        """The drafts stored with ``round_``'s selection (items without one are left out)."""
        rows = self._execute("SELECT id, draft FROM selections WHERE round = ? AND draft IS NOT NULL", (round_,))
        return {r[0]: r[1] for r in rows}

    def selection(self, round_: int) -> list[str] | None:
        rows = self._execute("SELECT id FROM selections WHERE round = ? ORDER BY rank", (round_,))
        return [r[0] for r in rows] if rows else None

    def selected_ids(self) -> set[str]:
        return {r[0] for r in self._execute("SELECT id FROM selections")}

    def selection_log(self) -> list[tuple[int, str, str]]:
        """(round, id, strategy name) of every selected item, in round and rank order."""
        rows = self._execute("SELECT round, id, strategy FROM selections ORDER BY round, rank")
        return [(int(r[0]), str(r[1]), str(r[2])) for r in rows]

    def record_result(self, round_: int, result: AnnotationResult, annotator: str) -> None:
        """Commit one annotation result; an ``ok`` result with non-empty text becomes a label."""
        now = time.time()
        meta = json.dumps(dict(result.meta), default=str)
        ok = result.status == "ok" and bool(result.text.strip())
        status = result.status if result.status != "ok" or ok else "failed"
        error = result.error if ok or result.status != "ok" else "empty label text"
        with self.transaction() as db:
            db.execute(
                "INSERT OR REPLACE INTO attempts (round, id, status, text, annotator, cost, seconds, error, meta,"
                " created) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                (
                    round_,
                    result.id,
                    status,
                    result.text,
                    annotator,
                    float(result.cost),
                    float(result.seconds),
                    error,
                    meta,
                    now,
                ),
            )
            log_attempt(db, round_, result.id, status, result.text, annotator, float(result.cost), error, meta, now)
            if ok:
                db.execute(
                    "INSERT OR REPLACE INTO labels (id, round, text, annotator, cost, seconds, created, meta) "
                    "VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                    (result.id, round_, result.text, annotator, float(result.cost), float(result.seconds), now, meta),
                )

    def attempted_ids(self, round_: int) -> set[str]:
        return {r[0] for r in self._execute("SELECT id FROM attempts WHERE round = ?", (round_,))}

    def attempts(self, round_: int | None = None) -> list[dict[str, Any]]:
        query = "SELECT round, id, status, text, annotator, cost, seconds, error FROM attempts"
        args: tuple[Any, ...] = ()
        if round_ is not None:
            query += " WHERE round = ?"
            args = (round_,)
        keys = ("round", "id", "status", "text", "annotator", "cost", "seconds", "error")
        return [dict(zip(keys, row)) for row in self._execute(query + " ORDER BY created, id", args)]

    def attempt_log(self) -> list[dict[str, Any]]:
        """Every annotation result ever recorded, in order (a replaced attempt keeps its row here)."""
        keys = ("round", "id", "status", "text", "annotator", "cost", "error", "created")
        rows = self._execute(f"SELECT {', '.join(keys)} FROM attempt_log ORDER BY seq")
        return [dict(zip(keys, row)) for row in rows]

    def labels(self) -> list[LabelRecord]:
        rows = self._execute("SELECT id, round, text, annotator, cost, seconds FROM labels ORDER BY round, created, id")
        return [LabelRecord(*r) for r in rows]

    def spent(self) -> tuple[int, float]:
        """(number of labels, money spent on every attempt, failed ones included)."""
        n = self._one("SELECT COUNT(*) FROM labels")[0]
        cost = self._one("SELECT COALESCE(SUM(cost), 0) FROM attempts")[0]
        return int(n), float(cost)
