"""Progress bars for long steps (tqdm on a terminal, silent otherwise)."""

from __future__ import annotations

import sys
from collections.abc import Iterable, Iterator
from typing import TypeVar

from atgen_core.types import ProgressFn, no_progress

T = TypeVar("T")

__all__ = ["make_progress"]


def make_progress(enabled: bool | None = None) -> ProgressFn:
    """A progress function: tqdm bars when ``enabled`` (default: when stderr is a terminal)."""
    if enabled is None:
        enabled = sys.stderr.isatty()
    if not enabled:
        return no_progress

    def progress(iterable: Iterable[T], total: int | None = None, desc: str | None = None) -> Iterator[T]:
        from tqdm.auto import tqdm

        yield from tqdm(iterable, total=total, desc=desc, leave=False, dynamic_ncols=True)

    return progress
