"""Hook implementations of the ``example`` plugin.

This module holds only hook implementations. It is imported by every ``atgen`` command, so it must
stay cheap: import component modules inside the hook functions, and heavy libraries (torch, ...)
only inside component methods.
"""

from __future__ import annotations

from atgen_core import Strategy, hookimpl


@hookimpl
def atgen_register_strategies() -> list[type[Strategy]]:
    """Register the ``longest-first`` strategy."""
    from atgen_example.longest_first import LongestFirstStrategy

    return [LongestFirstStrategy]
