"""The ``ray`` and ``ray-vllm`` backends on one local Ray cluster started by this module.

The cluster is hermetic: its own temp dir, no dashboard, a small object store, a unique namespace, no
usage reporting; on teardown every process it started is found by its temp dir and killed by pid.
"""

from __future__ import annotations

import logging
import os
import shutil
import tempfile
import uuid
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest
from atgen_ray_scoring.local import LocalScoring
from atgen_ray_scoring.ray_backend import RayScoring
from ray_scoring_helpers import (
    FAKE_MODULE,
    kill_pids,
    loop_spec,
    make_tiny_llama,
    processes_under,
    prompts,
    request,
    run_killed_job,
    run_loop,
    scored_counts,
    write_data,
)

from atgen_core import EmbedderRecipe, Generation, ModelContext, ModelSpec, TrainContext, TrainExample

ray = pytest.importorskip("ray")

TESTS = Path(__file__).resolve().parent


@pytest.fixture(scope="module")
def ray_cluster() -> Iterator[str]:
    """A 2-CPU local cluster for this module; yields its address (other drivers can join it)."""
    saved = {k: os.environ.get(k) for k in ("RAY_AUTH_MODE", "RAY_USAGE_STATS_ENABLED", "PYTHONPATH")}
    os.environ["RAY_AUTH_MODE"] = "disabled"
    os.environ["RAY_USAGE_STATS_ENABLED"] = "0"
    # Workers import the fake trainer module from this folder (Ray ships only the driver script's folder).
    os.environ["PYTHONPATH"] = os.pathsep.join(p for p in (str(TESTS), saved["PYTHONPATH"]) if p)
    if ray.is_initialized():
        pytest.skip("Ray is already initialised in this process by another test")
    temp = tempfile.mkdtemp(prefix="rs", dir="/tmp")  # short: Ray's socket paths are length-limited
    try:
        context = ray.init(
            address="local", num_cpus=2, include_dashboard=False, namespace=f"atgen-test-{uuid.uuid4().hex[:8]}",
            _temp_dir=temp, object_store_memory=128 * 1024 * 1024, log_to_driver=False, logging_level=logging.WARNING,
        )
        ray.data.DataContext.get_current().enable_progress_bars = False
        yield str(context.address_info["address"])
    finally:
        started = processes_under(temp)
        ray.shutdown()
        kill_pids(started)
        shutil.rmtree(temp, ignore_errors=True)
        for key, value in saved.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value


def ray_backend(**config: Any) -> RayScoring:
    defaults: dict[str, Any] = {"num_workers": 2, "num_cpus_per_worker": 0.5, "extra_plugin_modules": [FAKE_MODULE]}
    return RayScoring(RayScoring.Config(**{**defaults, **config}))


def max_logprob_gap(a: list[Generation], b: list[Generation]) -> float:
    gaps = [abs(x - y) for g, h in zip(a, b) for x, y in zip(g.token_logprobs, h.token_logprobs)]
    return max(gaps, default=0.0)


@pytest.fixture(scope="module")
def lora_model(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    """A tiny Llama folder and a LoRA adapter trained on it by the real ``lora`` trainer."""
    pytest.importorskip("transformers")
    pytest.importorskip("tokenizers")
    trainer_mod = pytest.importorskip("atgen_lora_trainer.trainer")
    root = tmp_path_factory.mktemp("lora")
    model_dir = make_tiny_llama(root / "model")
    trainer = trainer_mod.LoraTrainer(trainer_mod.LoraTrainer.Config(**LORA_CONFIG))
    ids, texts = prompts(6)
    result = trainer.train(TrainContext(
        examples=[TrainExample(id=i, prompt=t, target=t.upper()) for i, t in zip(ids, texts)],
        model=ModelSpec(path=str(model_dir), max_input_tokens=64), output_dir=root / "round-0", seed=1,
    ))
    assert result.adapter_path is not None and (Path(result.adapter_path) / "adapter_config.json").is_file()
    return model_dir, Path(result.adapter_path)


LORA_CONFIG: dict[str, Any] = {"device": "cpu", "r": 4, "alpha": 8.0, "epochs": 2, "batch_size": 3,
                               "learning_rate": 0.01}


def test_ray_matches_local_exactly_with_the_lora_trainer(
    ray_cluster: str, lora_model: tuple[Path, Path], tmp_path: Path
) -> None:
    from atgen_lora_trainer.trainer import LoraTrainer

    model_dir, adapter = lora_model
    ids, texts = prompts(14)
    lora = LoraTrainer(LoraTrainer.Config(**LORA_CONFIG))
    ctx = ModelContext(model=ModelSpec(path=str(model_dir), max_input_tokens=64))
    in_process = lora.load(ctx, adapter)
    base = request(ids, texts, run_dir=tmp_path / "local", trainer="lora", trainer_config=LORA_CONFIG,
                   model_path=str(model_dir), adapter=adapter, local_model=lambda: in_process)
    sampling = replace(base, settings=replace(base.settings, do_sample=True, seed=11), n_samples=2)
    local = LocalScoring(LocalScoring.Config(shard_size=4))
    local_out, local_samples = local.generate(base), local.sample(sampling)

    # The workers rebuild the lora trainer from the registry and load model + adapter themselves.
    remote = ray_backend(shard_size=4, num_workers=1, extra_plugin_modules=[])
    ray_out = remote.generate(replace(base, run_dir=tmp_path / "ray", local_model=None))
    ray_samples = remote.sample(replace(sampling, run_dir=tmp_path / "ray", local_model=None))
    assert [job["reused"] for job in remote.jobs] == [0, 0] and len(remote.jobs[0]["computed"]) == 4

    assert [g.text for g in ray_out] == [g.text for g in local_out]
    assert max_logprob_gap(ray_out, local_out) <= 1e-5
    assert [[g.text for g in s] for s in ray_samples] == [[g.text for g in s] for s in local_samples]
    assert max_logprob_gap([g for s in ray_samples for g in s], [g for s in local_samples for g in s]) <= 1e-5
    assert all(g.num_tokens > 0 for g in ray_out)

    # The unsharded in-process call agrees (its batches differ, so allow float noise), and the
    # adapter matters: the base model scores differently, so the workers really applied it.
    whole = in_process.generate(texts, base.settings)
    assert [g.text for g in whole] == [g.text for g in ray_out]
    assert max_logprob_gap(whole, ray_out) <= 1e-4
    plain = lora.load(ctx, None).generate(texts, base.settings)
    assert [g.token_logprobs for g in plain] != [g.token_logprobs for g in ray_out]


def test_killed_driver_restarts_without_recomputing_finished_rows(ray_cluster: str, tmp_path: Path) -> None:
    ids, texts = prompts(20)
    counter = tmp_path / "counts"
    run = tmp_path / "run"
    trainer_config = {"counter_dir": str(counter), "delay": 0.4}
    config = {"address": ray_cluster, "num_workers": 1, "num_cpus_per_worker": 0.5, "shard_size": 2,
              "extra_plugin_modules": [FAKE_MODULE]}
    args = {"backend": "ray", "config": config, "ids": ids, "prompts": texts, "run_dir": str(run),
            "trainer_config": trainer_config, "settings": {"max_new_tokens": 6, "batch_size": 4, "seed": 7}}
    # A driver of its own joins this cluster, scores, and is SIGKILLed after three shards.
    finished = run_killed_job(args, run, min_shards=3, timeout=180)
    assert 3 <= len(finished) < 10
    before = scored_counts(counter)

    backend = ray_backend(num_workers=2, shard_size=2)
    req = request(ids, texts, run_dir=run, trainer_config=trainer_config)
    out = backend.generate(req)
    job = backend.jobs[0]
    assert job["reused"] == len(finished) and set(job["computed"]).isdisjoint(finished)
    assert len(job["computed"]) == 10 - len(finished)
    after = scored_counts(counter)
    finished_rows = {t for i, t in enumerate(texts) if any(n.startswith(f"shard-{i // 2:05d}-") for n in finished)}
    assert len(finished_rows) == 2 * len(finished)
    for text in finished_rows:
        assert after[text] == before[text] == 1, text
    # Correct and complete: the same as scoring everything from scratch in-process.
    fresh = LocalScoring(LocalScoring.Config(shard_size=2, reuse_loop_model=False,
                                             extra_plugin_modules=[FAKE_MODULE]))
    assert out == fresh.generate(replace(req, run_dir=tmp_path / "fresh", trainer_config={}))


def test_embeddings_and_samples_through_ray_match_local(ray_cluster: str, tmp_path: Path) -> None:
    ids, texts = prompts(9)
    req = request(ids, texts, run_dir=tmp_path / "ray")
    backend = ray_backend(shard_size=4)
    local = LocalScoring(LocalScoring.Config(shard_size=4, reuse_loop_model=False, extra_plugin_modules=[FAKE_MODULE]))
    assert (backend.embed(req) == local.embed(replace(req, run_dir=tmp_path / "local"))).all()
    job = backend.jobs[0]
    assert job["workers"] in (1, 2) and job["worker_cpu_seconds"] > 0 and job["scoring_seconds"] >= 0
    sampling = replace(req, n_samples=3, settings=replace(req.settings, do_sample=True))
    assert backend.sample(sampling) == local.sample(replace(sampling, run_dir=tmp_path / "local"))


def test_embedder_recipe_through_ray_matches_local_and_is_shared_across_rounds(
    ray_cluster: str, tmp_path: Path
) -> None:
    ids, texts = prompts(9)
    counter = tmp_path / "counts"
    recipe = EmbedderRecipe("fake-counting-embedder", {"counter_dir": str(counter), "dims": 6})
    backend = ray_backend(shard_size=4)
    remote = backend.embed(request(ids, texts, run_dir=tmp_path / "ray", embedder=recipe))
    local = LocalScoring(LocalScoring.Config(shard_size=4, reuse_loop_model=False, extra_plugin_modules=[FAKE_MODULE]))
    assert remote.shape == (9, 6)
    assert (remote == local.embed(request(ids, texts, run_dir=tmp_path / "local", embedder=recipe))).all()
    # The workers ran the embedder (not the model): each text was embedded once per backend.
    assert scored_counts(counter) == {f"embed:{t}": 2 for t in texts}
    # A later round with another trainer config reuses every shard of a model-free embedder.
    again = backend.embed(request(ids, texts, run_dir=tmp_path / "ray", embedder=recipe,
                                  trainer_config={"delay": 0.0}))
    assert (again == remote).all() and backend.jobs[1]["reused"] == 3 and backend.jobs[1]["computed"] == []
    assert scored_counts(counter) == {f"embed:{t}": 2 for t in texts}


def test_loop_with_ray_backend_selects_like_local(ray_cluster: str, tmp_path: Path) -> None:
    pytest.importorskip("atgen_baselines")
    pytest.importorskip("atgen_basics")
    data = write_data(tmp_path / "data.jsonl")
    common = {"shard_size": 5, "extra_plugin_modules": [FAKE_MODULE]}
    local = run_loop(loop_spec(data, {"name": "local", "config": common}), tmp_path / "local")
    remote = run_loop(
        loop_spec(data, {"name": "ray", "config": {**common, "num_workers": 1, "num_cpus_per_worker": 0.5}}),
        tmp_path / "ray",
    )
    assert remote == local and len(remote) == 3
    assert sorted(p.name for p in (tmp_path / "ray" / "scoring").iterdir()) == sorted(
        p.name for p in (tmp_path / "local" / "scoring").iterdir()
    )


def test_vllm_backend_driver_with_a_stand_in_engine(
    ray_cluster: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Everything of ``ray-vllm`` except vLLM itself: rows out, engine-shaped rows back, shards written."""
    from atgen_ray_scoring import vllm_backend
    from atgen_ray_scoring.vllm_rows import VllmResultReader

    def engine(row: dict[str, Any]) -> dict[str, Any]:
        prompt = row["messages"][-1]["content"] if "messages" in row else row["prompt"]
        seed = int(row["sampling_params"]["seed"])
        tokens = [5 + (seed + k) % 50 for k in range(1 + len(prompt) % 4)]
        logprobs = [{t: {"logprob": -0.25 * (k + 1), "rank": 1, "decoded_token": "a"},
                     t + 1: {"logprob": -3.0, "rank": 2, "decoded_token": "b"}} for k, t in enumerate(tokens)]
        return {"shard": row["shard"], "id": row["id"], "sample": row["sample"],
                "generated_text": f" {prompt[::-1]}|{seed} ", "generated_tokens": tokens, "logprobs": logprobs}

    backend = vllm_backend.VllmScoring(vllm_backend.VllmScoring.Config(shard_size=3, model_source="org/model"))
    monkeypatch.setattr(vllm_backend, "require_vllm", lambda: None)

    def stand_in(request: Any, task: Any) -> Any:
        builder = backend.request_builder(request, task)
        return lambda ds: ds.map(builder).map(engine).map(VllmResultReader())

    monkeypatch.setattr(backend, "_build_processor", stand_in)
    ids, texts = prompts(7)
    req = request(ids, texts, run_dir=tmp_path)
    out = backend.generate(req)
    assert [g.text for g in out] == [t[::-1] + "|" + g.text.rsplit("|", 1)[1] for t, g in zip(texts, out)]
    assert all(g.token_logprobs == tuple(-0.25 * (k + 1) for k in range(g.num_tokens)) for g in out)
    assert all(g.num_tokens == 1 + len(t) % 4 for g, t in zip(out, texts))
    assert backend.jobs[0]["computed"] and Path(backend.jobs[0]["folder"]).name.startswith("generate-")
    samples = backend.sample(replace(req, n_samples=2, settings=replace(req.settings, do_sample=True)))
    assert [len(s) for s in samples] == [2] * 7 and all(s[0].text != s[1].text for s in samples)
    # Finished: a second call reads the shards and never builds a processor.
    monkeypatch.setattr(backend, "_build_processor", lambda *a: pytest.fail("recomputed a finished job"))
    assert backend.generate(req) == out
