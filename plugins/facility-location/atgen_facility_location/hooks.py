"""Hook implementations of the ``facility-location`` plugin (light: the strategy is imported lazily)."""

from __future__ import annotations

from atgen_core import Strategy, hookimpl


@hookimpl
def atgen_register_strategies() -> list[type[Strategy]]:
    """Register the ``facility-location`` strategy."""
    from atgen_facility_location.strategy import FacilityLocationStrategy

    return [FacilityLocationStrategy]
