"""Suggestions for a mistyped path: the nearest existing name in the same folder.

Used wherever a path from the user is missing (spec files, run directories, data files, model files),
so every "does not exist" error can say what the user probably meant.
"""

from __future__ import annotations

import difflib
from collections.abc import Callable
from pathlib import Path

__all__ = ["nearest_path", "nearest_path_hint"]


def nearest_path(missing: Path, *, pattern: str = "*", keep: Callable[[Path], bool] | None = None,
                 cutoff: float = 0.6) -> Path | None:
    """The entry of ``missing``'s folder whose name is closest to ``missing.name`` (matching ``pattern``
    and ``keep``), or ``None`` when the folder does not exist or nothing is close enough."""
    folder = missing.parent
    if not folder.is_dir():
        return None
    try:
        entries = {p.name: p for p in folder.glob(pattern) if keep is None or keep(p)}
    except OSError:
        return None
    close = difflib.get_close_matches(missing.name, sorted(entries), n=1, cutoff=cutoff)
    return entries[close[0]] if close else None


def nearest_path_hint(missing: Path, *, pattern: str = "*", keep: Callable[[Path], bool] | None = None,
                      cutoff: float = 0.6) -> str | None:
    """``"did you mean '<path>'?"`` for :func:`nearest_path`, or ``None``."""
    found = nearest_path(missing, pattern=pattern, keep=keep, cutoff=cutoff)
    return None if found is None else f"did you mean {str(found)!r}?"
