"""The ``local`` backend: results, resume after a kill, stale shards, the loop integration (no Ray)."""

from __future__ import annotations

import json
import shutil
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest
import ray_scoring_fake_trainer as fake
from atgen_ray_scoring.local import LocalScoring
from ray_scoring_helpers import FAKE_MODULE, prompts, request, run_killed_job, scored_counts

from atgen_core import EmbedContext, EmbedderRecipe, GenerationSettings, ModelContext, ModelSpec


def local(**config: Any) -> LocalScoring:
    return LocalScoring(LocalScoring.Config(extra_plugin_modules=[FAKE_MODULE], **config))


def direct_handle(adapter: Path | None = None, **config: Any) -> fake.FakeHandle:
    trainer = fake.FakeCountingTrainer(fake.FakeConfig(**config))
    return trainer.load(ModelContext(model=ModelSpec(path="fake-model")), adapter)


def test_generate_returns_outputs_in_request_order_and_equal_to_the_model(tmp_path: Path) -> None:
    ids, texts = prompts(11)
    backend = local(shard_size=4, reuse_loop_model=False)
    req = request(ids, texts, run_dir=tmp_path)
    out = backend.generate(req)
    assert out == direct_handle().generate(texts, req.settings)
    folder = tmp_path / "scoring" / backend.jobs[0]["folder"].split("/")[-1]
    assert sorted(p.name for p in folder.iterdir() if p.suffix == ".parquet") == sorted(
        f"{name}.parquet" for name in backend.jobs[0]["computed"]
    )
    assert len(backend.jobs[0]["computed"]) == 3 and (folder / "manifest.json").is_file()


def test_second_call_reuses_every_shard_and_computes_nothing(tmp_path: Path) -> None:
    ids, texts = prompts(9)
    counter = tmp_path / "counts"
    backend = local(shard_size=4, reuse_loop_model=False)
    req = request(ids, texts, run_dir=tmp_path / "run", trainer_config={"counter_dir": str(counter)})
    first = backend.generate(req)
    again = local(shard_size=4, reuse_loop_model=False).generate(req)
    assert again == first
    assert scored_counts(counter) == {t: 1 for t in texts}


def test_reuse_loop_model_uses_the_offered_handle(tmp_path: Path) -> None:
    ids, texts = prompts(5)
    calls: list[int] = []
    handle = direct_handle()

    def offered() -> fake.FakeHandle:
        calls.append(1)
        return handle

    req = request(ids, texts, run_dir=tmp_path, local_model=offered, trainer="not-registered-anywhere")
    out = LocalScoring(LocalScoring.Config(shard_size=2)).generate(req)
    assert calls == [1] and out == handle.generate(texts, req.settings)


def test_samples_have_n_outputs_and_depend_only_on_the_shard(tmp_path: Path) -> None:
    ids, texts = prompts(6)
    settings = GenerationSettings(max_new_tokens=6, batch_size=4, seed=7, do_sample=True)
    req = request(ids, texts, run_dir=tmp_path / "a", settings=settings, n_samples=3)
    out = local(shard_size=3, reuse_loop_model=False).sample(req)
    assert [len(x) for x in out] == [3] * 6
    assert len({g.text for x in out for g in x}) == 18  # samples differ from each other
    # Same request elsewhere: the same samples (seeds come from the shard, not from the worker).
    assert local(shard_size=3, reuse_loop_model=False).sample(replace(req, run_dir=tmp_path / "b")) == out
    with pytest.raises(ValueError, match="n_samples=0"):
        local().sample(replace(req, n_samples=0))


def test_new_adapter_gets_a_new_folder_and_never_mixes_stale_shards(tmp_path: Path) -> None:
    ids, texts = prompts(8)
    counter = tmp_path / "counts"
    run = tmp_path / "run"
    adapters = []
    for round_ in range(2):
        folder = run / "adapters" / f"round-{round_}" / "adapter"
        folder.mkdir(parents=True)
        (folder / fake.ADAPTER_FILE).write_text(f"adapter-{round_}")
        adapters.append(folder)
    cfg = {"counter_dir": str(counter)}
    backend = local(shard_size=4, reuse_loop_model=False)
    first = backend.generate(request(ids, texts, run_dir=run, trainer_config=cfg, adapter=adapters[0]))
    second = backend.generate(request(ids, texts, run_dir=run, trainer_config=cfg, adapter=adapters[1]))
    assert [g.text.split(":")[0] for g in first] == ["fake-model/adapter-0"] * 8
    assert [g.text.split(":")[0] for g in second] == ["fake-model/adapter-1"] * 8
    assert backend.jobs[1]["reused"] == 0 and backend.jobs[0]["folder"] != backend.jobs[1]["folder"]
    assert len(list((run / "scoring").iterdir())) == 2
    assert scored_counts(counter) == {t: 2 for t in texts}
    # Overwriting an adapter in place (same path, new weights) is also a new job.
    (adapters[0] / fake.ADAPTER_FILE).write_text("adapter-0-retrained")
    third = backend.generate(request(ids, texts, run_dir=run, trainer_config=cfg, adapter=adapters[0]))
    assert {g.text.split(":")[0] for g in third} == {"fake-model/adapter-0-retrained"}


def test_unreadable_shard_is_recomputed(tmp_path: Path) -> None:
    ids, texts = prompts(8)
    counter = tmp_path / "counts"
    req = request(ids, texts, run_dir=tmp_path / "run", trainer_config={"counter_dir": str(counter)})
    backend = local(shard_size=4, reuse_loop_model=False)
    good = backend.generate(req)
    folder = Path(backend.jobs[0]["folder"])
    victim = folder / f"{backend.jobs[0]['computed'][1]}.parquet"
    victim.write_bytes(b"garbage")
    assert backend.generate(req) == good
    assert backend.jobs[1]["computed"] == [victim.stem]
    assert scored_counts(counter) == {t: (2 if i >= 4 else 1) for i, t in enumerate(texts)}


def test_missing_output_folder_and_bad_config_are_clear_errors() -> None:
    ids, texts = prompts(2)
    with pytest.raises(ValueError, match="output_dir"):
        local().generate(request(ids, texts, run_dir=None))
    from pydantic import ValidationError

    with pytest.raises(ValidationError, match="extra_plugin_modules"):
        LocalScoring.Config(extra_plugin_modules=["not a module"])
    with pytest.raises(ValidationError, match="shard_size"):
        LocalScoring.Config(shard_size=0)


def test_output_dir_is_used_without_run_dir(tmp_path: Path) -> None:
    ids, texts = prompts(3)
    backend = local(shard_size=2, reuse_loop_model=False, output_dir=str(tmp_path / "shards"))
    out = backend.generate(request(ids, texts, run_dir=None))
    assert len(out) == 3 and Path(backend.jobs[0]["folder"]).parent == tmp_path / "shards"


def test_embed_goes_through_the_same_shards(tmp_path: Path) -> None:
    ids, texts = prompts(7)
    counter = tmp_path / "counts"
    req = request(ids, texts, run_dir=tmp_path, trainer_config={"counter_dir": str(counter)})
    matrix = local(shard_size=3, reuse_loop_model=False).embed(req)
    assert matrix.shape == (7, 4) and matrix.dtype.name == "float32"
    assert (matrix == direct_handle().embed(texts)).all()
    assert (local(shard_size=3, reuse_loop_model=False).embed(req) == matrix).all()
    assert scored_counts(counter) == {t: 1 for t in texts}


def test_killed_job_restarts_without_recomputing_finished_rows(tmp_path: Path) -> None:
    ids, texts = prompts(16)
    counter = tmp_path / "counts"
    run = tmp_path / "run"
    trainer_config = {"counter_dir": str(counter), "delay": 0.3}
    args = {
        "backend": "local",
        "config": {"shard_size": 2, "reuse_loop_model": False, "extra_plugin_modules": [FAKE_MODULE]},
        "ids": ids, "prompts": texts, "run_dir": str(run), "trainer_config": trainer_config,
        "settings": {"max_new_tokens": 6, "batch_size": 4, "seed": 7},
    }
    finished = run_killed_job(args, run, min_shards=2)
    assert 2 <= len(finished) < 8
    before = scored_counts(counter)

    backend = local(shard_size=2, reuse_loop_model=False)
    req = request(ids, texts, run_dir=run, trainer_config=trainer_config)  # the same job (same manifest key)
    out = backend.generate(req)
    job = backend.jobs[0]
    assert job["reused"] == len(finished) and set(job["computed"]).isdisjoint(finished)
    after = scored_counts(counter)
    finished_rows = {t for i, t in enumerate(texts) if any(n.startswith(f"shard-{i // 2:05d}-") for n in finished)}
    assert len(finished_rows) == 2 * len(finished)
    for text in finished_rows:
        assert after[text] == before[text] == 1, text  # scored once, before the kill; never again
    assert all(after[t] >= 1 for t in texts)
    assert out == direct_handle().generate(texts, req.settings)


def test_loop_with_local_backend_selects_like_the_in_process_loop(tmp_path: Path) -> None:
    pytest.importorskip("atgen_baselines")
    pytest.importorskip("atgen_basics")
    from ray_scoring_helpers import loop_spec, run_loop, write_data

    data = write_data(tmp_path / "data.jsonl")
    scoring = {"name": "local", "config": {"shard_size": 5}}
    plain = run_loop(loop_spec(data, None), tmp_path / "plain")
    sharded = run_loop(loop_spec(data, scoring), tmp_path / "sharded")
    assert sharded == plain and len(sharded) == 3
    folders = sorted((tmp_path / "sharded" / "scoring").iterdir())
    # Rounds 1 and 2 were scored, each with that round's adapter: two manifest keys, two folders.
    assert len(folders) == 2 and all(f.name.startswith("generate-") for f in folders)
    rounds = {json.loads((f / "manifest.json").read_text())["info"]["round"] for f in folders}
    assert rounds == {1, 2}
    adapters = {json.loads((f / "manifest.json").read_text())["keyed"]["adapter_sha256"] for f in folders}
    assert len(adapters) == 2


def test_embedder_jobs_are_keyed_by_the_embedder_and_shared_across_rounds(tmp_path: Path) -> None:
    ids, texts = prompts(7)
    counter = tmp_path / "counts"
    run = tmp_path / "run"
    adapter = run / "adapters" / "round-0" / "adapter"
    adapter.mkdir(parents=True)
    (adapter / fake.ADAPTER_FILE).write_text("adapter-0")
    fixed = EmbedderRecipe("fake-counting-embedder", {"counter_dir": str(counter), "dims": 5})
    backend = local(shard_size=3, reuse_loop_model=False)
    first = backend.embed(request(ids, texts, run_dir=run, embedder=fixed))
    assert first.shape == (7, 5)
    expected = fake.FakeCountingEmbedder(fake.FakeEmbedderConfig(dims=5)).embed(texts, EmbedContext())
    assert (first == expected).all()
    # Another round (new adapter, new trainer config): the same job for a model-free embedder.
    again = backend.embed(request(ids, texts, run_dir=run, embedder=fixed, adapter=adapter,
                                  trainer_config={"delay": 0.0}))
    assert (again == first).all() and backend.jobs[1]["reused"] == 3 and backend.jobs[1]["computed"] == []
    assert scored_counts(counter) == {f"embed:{t}": 1 for t in texts}
    keyed = json.loads((Path(backend.jobs[0]["folder"]) / "manifest.json").read_text())["keyed"]
    assert keyed["embedder"]["name"] == "fake-counting-embedder"
    assert keyed["trainer"] is None and keyed["adapter_sha256"] is None
    # An embedder that reads the model is keyed by the round's adapter and sees that model.
    needs = EmbedderRecipe("fake-model-embedder", {}, needs_model=True)
    base = backend.embed(request(ids, texts, run_dir=run, embedder=needs))
    tuned = backend.embed(request(ids, texts, run_dir=run, embedder=needs, adapter=adapter))
    assert (base == direct_handle().embed(texts)).all()
    assert (tuned == direct_handle(adapter).embed(texts)).all() and not (tuned == base).all()
    assert backend.jobs[3]["reused"] == 0


def test_loop_embeds_through_the_backend_once_per_run(tmp_path: Path) -> None:
    pytest.importorskip("atgen_baselines")
    pytest.importorskip("atgen_basics")
    from ray_scoring_helpers import loop_spec, run_loop, write_data

    data = write_data(tmp_path / "data.jsonl")
    counter = tmp_path / "counts"
    embedder = {"name": "fake-counting-embedder", "config": {"counter_dir": str(counter)}}
    plain = run_loop({**loop_spec(data, None, strategy="idds"), "embedder": embedder}, tmp_path / "plain")
    in_process = scored_counts(counter)
    shutil.rmtree(counter)
    scoring = {"name": "local", "config": {"shard_size": 5, "extra_plugin_modules": [FAKE_MODULE]}}
    sharded = run_loop({**loop_spec(data, scoring, strategy="idds"), "embedder": embedder}, tmp_path / "sharded")
    assert sharded == plain and len(sharded) == 3
    # Both rounds needed embeddings; the pool was embedded once, through the backend's shards.
    assert scored_counts(counter) == in_process and set(in_process.values()) == {1}
    folders = sorted((tmp_path / "sharded" / "scoring").iterdir())
    assert [f.name.split("-")[0] for f in folders] == ["embed"]
    assert len(list(folders[0].glob("shard-*.parquet"))) == -(-len(in_process) // 5)


def test_recipes_ship_the_adapter_only_to_jobs_that_load_the_model(tmp_path: Path) -> None:
    from atgen_ray_scoring.recipe import ModelRecipe

    ids, texts = prompts(2)
    adapter = tmp_path / "adapter"
    adapter.mkdir()
    (adapter / fake.ADAPTER_FILE).write_text("adapter-0")
    free = EmbedderRecipe("fake-counting-embedder", {})
    needs = EmbedderRecipe("fake-model-embedder", {}, needs_model=True)
    shipped = {
        label: ModelRecipe.from_request(request(ids, texts, run_dir=tmp_path, adapter=adapter, embedder=e),
                                        ship_adapter=True).adapter_archive is not None
        for label, e in (("generate", None), ("model-free embedder", free), ("model embedder", needs))
    }
    assert shipped == {"generate": True, "model-free embedder": False, "model embedder": True}
