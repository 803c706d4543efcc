"""atgen-wandb: the ``wandb`` tracker (one Weights & Biases run per atgen run, offline by default)."""

from __future__ import annotations

__version__ = "0.1.0"
