"""Hook implementations of atgen-lora-trainer (imports nothing heavy)."""

from __future__ import annotations

from atgen_core import Trainer, hookimpl


@hookimpl
def atgen_register_trainers() -> list[type[Trainer]]:
    """The ``lora`` trainer (methods lora, dora, qlora and full are options of its config)."""
    from atgen_lora_trainer.trainer import LoraTrainer

    return [LoraTrainer]
