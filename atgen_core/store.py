"""The persistent run store: one SQLite database (WAL mode) per run directory.

Everything that costs time or money is committed the moment it exists: a selection before its
annotation starts, each label as it arrives, metrics and timings after each step. The loop reads the
store back to resume exactly where a run stopped. An exclusive lock file keeps a second process out.
"""

from __future__ import annotations

import contextlib
import json
import sqlite3
import threading
import time
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from atgen_core.errors import StoreError
from atgen_core.runlock import LOCK_NAME, RunLock, lock_holder
from atgen_core.store_schema import MIGRATIONS, SCHEMA, STORE_VERSION
from atgen_core.types import AnnotationResult, Example

__all__ = ["STORE_VERSION", "LabelRecord", "RunLock", "RunStore", "lock_holder"]

DB_NAME = "atgen.sqlite"

_PROGRESS_TABLES = ("selections", "attempts", "labels", "steps", "metrics")


def run_has_progress(run_dir: Path) -> bool:
    """True when ``run_dir`` holds a store in which some step has started (False: no store, or set-up only).

    A store that cannot be read counts as started, so that nothing ever treats it as disposable.
    """
    path = Path(run_dir) / DB_NAME
    if not path.exists():
        return False
    try:
        store = RunStore(run_dir, read_only=True)
    except StoreError:
        return True
    try:
        return store.has_progress()
    except StoreError:
        return True
    finally:
        store.close()


_SETUP_FILES = (DB_NAME, DB_NAME + "-wal", DB_NAME + "-shm", LOCK_NAME, "run.log")


def release_unstarted(run_dir: Path, created: Sequence[Path] = ()) -> None:
    """Remove a run directory this process created for a run whose set-up failed before any step.

    Only the files set-up writes are removed, and the folder only when nothing else is in it, then the
    parent folders in ``created`` (made for it) when empty; the caller guarantees that no step started
    (so nothing in it holds a label).
    """
    run_dir = Path(run_dir)
    if run_has_progress(run_dir):
        return
    for name in _SETUP_FILES:
        with contextlib.suppress(FileNotFoundError):
            (run_dir / name).unlink()
    for folder in [run_dir, *created]:
        with contextlib.suppress(OSError):
            folder.rmdir()


def log_attempt(db: sqlite3.Connection, round_: int, id_: str, status: str, text: str, annotator: str,
                cost: float, error: str | None, meta: str, now: float) -> None:
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

    def __init__(self, run_dir: Path, *, create: bool = True, read_only: bool = False) -> None:
        self.run_dir = Path(run_dir)
        self.path = self.run_dir / DB_NAME
        if (not create or read_only) and not self.path.exists():
            raise StoreError(f"{self.run_dir} is not an atgen run directory (no {DB_NAME})")
        if self.path.exists() and self.path.is_file() and self.path.stat().st_size == 0:
            raise StoreError(self._empty_store_message())
        self._lock = threading.RLock()
        self._side_files = [p for p in (self.run_dir / (DB_NAME + "-wal"), self.run_dir / (DB_NAME + "-shm"))
                            if read_only and not p.exists()]
        try:
            if read_only:
                self._db = self._open_read_only()
            else:
                self.run_dir.mkdir(parents=True, exist_ok=True)
                self._db = sqlite3.connect(self.path, timeout=30.0, isolation_level=None, check_same_thread=False)
                self._check_version(int(self._db.execute("PRAGMA user_version").fetchone()[0]))
                self._db.execute("PRAGMA journal_mode=WAL")
                self._db.execute("PRAGMA synchronous=NORMAL")
                self._prepare_schema()
        except sqlite3.DatabaseError as exc:
            raise StoreError(
                f"cannot read the run store {self.path}: {exc}. It is left as it is (nothing is rewritten); "
                "labels.jsonl in the same folder holds the labels exported so far"
            ) from None
        except OSError as exc:
            raise StoreError(f"cannot open the run store {self.path}: {exc.strerror}") from None

    def _empty_store_message(self) -> str:
        others = sorted(p.name for p in self.run_dir.iterdir() if p.name not in (DB_NAME, LOCK_NAME))
        held = f" (the folder also holds: {', '.join(others[:6])})" if others else ""
        return (
            f"the run store {self.path} is empty (0 bytes: a full disk or a crash while it was written){held}. "
            "atgen never starts over on top of it: restore it from a backup, or move the folder away and "
            "start a new run (labels.jsonl keeps the labels exported so far)"
        )

    def _open_read_only(self) -> sqlite3.Connection:
        if not (self.run_dir / (DB_NAME + "-wal")).exists():
            # Fully checkpointed and no writer has it open: read the file as it is, creating nothing
            # (WAL mode would otherwise create -wal/-shm files even for a read-only look).
            db = sqlite3.connect(f"file:{self.path}?immutable=1", uri=True, isolation_level=None,
                                 check_same_thread=False)
            db.execute("SELECT COUNT(*) FROM sqlite_master").fetchone()
            self._check_version(int(db.execute("PRAGMA user_version").fetchone()[0]))
            return db
        uri = f"file:{self.path}?mode=ro"
        try:
            db = sqlite3.connect(uri, uri=True, isolation_level=None, check_same_thread=False)
            db.execute("SELECT COUNT(*) FROM sqlite_master").fetchone()
        except sqlite3.OperationalError:
            # A read-only folder: WAL needs a -shm file it cannot create; read the file as immutable.
            db = sqlite3.connect(f"file:{self.path}?immutable=1", uri=True, isolation_level=None,
                                 check_same_thread=False)
        self._check_version(int(db.execute("PRAGMA user_version").fetchone()[0]))
        return db

    def _check_version(self, version: int) -> None:
        if version > STORE_VERSION:
            raise StoreError(
                f"the run store {self.path} was written by a newer atgen (store version {version}; this atgen "
                f"reads up to {STORE_VERSION}): upgrade atgen-core to continue or inspect this run"
            )

    def _prepare_schema(self) -> None:
        db = self._db
        version = int(db.execute("PRAGMA user_version").fetchone()[0])
        self._check_version(version)
        tables = db.execute("SELECT COUNT(*) FROM sqlite_master WHERE type = 'table'").fetchone()[0]
        if tables == 0:
            db.executescript(SCHEMA)
            db.execute(f"PRAGMA user_version = {STORE_VERSION}")
            return
        while version < STORE_VERSION:
            db.execute("BEGIN IMMEDIATE")
            try:
                for statement in MIGRATIONS[version]:
                    db.execute(statement)
                db.execute(f"PRAGMA user_version = {version + 1}")
            except BaseException:
                db.execute("ROLLBACK")
                raise
            db.execute("COMMIT")
            version += 1
        db.executescript(SCHEMA)

    def version(self) -> int:
        """The store's schema version."""
        return int(self._one("PRAGMA user_version")[0])

    def close(self) -> None:
        with self._lock:
            self._db.close()
        # A read-only look leaves the folder as it was: SQLite's -wal/-shm files it had to create are
        # removed again when they hold nothing (a writer that opened the store since would keep them busy).
        for side in self._side_files:
            with contextlib.suppress(OSError):
                if side.exists() and (side.name.endswith("-shm") or side.stat().st_size == 0):
                    side.unlink()

    def _execute(self, sql: str, args: Sequence[Any] = ()) -> list[Any]:
        with self._lock:
            try:
                return self._db.execute(sql, args).fetchall()
            except sqlite3.DatabaseError as exc:
                raise self._damaged(exc) from None

    def _damaged(self, exc: sqlite3.DatabaseError) -> StoreError:
        if isinstance(exc, sqlite3.OperationalError) and "readonly" in str(exc).replace(" ", ""):
            return StoreError(f"cannot write to the run store {self.path}: the folder or file is read-only")
        return StoreError(
            f"the run store {self.path} is damaged ({exc}); it is left as it is (nothing is rewritten). Recover "
            "what it holds with `sqlite3 atgen.sqlite .recover`; labels.jsonl holds the labels exported so far"
        )

    def _one(self, sql: str, args: Sequence[Any] = ()) -> Any:
        rows = self._execute(sql, args)
        return rows[0] if rows else None

    @contextlib.contextmanager
    def transaction(self) -> Iterator[sqlite3.Connection]:
        """A write transaction (``BEGIN IMMEDIATE``), committed on success, rolled back on error."""
        with self._lock:
            try:
                self._db.execute("BEGIN IMMEDIATE")
            except sqlite3.DatabaseError as exc:
                raise self._damaged(exc) from None
            try:
                yield self._db
            except sqlite3.DatabaseError as exc:
                self._db.execute("ROLLBACK")
                raise self._damaged(exc) from None
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

    def has_progress(self) -> bool:
        """True once any step started: a selection, an attempt, a label, a step or a metric is stored."""
        return any(self._one(f"SELECT 1 FROM {table} LIMIT 1") is not None for table in _PROGRESS_TABLES)

    def clear_examples(self) -> None:
        """Forget the stored pool and test set (only for a run that has no progress yet)."""
        if self.has_progress():
            raise StoreError(f"{self.run_dir}: refusing to replace the examples of a run that has started")
        self._execute("DELETE FROM examples")

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
                (round_, result.id, status, result.text, annotator, float(result.cost), float(result.seconds),
                 error, meta, now),
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

    def forget_step(self, round_: int, step: str) -> None:
        """Mark a step as not done (so that it runs again); never used for steps that hold labels."""
        self._execute("DELETE FROM steps WHERE round = ? AND step = ?", (round_, step))

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
