"""Shard plan, atomic shard files, the manifest key and the shard file format (no Ray, no model)."""

from __future__ import annotations

import math
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest
from atgen_ray_scoring.manifest import (
    MANIFEST_FILE,
    ManifestMismatchError,
    adapter_digest,
    build_manifest,
    open_shard_folder,
)
from atgen_ray_scoring.records import (
    ShardFormatError,
    embeddings_from_parquet,
    embeddings_to_parquet,
    generations_from_parquet,
    generations_to_parquet,
)
from atgen_ray_scoring.shards import clean_stale_temporaries, finished_shards, plan_shards, shard_seed
from ray_scoring_helpers import prompts, request

from atgen_core import Generation, GenerationSettings, ModelSpec
from atgen_core.atomic import atomic_write


def test_shard_names_are_deterministic_and_derived_from_ids() -> None:
    ids, texts = prompts(10)
    first = plan_shards(ids, texts, 4)
    assert [len(s) for s in first] == [4, 4, 2]
    assert [s.ids for s in first] == [tuple(ids[0:4]), tuple(ids[4:8]), tuple(ids[8:10])]
    assert [s.name for s in plan_shards(list(ids), list(texts), 4)] == [s.name for s in first]
    assert all(s.name.startswith(f"shard-{i:05d}-") for i, s in enumerate(first))
    # Another id in a shard changes that shard's name only.
    changed = plan_shards([*ids[:9], "other"], [*texts[:9], "x"], 4)
    assert [a.name == b.name for a, b in zip(first, changed)] == [True, True, False]


def test_shard_plan_rejects_repeated_ids_and_length_mismatch() -> None:
    with pytest.raises(ValueError, match="repeats id 'a'"):
        plan_shards(["a", "b", "a"], ["1", "2", "3"], 2)
    with pytest.raises(ValueError, match="2 ids but 1 prompts"):
        plan_shards(["a", "b"], ["1"], 2)


def test_shard_seeds_differ_between_shards_and_are_stable() -> None:
    assert shard_seed(7, "shard-00000-aa") == shard_seed(7, "shard-00000-aa")
    assert shard_seed(7, "shard-00000-aa") != shard_seed(7, "shard-00001-bb")
    assert shard_seed(7, "shard-00000-aa") != shard_seed(8, "shard-00000-aa")
    assert 0 <= shard_seed(123, "x") < 2**31


def test_write_atomic_leaves_no_partial_file(tmp_path: Path) -> None:
    target = tmp_path / "shard-00000-x.parquet"
    atomic_write(target, b"complete")
    assert target.read_bytes() == b"complete"
    assert [p.name for p in tmp_path.iterdir()] == [target.name]

    with pytest.raises(TypeError):
        atomic_write(tmp_path / "shard-00001-y.parquet", 12345)  # type: ignore[arg-type]
    assert finished_shards(tmp_path) == {"shard-00000-x"}
    assert [p.name for p in tmp_path.iterdir()] == [target.name]  # the temporary file was removed


def test_stale_temporaries_are_removed_only_when_old(tmp_path: Path) -> None:
    import os
    import time

    old = tmp_path / ".shard-00000-a.parquet.1.abc.tmp"
    new = tmp_path / ".shard-00001-b.parquet.2.def.tmp"
    old.write_bytes(b"x")
    new.write_bytes(b"y")
    past = time.time() - 7200
    os.utime(old, (past, past))
    assert clean_stale_temporaries(tmp_path) == 1
    assert not old.exists() and new.exists()
    assert finished_shards(tmp_path) == set()


def test_generations_round_trip_bit_for_bit() -> None:
    gens = [
        [Generation("ünïcode ✓", (-0.1, -1e-300, -123.456789012345678), (0.5, 2.0, 1e-12))],
        [Generation("", (), ())],
        [Generation("eos only", (-math.pi,), (math.e,))],
    ]
    data = generations_to_parquet(["a", "b", "c"], gens)
    assert generations_from_parquet(data, ["a", "b", "c"], 1) == gens
    with pytest.raises(ShardFormatError, match="expects"):
        generations_from_parquet(data, ["a", "b", "z"], 1)
    with pytest.raises(ShardFormatError, match="expected 2"):
        generations_from_parquet(data, ["a", "b", "c"], 2)
    with pytest.raises(ShardFormatError, match="not a readable shard"):
        generations_from_parquet(data[: len(data) // 2], ["a", "b", "c"], 1)


def test_samples_and_embeddings_round_trip() -> None:
    samples = [[Generation(f"{i}-{j}", (-float(j),), (float(i),)) for j in range(3)] for i in range(2)]
    assert generations_from_parquet(generations_to_parquet(["x", "y"], samples), ["x", "y"], 3) == samples
    matrix = np.random.default_rng(0).normal(size=(3, 5)).astype(np.float32)
    back = embeddings_from_parquet(embeddings_to_parquet(["p", "q", "r"], matrix), ["p", "q", "r"])
    assert back.dtype == np.float32 and np.array_equal(back, matrix)
    with pytest.raises(ShardFormatError):
        embeddings_from_parquet(embeddings_to_parquet(["p", "q", "r"], matrix), ["q", "p", "r"])


def _adapter(root: Path, text: str) -> Path:
    root.mkdir(parents=True, exist_ok=True)
    (root / "weights.txt").write_text(text)
    (root / "sub").mkdir(exist_ok=True)
    (root / "sub" / "config.json").write_text("{}")
    return root


def test_manifest_key_follows_everything_that_changes_outputs(tmp_path: Path) -> None:
    ids, texts = prompts(6)
    adapter = _adapter(tmp_path / "round-0" / "adapter", "w0")
    base = request(ids, texts, run_dir=tmp_path, adapter=adapter)

    def key(req: object, task: str = "generate", shard_size: int = 4) -> str:
        return build_manifest(req, task, shard_size=shard_size, engine={"kind": "model-handle"}, backend="t").key  # type: ignore[arg-type]

    k0 = key(base)
    assert k0.startswith("generate-") and key(base) == k0
    # The same adapter content at another path (the run directory was moved): same key.
    moved = _adapter(tmp_path / "elsewhere" / "adapter", "w0")
    assert key(replace(base, adapter=moved, round=5)) == k0
    variants = {
        "new adapter": replace(base, adapter=_adapter(tmp_path / "round-1" / "adapter", "w1")),
        "no adapter": replace(base, adapter=None),
        "settings": replace(base, settings=GenerationSettings(max_new_tokens=7, batch_size=4, seed=7)),
        "pool": replace(base, ids=[*ids[:5], "new"], prompts=[*texts[:5], "new prompt"]),
        "prompt": replace(base, prompts=[*texts[:5], texts[5] + "!"]),
        "model": replace(base, model=ModelSpec(path="other", max_input_tokens=64)),
        "trainer config": replace(base, trainer_config={"delay": 0.5}),
        "trainer": replace(base, trainer_name="lora"),
        "seed": replace(base, seed=99),
    }
    keys = {what: key(req) for what, req in variants.items()}
    assert all(k != k0 for k in keys.values()), keys
    assert len(set(keys.values())) == len(keys)
    assert key(base, shard_size=5) != k0
    assert key(base, task="sample") != k0
    assert build_manifest(base, "generate", shard_size=4, engine={"kind": "vllm"}, backend="t").key != k0


def test_adapter_digest_covers_file_names_and_bytes(tmp_path: Path) -> None:
    a = _adapter(tmp_path / "a", "same")
    b = _adapter(tmp_path / "b", "same")
    assert adapter_digest(a) == adapter_digest(b)
    (b / "extra.bin").write_bytes(b"")
    assert adapter_digest(a) != adapter_digest(b)
    assert adapter_digest(None) is None
    with pytest.raises(FileNotFoundError, match="does not exist"):
        adapter_digest(tmp_path / "missing")


def test_shard_folder_is_keyed_and_checked(tmp_path: Path) -> None:
    ids, texts = prompts(4)
    req = request(ids, texts, run_dir=tmp_path)
    manifest = build_manifest(req, "generate", shard_size=2, engine={"kind": "model-handle"}, backend="t")
    folder = open_shard_folder(tmp_path / "scoring", manifest)
    assert folder == tmp_path / "scoring" / manifest.key
    assert (folder / MANIFEST_FILE).is_file()
    assert open_shard_folder(tmp_path / "scoring", manifest) == folder  # reopening is fine
    other = build_manifest(replace(req, seed=1), "generate", shard_size=2, engine={"kind": "model-handle"}, backend="t")
    forged = replace(other, key=manifest.key)
    with pytest.raises(ManifestMismatchError, match="Delete"):
        open_shard_folder(tmp_path / "scoring", forged)
