"""The persistent run store: one SQLite database (WAL mode) per run directory.

Everything that costs time or money is committed the moment it exists: a selection before its
annotation starts, each label as it arrives, metrics and timings after each step. The loop reads the
store back to resume exactly where a run stopped. An exclusive lock file keeps a second process out.
"""

from __future__ import annotations

import contextlib
import json
import time
from collections.abc import Sequence
from pathlib import Path

from atgen_core.errors import StoreError
from atgen_core.runlock import LOCK_NAME, RunLock, lock_holder
from atgen_core.store_db import DB_NAME
from atgen_core.store_labels import LabelRecord, LabelStore, log_attempt
from atgen_core.store_rounds import RoundStore
from atgen_core.store_schema import STORE_VERSION
from atgen_core.types import Example

__all__ = [
    "DB_NAME",
    "STORE_VERSION",
    "LabelRecord",
    "RunLock",
    "RunStore",
    "lock_holder",
    "log_attempt",
    "release_unstarted",
    "run_has_progress",
]

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


class _StoreCache:
    """A ``KeyValueCache`` over the store's ``cache`` table, scoped to one namespace."""

    def __init__(self, store: RunStore, namespace: str) -> None:
        self._store, self._namespace = store, namespace

    def get(self, key: str) -> str | None:
        return self._store.cache_get(self._namespace, key)

    def put(self, key: str, value: str) -> None:
        self._store.cache_put(self._namespace, key, value)


class RunStore(LabelStore, RoundStore):
    """Typed access to a run's SQLite database. Every write is committed immediately.

    The connection and schema are in ``store_db``, selections/attempts/labels in ``store_labels``,
    steps/metrics/generations in ``store_rounds``; meta, examples and component caches are here.
    """

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
                        e.id,
                        role,
                        i,
                        e.input,
                        e.prompt,
                        e.target,
                        json.dumps(list(e.references)),
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
            Example(
                id=r[0],
                input=r[1],
                prompt=r[2],
                target=r[3],
                references=tuple(json.loads(r[4])),
                fields=json.loads(r[5]),
            )
            for r in rows
        ]

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
