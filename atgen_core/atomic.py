"""Atomic file writes: a reader sees the old file or the new one, never a partial one.

Every file atgen or a plugin rewrites in place (exports, shards, tokens) goes through
:func:`atomic_open` or :func:`atomic_write`: the data is written to a temporary sibling (same folder,
so the rename cannot cross file systems), flushed and fsynced, then renamed over the target with
``os.replace``. On any error the temporary file is removed and the target is left untouched.
"""

from __future__ import annotations

import contextlib
import os
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import IO, Any

__all__ = ["TMP_SUFFIX", "atomic_open", "atomic_write"]

TMP_SUFFIX = ".tmp"
"""Suffix of the temporary siblings (``.<name>.<random>.tmp``), for cleaners of abandoned ones."""


@contextlib.contextmanager
def atomic_open(
    path: str | os.PathLike[str], mode: str = "w", *, permissions: int | None = None, **open_kwargs: Any
) -> Iterator[IO[Any]]:
    """Open a temporary sibling of ``path`` for writing; on success it replaces ``path``.

    ``mode`` is ``"w"`` (text, UTF-8 unless ``encoding`` is given) or ``"wb"``; ``permissions`` (e.g.
    ``0o600``) is set before any data is written. Parent folders are created.
    """
    if mode not in ("w", "wb"):
        raise ValueError(f"atomic_open: mode must be 'w' or 'wb', got {mode!r}")
    target = Path(path)
    target.parent.mkdir(parents=True, exist_ok=True)
    if "b" not in mode:
        open_kwargs.setdefault("encoding", "utf-8")
    fd, tmp = tempfile.mkstemp(dir=target.parent, prefix=f".{target.name}.", suffix=TMP_SUFFIX)
    try:
        if permissions is not None:
            os.fchmod(fd, permissions)
        with os.fdopen(fd, mode, **open_kwargs) as handle:
            yield handle
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(tmp, target)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise


def atomic_write(path: str | os.PathLike[str], data: str | bytes, *, permissions: int | None = None) -> None:
    """Write ``data`` (text as UTF-8, or bytes) to ``path`` atomically (see :func:`atomic_open`)."""
    mode = "wb" if isinstance(data, bytes) else "w"
    with atomic_open(path, mode, permissions=permissions) as handle:
        handle.write(data)
