"""Model checks before a run (no model load) and the clean-up of conversions killed half-way."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
from atgen_lora_trainer import loading
from atgen_lora_trainer.preflight import model_problems
from atgen_lora_trainer.trainer import LoraTrainer

from atgen_core import ModelSpec, PreflightContext, network


def paths(spec: ModelSpec, env: dict[str, str] | None = None) -> dict[str, str]:
    return {p.path: p.message for p in model_problems(spec, env or {})}


@pytest.fixture
def hub_resolves(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """Host names looked up; every one resolves."""
    looked_up: list[str] = []
    monkeypatch.setattr(network, "_resolve", looked_up.append)
    return looked_up


def test_missing_local_models_and_bad_hub_ids_are_problems(tmp_path: Path, hub_resolves: list[str]) -> None:
    assert "does not exist" in paths(ModelSpec(path=str(tmp_path / "m.gguf")))["model.path"]
    assert paths(ModelSpec(path=str(tmp_path / "nothing")))["model.path"] == f"'{tmp_path / 'nothing'}' does not exist"
    (tmp_path / "a-file").write_text("x")
    assert "neither a model directory" in paths(ModelSpec(path=str(tmp_path / "a-file")))["model.path"]
    (tmp_path / "folder").mkdir()
    assert "no config.json" in paths(ModelSpec(path=str(tmp_path / "folder")))["model.path"]
    # What the folder holds that would load is named: a GGUF file, or subfolders with a config.json.
    (tmp_path / "folder" / "sub").mkdir()
    (tmp_path / "folder" / "sub" / "config.json").write_text("{}")
    assert paths(ModelSpec(path=str(tmp_path / "folder")))["model.path"].endswith(
        "(subfolders with a config.json: sub)")
    (tmp_path / "folder" / "Model.Q4_1.gguf").write_bytes(b"GGUF")
    assert paths(ModelSpec(path=str(tmp_path / "folder")))["model.path"].endswith(
        "(it holds Model.Q4_1.gguf: set model.gguf_file to 'Model.Q4_1.gguf')")
    assert paths(ModelSpec(path=str(tmp_path / "folder" / "Model.gguf")))["model.path"].endswith(
        f"does not exist; did you mean '{tmp_path / 'folder' / 'Model.Q4_1.gguf'}'?")
    missing_file = ModelSpec(path=str(tmp_path / "folder"), gguf_file="x.gguf")
    assert "is not a file" in paths(missing_file)["model.gguf_file"]
    for bad in ("owner//name", "owner/na me", "a/b/c", "-lead/name", "x" * 97):
        assert "well-formed hub id" in paths(ModelSpec(path=bad))["model.path"], bad
    for good in ("HuggingFaceTB/SmolLM2-135M-Instruct", "gpt2", "google/flan-t5-small"):
        assert paths(ModelSpec(path=good)) == {}, good


def test_offline_hub_models_must_be_in_the_cache(tmp_path: Path, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    monkeypatch.setenv("HF_HUB_CACHE", str(tmp_path / "hub"))
    found = paths(ModelSpec(path="someone/not-downloaded"), {"HF_HUB_OFFLINE": "1"})
    assert "not in the local cache" in found["model.path"]


def test_an_uncached_hub_model_without_network_is_reported_before_the_run(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("HF_HUB_CACHE", str(tmp_path / "hub"))
    looked_up: list[str] = []

    def no_dns(host: str) -> None:
        looked_up.append(host)
        raise OSError(-2, "Name or service not known")

    monkeypatch.setattr(network, "_resolve", no_dns)
    found = paths(ModelSpec(path="someone/not-downloaded"))
    assert found["model.path"] == ("hub model 'someone/not-downloaded' is not in the local cache and "
                                   "huggingface.co cannot be reached (its name does not resolve: Name or service "
                                   "not known)")
    problem = model_problems(ModelSpec(path="someone/not-downloaded"), {})[0]
    assert problem.hint is not None and "'smollm2-135m-instruct'" in problem.hint
    # A mirror is looked up instead of huggingface.co; behind a proxy nothing is looked up.
    assert "mirror.example cannot be reached" in paths(
        ModelSpec(path="someone/not-downloaded"), {"HF_ENDPOINT": "https://mirror.example/"})["model.path"]
    assert paths(ModelSpec(path="someone/not-downloaded"), {"HTTPS_PROXY": "http://proxy:3128"}) == {}
    assert looked_up == ["huggingface.co", "huggingface.co", "mirror.example"]


def test_an_uncached_hub_model_with_network_is_left_to_the_download(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, hub_resolves: list[str]
) -> None:
    monkeypatch.setenv("HF_HUB_CACHE", str(tmp_path / "hub"))
    assert paths(ModelSpec(path="someone/not-downloaded")) == {}
    assert hub_resolves == ["huggingface.co"]


def test_the_trainer_preflight_reports_under_the_model_section(tmp_path: Path) -> None:
    ctx = PreflightContext(path="trainer", model=ModelSpec(path=str(tmp_path / "gone.gguf")), environ={})
    problems = LoraTrainer().preflight(ctx)
    assert [p.path for p in problems] == ["model.path"]


def test_conversion_folders_of_dead_processes_are_removed_at_once(tmp_path: Path) -> None:
    done = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True, text=True)
    dead_pid = int(done.stdout)
    dead = tmp_path / f".tmp-{dead_pid}-abc"
    live = tmp_path / f".tmp-{os.getppid()}-def"
    mine = tmp_path / f".tmp-{os.getpid()}-ghi"
    for folder in (dead, live, mine):
        folder.mkdir()
    loading._remove_stale_tmp(tmp_path)
    assert not dead.exists() and live.exists() and mine.exists()
