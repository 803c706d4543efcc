"""The run store's tables, its schema version and the migrations from older versions."""

from __future__ import annotations

__all__ = ["MIGRATIONS", "SCHEMA", "STORE_VERSION"]

SCHEMA = """
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS examples (
    id TEXT PRIMARY KEY, role TEXT NOT NULL, position INTEGER NOT NULL,
    input TEXT NOT NULL, prompt TEXT NOT NULL, target TEXT, refs TEXT NOT NULL, fields TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS selections (
    round INTEGER NOT NULL, rank INTEGER NOT NULL, id TEXT NOT NULL, strategy TEXT NOT NULL,
    created REAL NOT NULL, draft TEXT, PRIMARY KEY (round, id)
);
CREATE TABLE IF NOT EXISTS attempts (
    round INTEGER NOT NULL, id TEXT NOT NULL, status TEXT NOT NULL, text TEXT NOT NULL,
    annotator TEXT NOT NULL, cost REAL NOT NULL, seconds REAL NOT NULL, error TEXT,
    meta TEXT NOT NULL, created REAL NOT NULL, PRIMARY KEY (round, id)
);
CREATE TABLE IF NOT EXISTS attempt_log (
    seq INTEGER PRIMARY KEY AUTOINCREMENT, round INTEGER NOT NULL, id TEXT NOT NULL, status TEXT NOT NULL,
    text TEXT NOT NULL, annotator TEXT NOT NULL, cost REAL NOT NULL, error TEXT, meta TEXT NOT NULL,
    created REAL NOT NULL
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


STORE_VERSION = 1
"""Schema version of the run store (``PRAGMA user_version``); 0 is a store written before versioning."""

# Migration n -> n + 1; each runs in one transaction. A store newer than STORE_VERSION is refused.
MIGRATIONS: dict[int, tuple[str, ...]] = {
    0: (
        "ALTER TABLE selections ADD COLUMN draft TEXT",
        "CREATE TABLE IF NOT EXISTS attempt_log (seq INTEGER PRIMARY KEY AUTOINCREMENT, round INTEGER NOT NULL, "
        "id TEXT NOT NULL, status TEXT NOT NULL, text TEXT NOT NULL, annotator TEXT NOT NULL, cost REAL NOT NULL, "
        "error TEXT, meta TEXT NOT NULL, created REAL NOT NULL)",
        "INSERT INTO attempt_log (round, id, status, text, annotator, cost, error, meta, created) "
        "SELECT round, id, status, text, annotator, cost, error, meta, created FROM attempts ORDER BY created",
    ),
}
