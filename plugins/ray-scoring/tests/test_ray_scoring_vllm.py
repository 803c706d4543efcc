"""The ``ray-vllm`` backend without a GPU: config validation, the processor config, rows in and out, errors."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from atgen_ray_scoring.vllm_backend import VllmScoring, require_vllm
from atgen_ray_scoring.vllm_rows import VllmRequestBuilder, VllmResultReader, generation_from_result, topk_entropy
from atgen_ray_scoring.work import ShardTask
from pydantic import ValidationError
from ray_scoring_helpers import prompts, request

from atgen_core import GenerationSettings


def backend(**config: Any) -> VllmScoring:
    return VllmScoring(VllmScoring.Config(**config))


def lora_adapter(root: Path) -> Path:
    root.mkdir(parents=True)
    (root / "adapter_config.json").write_text(json.dumps({"r": 8}))
    return root


def test_config_validation_names_the_field_and_the_fix() -> None:
    with pytest.raises(ValidationError, match=r"engine_kwargs.*use the field tensor_parallel_size"):
        VllmScoring.Config(engine_kwargs={"tensor_parallel_size": 2})
    with pytest.raises(ValidationError, match=r"engine_kwargs.*always generates"):
        VllmScoring.Config(engine_kwargs={"task_type": "embed"})
    with pytest.raises(ValidationError, match=r"logprobs: 30 is more than engine_kwargs\.max_logprobs"):
        VllmScoring.Config(logprobs=30, engine_kwargs={"max_logprobs": 20})
    with pytest.raises(ValidationError, match="system_prompt"):
        VllmScoring.Config(prompt_format="plain", system_prompt="Be brief.")
    with pytest.raises(ValidationError, match="num_cpus, temp_dir: only apply when atgen starts a private cluster"):
        VllmScoring.Config(address="auto", num_cpus=4, temp_dir="/tmp/r")
    with pytest.raises(ValidationError, match="concurrency"):
        VllmScoring.Config(concurrency=0)
    with pytest.raises(ValidationError, match="extra"):
        VllmScoring.Config(gpu_memory_utilization=0.8)  # type: ignore[call-arg]
    assert VllmScoring.Config(address="ray://head:10001", engine_kwargs={"max_model_len": 2048}).concurrency == 1


def test_processor_config_for_a_lora_round(tmp_path: Path) -> None:
    pytest.importorskip("ray.data.llm")
    adapter = lora_adapter(tmp_path / "adapters" / "round-2" / "adapter")
    ids, texts = prompts(3)
    req = request(ids, texts, run_dir=tmp_path, model_path="HuggingFaceTB/SmolLM2-135M-Instruct", adapter=adapter)
    b = backend(concurrency=2, batch_size=32, accelerator_type="L4", logprobs=5, max_lora_rank=16,
                tensor_parallel_size=2, engine_kwargs={"gpu_memory_utilization": 0.8, "max_logprobs": 50},
                runtime_env={"env_vars": {"HF_HOME": "/shared/hf"}})
    cfg = b.processor_config(req)
    from ray.data.llm import vLLMEngineProcessorConfig

    assert isinstance(cfg, vLLMEngineProcessorConfig)
    assert cfg.model_source == "HuggingFaceTB/SmolLM2-135M-Instruct"
    assert (cfg.batch_size, cfg.concurrency, cfg.accelerator_type) == (32, 2, "L4")
    assert cfg.runtime_env == {"env_vars": {"HF_HOME": "/shared/hf"}}
    assert cfg.chat_template_stage is True
    kwargs = cfg.engine_kwargs
    assert kwargs["enable_lora"] is True and kwargs["max_lora_rank"] == 16
    assert kwargs["tensor_parallel_size"] == 2 and kwargs["max_logprobs"] == 50
    assert kwargs["gpu_memory_utilization"] == 0.8 and kwargs["task_type"] == "generate"
    builder = b.request_builder(req, ShardTask("generate", req.settings))
    assert builder.lora_path == str(adapter.resolve())


def test_processor_config_without_adapter_and_with_a_full_fine_tune(tmp_path: Path) -> None:
    pytest.importorskip("ray.data.llm")
    ids, texts = prompts(2)
    req = request(ids, texts, run_dir=tmp_path, model_path="/models/base")
    cfg = backend(prompt_format="plain").processor_config(req)
    assert cfg.model_source == "/models/base" and "enable_lora" not in cfg.engine_kwargs
    assert cfg.chat_template_stage is False and cfg.engine_kwargs["max_logprobs"] == 20
    full = tmp_path / "round-0" / "model"
    full.mkdir(parents=True)
    (full / "config.json").write_text("{}")
    served = backend().served_model(request(ids, texts, run_dir=tmp_path, model_path="/models/base", adapter=full))
    assert served.source == str(full.resolve()) and served.lora_path is None


def test_models_vllm_cannot_serve_are_clear_errors(tmp_path: Path) -> None:
    ids, texts = prompts(2)
    with pytest.raises(ValueError, match="model_source: vLLM needs a Hugging Face format model"):
        backend().served_model(request(ids, texts, run_dir=tmp_path, model_path="smollm2-135m-instruct"))
    with pytest.raises(ValueError, match="model_source"):
        backend().served_model(request(ids, texts, run_dir=tmp_path, model_path="/m/model-q8.gguf"))
    assert backend(model_source="/converted").served_model(
        request(ids, texts, run_dir=tmp_path, model_path="smollm2-135m-instruct")
    ).source == "/converted"
    empty = tmp_path / "empty"
    empty.mkdir()
    with pytest.raises(ValueError, match="neither a LoRA adapter"):
        backend().served_model(request(ids, texts, run_dir=tmp_path, model_path="/m", adapter=empty))


def test_missing_vllm_is_a_clear_error_before_anything_runs(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import importlib.util

    pytest.importorskip("ray", reason="without Ray, require_vllm reports the missing Ray first")
    real = importlib.util.find_spec
    monkeypatch.setattr(importlib.util, "find_spec", lambda name, *a: None if name == "vllm" else real(name, *a))
    with pytest.raises(ImportError, match=r"needs vLLM, which is not installed.*atgen-ray-scoring\[vllm\]"):
        require_vllm()
    ids, texts = prompts(3)
    with pytest.raises(ImportError, match="needs vLLM"):
        backend().generate(request(ids, texts, run_dir=tmp_path, model_path="/models/base"))
    assert not list((tmp_path / "scoring").glob("*/shard-*"))


def test_request_rows_for_chat_and_plain_prompts() -> None:
    settings = GenerationSettings(max_new_tokens=12, do_sample=False, temperature=0.7, top_p=0.9)
    chat = VllmRequestBuilder(settings, logprobs=4, prompt_format="chat", system_prompt="Be brief.",
                              max_input_tokens=256, lora_path="/run/adapters/round-1/adapter")
    row = chat({"shard": "shard-00000-x", "id": "a", "sample": 0, "prompt": "Describe X", "seed": 9})
    assert row["messages"] == [{"role": "system", "content": "Be brief."}, {"role": "user", "content": "Describe X"}]
    assert row["sampling_params"] == {"max_tokens": 12, "temperature": 0.0, "top_p": 1.0, "logprobs": 4, "seed": 9,
                                      "truncate_prompt_tokens": 256}
    assert row["model"] == "/run/adapters/round-1/adapter" and "prompt" not in row
    sampled = GenerationSettings(max_new_tokens=5, do_sample=True, temperature=0.7, top_p=0.9)
    plain = VllmRequestBuilder(sampled, logprobs=2, prompt_format="plain")
    row = plain({"shard": "s", "id": "b", "sample": 3, "prompt": "Q?", "seed": 1})
    assert row["prompt"] == "Q?\n" and "messages" not in row and "model" not in row
    assert row["sampling_params"]["temperature"] == 0.7 and row["sampling_params"]["top_p"] == 0.9
    assert (row["shard"], row["id"], row["sample"]) == ("s", "b", 3)


def test_samples_become_rows_with_distinct_seeds() -> None:
    from atgen_ray_scoring.shards import plan_shards

    ids, texts = prompts(5)
    task = ShardTask("sample", GenerationSettings(seed=4), n_samples=3)
    rows = VllmScoring.input_rows(task, plan_shards(ids, texts, 2))
    assert len(rows) == 15 and len({r["seed"] for r in rows}) == 15
    first = [(r["id"], r["sample"]) for r in rows[:4]]
    assert first == [("row0000", 0), ("row0000", 1), ("row0000", 2), ("row0001", 0)]


def test_engine_rows_become_generations() -> None:
    import math

    alternatives = {7: {"logprob": math.log(0.5), "rank": 1, "decoded_token": "a"},
                    9: {"logprob": math.log(0.25), "rank": 2, "decoded_token": "b"}}
    row = {"shard": "s", "id": "a", "sample": 0, "generated_text": " The answer. ", "generated_tokens": [7, 9],
           "logprobs": [alternatives, {str(k): v for k, v in alternatives.items()}]}
    gen = generation_from_result(row)
    assert gen.text == "The answer."
    assert gen.token_logprobs == (math.log(0.5), math.log(0.25))
    expected = -(0.5 * math.log(0.5) + 0.25 * math.log(0.25))
    assert gen.token_entropies == pytest.approx((expected, expected))
    # Arrow may store the dicts as structs: keys of other rows show up as None and are skipped.
    assert topk_entropy({**alternatives, 11: None}) == pytest.approx(expected)
    out = VllmResultReader()(row)
    assert json.loads(out["result"])["token_logprobs"] == list(gen.token_logprobs)
    with pytest.raises(ValueError, match="is `logprobs` set"):
        generation_from_result({**row, "logprobs": [alternatives]})
    with pytest.raises(ValueError, match="no log-prob for the chosen token 8"):
        generation_from_result({**row, "generated_tokens": [7, 8]})
    with pytest.raises(RuntimeError, match="vLLM failed on id 'a': CUDA OOM"):
        VllmResultReader()({**row, "__inference_error__": "CUDA OOM"})


def test_embed_is_refused_before_anything_is_written(tmp_path: Path) -> None:
    ids, texts = prompts(2)
    with pytest.raises(NotImplementedError, match="does not embed"):
        backend().embed(request(ids, texts, run_dir=tmp_path, model_path="/models/base"))
    assert not (tmp_path / "scoring").exists()
