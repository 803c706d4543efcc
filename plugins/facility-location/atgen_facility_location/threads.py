"""Run small matrix products on one BLAS thread.

A threaded BLAS call on a small matrix spends more time waking and synchronising its threads than
computing, and far more on a busy machine (measured here: a 20000 x 384 matrix-vector product took
11 ms on two threads under load and 0.6 ms on one). Loops of small products (the IVF search, the
per-step gain evaluations) therefore run single-threaded; large blocks keep every thread.
Uses threadpoolctl when it is installed, and does nothing otherwise.
"""

from __future__ import annotations

from contextlib import AbstractContextManager, nullcontext
from typing import Any

__all__ = ["single_blas_thread"]

_controller: Any = None


def single_blas_thread() -> AbstractContextManager[Any]:
    """A context in which BLAS uses one thread (a no-op without threadpoolctl)."""
    global _controller
    try:
        from threadpoolctl import ThreadpoolController
    except ImportError:  # pragma: no cover - threadpoolctl is a dependency, but stay usable without it
        return nullcontext()
    if _controller is None:
        _controller = ThreadpoolController()
    return _controller.limit(limits=1, user_api="blas")  # type: ignore[no-any-return]
