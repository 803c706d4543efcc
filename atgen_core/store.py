"""The persistent run store: one SQLite database (WAL mode) per run directory.

Everything that costs time or money is committed the moment it exists: a selection before its
annotation starts, each label as it arrives, metrics and timings after each step. The loop reads the
store back to resume exactly where a run stopped. An exclusive lock file keeps a second process out.
"""

from __future__ import annotations

import contextlib
import json
import os
import sqlite3
import threading
import time
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from atgen_core.errors import RunLockedError, StoreError
from atgen_core.types import AnnotationResult, Example

__all__ = ["LabelRecord", "RunLock", "RunStore"]

DB_NAME = "atgen.sqlite"
LOCK_NAME = "atgen.lock"

_SCHEMA = """
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS examples (
    id TEXT PRIMARY KEY, role TEXT NOT NULL, position INTEGER NOT NULL,
    input TEXT NOT NULL, prompt TEXT NOT NULL, target TEXT, refs TEXT NOT NULL, fields TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS selections (
    round INTEGER NOT NULL, rank INTEGER NOT NULL, id TEXT NOT NULL, strategy TEXT NOT NULL,
    created REAL NOT NULL, PRIMARY KEY (round, id)
);
CREATE TABLE IF NOT EXISTS attempts (
    round INTEGER NOT NULL, id TEXT NOT NULL, status TEXT NOT NULL, text TEXT NOT NULL,
    annotator TEXT NOT NULL, cost REAL NOT NULL, seconds REAL NOT NULL, error TEXT,
    meta TEXT NOT NULL, created REAL NOT NULL, PRIMARY KEY (round, id)
);
CREATE TABLE IF NOT EXISTS labels (
    id TEXT PRIMARY KEY, round INTEGER NOT NULL, text TEXT NOT NULL, annotator TEXT NOT NULL,
    cost REAL NOT NULL, seconds REAL NOT NULL, created REAL NOT NULL, meta TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS steps (
    round INTEGER NOT NULL, step TEXT NOT NULL, seconds REAL NOT NULL, info TEXT NOT NULL,
    created REAL NOT NULL, PRIMARY KEY (round, step)
);
CREATE TABLE IF NOT EXISTS metrics (
    round INTEGER NOT NULL, key TEXT NOT NULL, value REAL, n_labels INTEGER NOT NULL,
    PRIMARY KEY (round, key)
);
CREATE TABLE IF NOT EXISTS generations (
    round INTEGER NOT NULL, id TEXT NOT NULL, text TEXT NOT NULL, PRIMARY KEY (round, id)
);
CREATE TABLE IF NOT EXISTS cache (
    namespace TEXT NOT NULL, key TEXT NOT NULL, value TEXT NOT NULL, created REAL NOT NULL,
    PRIMARY KEY (namespace, key)
);
"""


class RunLock:
    """An exclusive, process-lifetime lock on a run directory (``fcntl.flock`` on a lock file)."""

    def __init__(self, run_dir: Path) -> None:
        self.path = run_dir / LOCK_NAME
        self._fd: int | None = None

    def acquire(self) -> None:
        import fcntl

        self.path.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o644)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            holder = ""
            with contextlib.suppress(OSError):
                holder = os.pread(fd, 64, 0).decode(errors="replace").strip()
            os.close(fd)
            who = f" (pid {holder})" if holder else ""
            raise RunLockedError(
                f"run directory {self.path.parent} is in use by another atgen process{who}; "
                "wait for it to finish or stop it first"
            ) from None
        os.ftruncate(fd, 0)
        os.pwrite(fd, str(os.getpid()).encode(), 0)
        self._fd = fd

    def release(self) -> None:
        if self._fd is not None:
            import fcntl

            fcntl.flock(self._fd, fcntl.LOCK_UN)
            os.close(self._fd)
            self._fd = None


@dataclass(frozen=True)
class LabelRecord:
    """A stored label."""

    id: str
    round: int
    text: str
    annotator: str
    cost: float
    seconds: float


class _StoreCache:
    """A ``KeyValueCache`` over the store's ``cache`` table, scoped to one namespace."""

    def __init__(self, store: RunStore, namespace: str) -> None:
        self._store, self._namespace = store, namespace

    def get(self, key: str) -> str | None:
        return self._store.cache_get(self._namespace, key)

    def put(self, key: str, value: str) -> None:
        self._store.cache_put(self._namespace, key, value)


class RunStore:
    """Typed access to a run's SQLite database. Every write is committed immediately."""

    def __init__(self, run_dir: Path, *, create: bool = True) -> None:
        self.run_dir = Path(run_dir)
        self.path = self.run_dir / DB_NAME
        if not create and not self.path.exists():
            raise StoreError(f"{self.run_dir} is not an atgen run directory (no {DB_NAME})")
        self.run_dir.mkdir(parents=True, exist_ok=True)
        self._lock = threading.RLock()
        try:
            self._db = sqlite3.connect(self.path, timeout=30.0, isolation_level=None, check_same_thread=False)
            self._db.execute("PRAGMA journal_mode=WAL")
            self._db.execute("PRAGMA synchronous=NORMAL")
            self._db.executescript(_SCHEMA)
        except sqlite3.DatabaseError as exc:
            raise StoreError(f"cannot open the run store {self.path}: {exc}") from None

    def close(self) -> None:
        with self._lock:
            self._db.close()

    def _execute(self, sql: str, args: Sequence[Any] = ()) -> list[Any]:
        with self._lock:
            return self._db.execute(sql, args).fetchall()

    def _one(self, sql: str, args: Sequence[Any] = ()) -> Any:
        rows = self._execute(sql, args)
        return rows[0] if rows else None

    @contextlib.contextmanager
    def transaction(self) -> Iterator[sqlite3.Connection]:
        """A write transaction (``BEGIN IMMEDIATE``), committed on success, rolled back on error."""
        with self._lock:
            self._db.execute("BEGIN IMMEDIATE")
            try:
                yield self._db
            except BaseException:
                self._db.execute("ROLLBACK")
                raise
            self._db.execute("COMMIT")

    # -- meta -------------------------------------------------------------------------------------

    def get_meta(self, key: str) -> str | None:
        row = self._one("SELECT value FROM meta WHERE key = ?", (key,))
        return None if row is None else str(row[0])

    def set_meta(self, key: str, value: str) -> None:
        self._execute("INSERT OR REPLACE INTO meta (key, value) VALUES (?, ?)", (key, value))

    # -- examples ---------------------------------------------------------------------------------

    def has_examples(self) -> bool:
        return self._one("SELECT 1 FROM examples LIMIT 1") is not None

    def save_examples(self, role: str, examples: Sequence[Example]) -> None:
        with self.transaction() as db:
            db.executemany(
                "INSERT INTO examples (id, role, position, input, prompt, target, refs, fields) "
                "VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                [
                    (
                        e.id, role, i, e.input, e.prompt, e.target, json.dumps(list(e.references)),
                        json.dumps(dict(e.fields), default=str),
                    )
                    for i, e in enumerate(examples)
                ],
            )

    def load_examples(self, role: str) -> list[Example]:
        rows = self._execute(
            "SELECT id, input, prompt, target, refs, fields FROM examples WHERE role = ? ORDER BY position",
            (role,),
        )
        return [
            Example(id=r[0], input=r[1], prompt=r[2], target=r[3], references=tuple(json.loads(r[4])),
                    fields=json.loads(r[5]))
            for r in rows
        ]

    # -- selections and labels --------------------------------------------------------------------

    def save_selection(self, round_: int, ids: Sequence[str], strategy: str) -> None:
        now = time.time()
        with self.transaction() as db:
            db.executemany(
                "INSERT INTO selections (round, rank, id, strategy, created) VALUES (?, ?, ?, ?, ?)",
                [(round_, rank, id_, strategy, now) for rank, id_ in enumerate(ids)],
            )

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
                (round_, result.id, status, result.text, annotator, float(result.cost), float(result.seconds),
                 error, meta, now),
            )
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

    def labels(self) -> list[LabelRecord]:
        rows = self._execute(
            "SELECT id, round, text, annotator, cost, seconds FROM labels ORDER BY round, created, id"
        )
        return [LabelRecord(*r) for r in rows]

    def spent(self) -> tuple[int, float]:
        """(number of labels, money spent on every attempt, failed ones included)."""
        n = self._one("SELECT COUNT(*) FROM labels")[0]
        cost = self._one("SELECT COALESCE(SUM(cost), 0) FROM attempts")[0]
        return int(n), float(cost)

    # -- steps, metrics, generations ----------------------------------------------------------------

    def step_done(self, round_: int, step: str) -> dict[str, Any] | None:
        row = self._one("SELECT info FROM steps WHERE round = ? AND step = ?", (round_, step))
        return None if row is None else dict(json.loads(row[0]))

    def mark_step(self, round_: int, step: str, seconds: float, info: Mapping[str, Any] | None = None) -> None:
        self._execute(
            "INSERT OR REPLACE INTO steps (round, step, seconds, info, created) VALUES (?, ?, ?, ?, ?)",
            (round_, step, float(seconds), json.dumps(dict(info or {}), default=str), time.time()),
        )

    def timings(self) -> list[tuple[int, str, float]]:
        return [tuple(r) for r in self._execute("SELECT round, step, seconds FROM steps ORDER BY round, created")]  # type: ignore[misc]

    def save_evaluation(
        self, round_: int, values: Mapping[str, float], n_labels: int, generations: Iterable[tuple[str, str]]
    ) -> None:
        with self.transaction() as db:
            db.executemany(
                "INSERT OR REPLACE INTO metrics (round, key, value, n_labels) VALUES (?, ?, ?, ?)",
                [(round_, k, float(v), n_labels) for k, v in values.items()],
            )
            db.executemany(
                "INSERT OR REPLACE INTO generations (round, id, text) VALUES (?, ?, ?)",
                [(round_, id_, text) for id_, text in generations],
            )

    def metrics(self) -> list[tuple[int, int, dict[str, float]]]:
        """(round, n_labels, {key: value}) per evaluated round, in round order."""
        out: dict[int, tuple[int, dict[str, float]]] = {}
        for round_, key, value, n_labels in self._execute(
            "SELECT round, key, value, n_labels FROM metrics ORDER BY round, key"
        ):
            out.setdefault(round_, (n_labels, {}))[1][key] = value
        return [(r, n, vals) for r, (n, vals) in sorted(out.items())]

    def generations(self, round_: int) -> dict[str, str]:
        return dict(self._execute("SELECT id, text FROM generations WHERE round = ?", (round_,)))

    # -- cache ------------------------------------------------------------------------------------

    def cache(self, namespace: str) -> _StoreCache:
        """A persistent key-value cache for one component (e.g. an API annotator)."""
        return _StoreCache(self, namespace)

    def cache_get(self, namespace: str, key: str) -> str | None:
        row = self._one("SELECT value FROM cache WHERE namespace = ? AND key = ?", (namespace, key))
        return None if row is None else str(row[0])

    def cache_put(self, namespace: str, key: str, value: str) -> None:
        self._execute(
            "INSERT OR REPLACE INTO cache (namespace, key, value, created) VALUES (?, ?, ?, ?)",
            (namespace, key, value, time.time()),
        )
