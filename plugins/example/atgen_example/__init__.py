"""atgen-example: a template plugin with one strategy, ``longest-first``.

Copy the folder ``plugins/example`` to start a plugin of your own; the README explains each file.
"""

from __future__ import annotations

__version__ = "0.1.0"
