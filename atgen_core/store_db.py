"""The run store's connection: opening (read-only or not), the schema and its migrations, errors.

``StoreBase`` owns the SQLite connection; the typed tables are in ``store_labels`` and ``store_rounds``
and ``RunStore`` (``atgen_core.store``) puts them together.
"""

from __future__ import annotations

import contextlib
import sqlite3
import threading
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

from atgen_core.errors import StoreError
from atgen_core.runlock import LOCK_NAME
from atgen_core.store_schema import MIGRATIONS, SCHEMA, STORE_VERSION
from atgen_core.suggest import nearest_path_hint

__all__ = ["DB_NAME", "StoreBase"]

DB_NAME = "atgen.sqlite"


class StoreBase:
    """A run's SQLite database (WAL mode): opened, checked, migrated; every write committed at once."""

    def __init__(self, run_dir: Path, *, create: bool = True, read_only: bool = False) -> None:
        self.run_dir = Path(run_dir)
        self.path = self.run_dir / DB_NAME
        if (not create or read_only) and not self.path.exists():
            hint = nearest_path_hint(self.run_dir, keep=lambda p: (p / DB_NAME).is_file())
            raise StoreError(f"{self.run_dir} is not an atgen run directory (no {DB_NAME})"
                             + (f"; {hint}" if hint else ""))
        if self.path.exists() and self.path.is_file() and self.path.stat().st_size == 0:
            raise StoreError(self._empty_store_message())
        self._lock = threading.RLock()
        self._side_files = [
            p
            for p in (self.run_dir / (DB_NAME + "-wal"), self.run_dir / (DB_NAME + "-shm"))
            if read_only and not p.exists()
        ]
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
            db = sqlite3.connect(
                f"file:{self.path}?immutable=1", uri=True, isolation_level=None, check_same_thread=False
            )
            db.execute("SELECT COUNT(*) FROM sqlite_master").fetchone()
            self._check_version(int(db.execute("PRAGMA user_version").fetchone()[0]))
            return db
        uri = f"file:{self.path}?mode=ro"
        try:
            db = sqlite3.connect(uri, uri=True, isolation_level=None, check_same_thread=False)
            db.execute("SELECT COUNT(*) FROM sqlite_master").fetchone()
        except sqlite3.OperationalError:
            # A read-only folder: WAL needs a -shm file it cannot create; read the file as immutable.
            db = sqlite3.connect(
                f"file:{self.path}?immutable=1", uri=True, isolation_level=None, check_same_thread=False
            )
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
