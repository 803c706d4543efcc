"""atgen-tensorboard: the ``tensorboard`` tracker (event files under the run directory)."""

from __future__ import annotations

__version__ = "0.1.0"
