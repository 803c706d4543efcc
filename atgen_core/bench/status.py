"""What each cell of a grid has done, read without writing anything into the benchmark directory.

The run store is copied (with its write-ahead log) to a temporary folder and read there: even a
read-only SQLite connection would leave ``-shm``/``-wal`` files behind in the run directory.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import sqlite3
import tempfile
from dataclasses import dataclass
from pathlib import Path

__all__ = ["CellStatus", "cell_status", "is_held"]


@dataclass(frozen=True)
class CellStatus:
    """A cell's state: ``finished``, ``partial``, ``not started`` (``running elsewhere`` when locked)."""

    state: str
    rounds_done: int = 0
    labels: int = 0
    held: bool = False

    def describe(self, rounds: int) -> str:
        """The state as shown by ``--dry-run`` (``partial: 2/4 rounds, 16 labels``)."""
        text = self.state
        if self.state == "partial":
            text += f": {self.rounds_done}/{rounds} rounds, {self.labels} labels"
        return text + (" (running elsewhere)" if self.held else "")


def is_held(run_dir: Path) -> bool:
    """True when another process holds the run's lock (tested with a shared lock; nothing is written)."""
    import fcntl

    path = run_dir / "atgen.lock"
    if not path.exists():
        return False
    fd = os.open(path, os.O_RDONLY)
    try:
        fcntl.flock(fd, fcntl.LOCK_SH | fcntl.LOCK_NB)
    except BlockingIOError:
        return True
    finally:
        os.close(fd)
    return False


def cell_status(run_dir: Path) -> CellStatus:
    """The state of the run in ``run_dir`` (rounds counted from its stored evaluations, round 0 onwards)."""
    db = run_dir / "atgen.sqlite"
    held = is_held(run_dir)
    if not db.exists():
        return CellStatus("not started", held=held)
    with tempfile.TemporaryDirectory(prefix="atgen-status-") as tmp:
        for suffix in ("", "-wal"):
            if Path(f"{db}{suffix}").exists():
                with contextlib.suppress(OSError):
                    shutil.copyfile(f"{db}{suffix}", Path(tmp) / f"atgen.sqlite{suffix}")
        conn = sqlite3.connect(Path(tmp) / "atgen.sqlite")
        try:
            row = conn.execute("SELECT value FROM meta WHERE key = 'status'").fetchone()
            evaluated = conn.execute("SELECT DISTINCT round, n_labels FROM metrics WHERE round >= 0").fetchall()
        except sqlite3.DatabaseError:
            return CellStatus("not started", held=held)
        finally:
            conn.close()
    status = row[0] if row else ""
    labels = max((n for _, n in evaluated), default=0)
    if status.startswith("finished"):
        return CellStatus("finished", len(evaluated), labels, held)
    return CellStatus("partial" if evaluated or status else "not started", len(evaluated), labels, held)
