"""The run directory's lock: one process at a time, and who holds it (for ``atgen status``)."""

from __future__ import annotations

import contextlib
import os
from pathlib import Path

from atgen_core.errors import RunLockedError, StoreError

__all__ = ["LOCK_NAME", "RunLock", "lock_holder"]

LOCK_NAME = "atgen.lock"


def lock_holder(run_dir: Path) -> int | None:
    """The PID of the live process holding ``run_dir``'s lock, or ``None`` when no process holds it."""
    import fcntl

    path = Path(run_dir) / LOCK_NAME
    try:
        fd = os.open(path, os.O_RDONLY)
    except OSError:
        return None
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_SH | fcntl.LOCK_NB)
        except BlockingIOError:
            text = os.pread(fd, 64, 0).decode(errors="replace").strip()
            return int(text) if text.isdigit() else -1
        fcntl.flock(fd, fcntl.LOCK_UN)
        return None
    finally:
        os.close(fd)


class RunLock:
    """An exclusive, process-lifetime lock on a run directory (``fcntl.flock`` on a lock file)."""

    def __init__(self, run_dir: Path) -> None:
        self.path = run_dir / LOCK_NAME
        self._fd: int | None = None

    def acquire(self) -> None:
        import fcntl

        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o644)
        except (FileExistsError, NotADirectoryError):
            raise StoreError(f"cannot use {self.path.parent} as a run directory: a file is in the way") from None
        except OSError as exc:
            raise StoreError(
                f"cannot lock the run directory {self.path.parent}: {exc.strerror} (read-only? no permission?); "
                "choose a writable output_dir"
            ) from None
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
