"""atgen-lora-trainer: LoRA / DoRA / QLoRA / full fine-tuning and the transformers model backend of atgen.

The component (``lora`` trainer) lives in :mod:`atgen_lora_trainer.trainer`; importing this package does
not import torch or transformers.
"""

from __future__ import annotations

__version__ = "0.1.0"

__all__ = ["__version__"]
