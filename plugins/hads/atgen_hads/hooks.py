"""atgen hook implementations of the ``hads`` plugin (registration only)."""

from __future__ import annotations

from atgen_core import Strategy, hookimpl


@hookimpl
def atgen_register_strategies() -> type[Strategy]:
    """Register the ``hadas`` strategy."""
    from atgen_hads.strategy import HADASStrategy

    return HADASStrategy
