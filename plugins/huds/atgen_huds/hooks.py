"""atgen hook implementations of the ``huds`` plugin (registration only)."""

from __future__ import annotations

from atgen_core import Strategy, hookimpl


@hookimpl
def atgen_register_strategies() -> type[Strategy]:
    """Register the ``huds`` strategy."""
    from atgen_huds.strategy import HUDSStrategy

    return HUDSStrategy
