"""Encoder-decoder models: LoRA training on the target, scored generation, encoder embeddings."""

from __future__ import annotations

from pathlib import Path

import pytest
from atgen_lora_trainer.config import LoraTrainerConfig
from atgen_lora_trainer.decoding import DecodeOptions, decode_seq2seq
from atgen_lora_trainer.trainer import LoraTrainer
from lora_trainer_helpers import EXAMPLES, make_t5_dir

from atgen_core import GenerationSettings, ModelContext, ModelSpec, TrainContext, TrainExample


def test_seq2seq_trains_generates_and_scores(tmp_path: Path) -> None:
    import torch

    model_dir = make_t5_dir(tmp_path / "t5")
    spec = ModelSpec(path=str(model_dir))
    trainer = LoraTrainer(LoraTrainerConfig(epochs=4, batch_size=2, learning_rate=1e-2))
    examples = [TrainExample(id=str(i), prompt=p, target=t) for i, (p, t) in enumerate(EXAMPLES)]
    result = trainer.train(TrainContext(examples=examples, model=spec, output_dir=tmp_path / "out"))
    assert result.extra["prompt_format"] == "encoder-decoder"
    losses = result.extra["epoch_losses"]
    assert losses[-1] < losses[0]

    handle = result.model
    prompts = [EXAMPLES[0][0], EXAMPLES[3][0]]
    gens = handle.generate(prompts, GenerationSettings(max_new_tokens=6))
    # Scores equal a direct teacher-forced forward pass over the generated tokens.
    options = DecodeOptions(max_new_tokens=6, eos_ids=handle.eos_ids, pad_id=handle.pad_id)
    with torch.inference_mode():
        rows = decode_seq2seq(handle.model, handle.prompt_format.prompt_ids(prompts), options)
    start = handle.model.config.decoder_start_token_id
    for prompt, gen, row in zip(prompts, gens, rows):
        assert 1 <= gen.num_tokens <= 6 and row.logprobs == pytest.approx(list(gen.token_logprobs), abs=1e-6)
        (ids,) = handle.prompt_format.prompt_ids([prompt])
        with torch.no_grad():
            seq = torch.tensor([[start, *row.tokens]])
            logits = handle.model(input_ids=torch.tensor([ids]), decoder_input_ids=seq).logits[0]
        logp = torch.log_softmax(logits.double(), -1)
        expected = [float(logp[t, tok]) for t, tok in enumerate(row.tokens)]
        assert row.logprobs == pytest.approx(expected, abs=1e-4)
    reloaded = trainer.load(ModelContext(model=spec), result.adapter_path)
    again = reloaded.generate(prompts, GenerationSettings(max_new_tokens=6))
    for a, b in zip(again, gens):
        assert a.text == b.text and a.token_logprobs == pytest.approx(b.token_logprobs, abs=1e-5)
    matrix = handle.embed(["Blue Spice", "The Eagle serves French food."])
    assert matrix.shape == (2, 32)
    assert abs(float(matrix[0] @ matrix[1])) > 0
