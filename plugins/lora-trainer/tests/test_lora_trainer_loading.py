"""The GGUF conversion cache: converted once, reused, written atomically (GGUF reading is faked here)."""

from __future__ import annotations

import os
import time
from pathlib import Path
from typing import Any

import pytest
from atgen_lora_trainer import loading

from atgen_core import ModelSpec


@pytest.fixture
def fake_gguf(tmp_path: Path, chatml_model_dir: Path, monkeypatch: pytest.MonkeyPatch) -> dict[str, Any]:
    """A '.gguf' file whose loading returns the tiny ChatML model (as transformers would after de-quantising)."""
    from transformers import AutoModelForCausalLM, AutoTokenizer

    gguf = tmp_path / "src" / "tiny-model.Q4_1.gguf"
    gguf.parent.mkdir()
    gguf.write_bytes(b"GGUF placeholder")
    state: dict[str, Any] = {"calls": 0, "fail": False, "path": gguf}
    real_model = AutoModelForCausalLM.from_pretrained
    real_tok = AutoTokenizer.from_pretrained

    def model_loader(path: Any, *args: Any, gguf_file: str | None = None, **kw: Any) -> Any:
        if gguf_file is None:
            return real_model(path, *args, **kw)
        assert Path(path) / gguf_file == state["path"]
        state["calls"] += 1
        if state["fail"]:
            raise RuntimeError("simulated crash while converting")
        return real_model(chatml_model_dir, **kw)

    def tok_loader(path: Any, *args: Any, gguf_file: str | None = None, **kw: Any) -> Any:
        return real_tok(chatml_model_dir if gguf_file else path, *args, **kw)

    monkeypatch.setattr(AutoModelForCausalLM, "from_pretrained", model_loader)
    monkeypatch.setattr(AutoTokenizer, "from_pretrained", tok_loader)
    return state


@pytest.fixture
def user_cache(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """``$ATGEN_CACHE_DIR`` pointed at a temporary folder (the user's model cache)."""
    cache = tmp_path / "user-cache"
    monkeypatch.setenv("ATGEN_CACHE_DIR", str(cache))
    return cache


def test_model_cache_is_the_users_never_a_run_folder(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("ATGEN_CACHE_DIR", raising=False)
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    assert loading.model_cache_root(tmp_path / "bench" / "cache") == tmp_path / "home" / ".cache" / "atgen" / "models"
    monkeypatch.setenv("ATGEN_CACHE_DIR", str(tmp_path / "elsewhere"))
    assert loading.model_cache_root(tmp_path / "bench" / "cache") == tmp_path / "elsewhere" / "models"
    assert loading.model_cache_root() == tmp_path / "elsewhere" / "models"


def test_gguf_is_converted_once_then_loaded_from_the_cache(
    fake_gguf: dict[str, Any], tmp_path: Path, chatml_model_dir: Path, user_cache: Path
) -> None:
    import torch
    from transformers import AutoModelForCausalLM

    cache = user_cache
    stale = cache / "models" / ".tmp-abandoned"
    stale.mkdir(parents=True)
    os.utime(stale, (time.time() - 7200, time.time() - 7200))
    spec = ModelSpec(path=str(fake_gguf["path"]))
    run_cache = tmp_path / "bench" / "cache"
    first = loading.load_base_model(spec, run_cache, device="cpu")
    assert fake_gguf["calls"] == 1 and not run_cache.exists()  # a run's cache folder never holds models
    model_dir = Path(first.model_dir)
    assert model_dir.parent == cache / "models" and model_dir.name.startswith("tiny-model-q4_1-")
    assert (model_dir / "atgen-source.json").is_file() and (model_dir / "config.json").is_file()
    assert "quantization_config" not in (model_dir / "config.json").read_text()
    assert not stale.exists()  # abandoned temporary folders are cleaned up
    assert first.tokenizer.padding_side == "left" and first.tokenizer.pad_token is not None

    second = loading.load_base_model(spec, tmp_path / "another-bench" / "cache", device="cpu")
    assert fake_gguf["calls"] == 1 and second.model_dir == first.model_dir  # another benchmark reuses it
    # The key is the file's content: the same GGUF in another environment reuses the conversion.
    elsewhere = tmp_path / "other-venv" / fake_gguf["path"].name
    elsewhere.parent.mkdir()
    elsewhere.write_bytes(fake_gguf["path"].read_bytes())
    fake_gguf["path"] = elsewhere
    assert loading.load_base_model(ModelSpec(path=str(elsewhere)), device="cpu").model_dir == first.model_dir
    assert fake_gguf["calls"] == 1
    source = AutoModelForCausalLM.from_pretrained(chatml_model_dir)
    ids = torch.tensor([[5, 17, 42, 9]])
    with torch.no_grad():
        assert torch.equal(second.model(input_ids=ids).logits, source(input_ids=ids).logits)


def test_a_crash_during_conversion_leaves_no_cache_behind(
    fake_gguf: dict[str, Any], tmp_path: Path, user_cache: Path
) -> None:
    cache = user_cache
    fake_gguf["fail"] = True
    with pytest.raises(RuntimeError, match="simulated crash"):
        loading.load_base_model(ModelSpec(path=str(fake_gguf["path"])), device="cpu")
    assert list((cache / "models").iterdir()) == []
    fake_gguf["fail"] = False
    loaded = loading.load_base_model(ModelSpec(path=str(fake_gguf["path"])), device="cpu")
    assert (Path(loaded.model_dir) / "atgen-source.json").is_file()
    assert [p.name for p in (cache / "models").iterdir()] == [Path(loaded.model_dir).name]


def test_local_loads_print_no_weight_bar_and_leave_the_setting_alone(
    chatml_model_dir: Path, capfd: pytest.CaptureFixture[str]
) -> None:
    from transformers.utils import logging as hf_logging

    was_enabled = hf_logging.is_progress_bar_enabled()
    hf_logging.enable_progress_bar()
    try:
        loaded = loading.load_base_model(ModelSpec(path=str(chatml_model_dir)), device="cpu")
        assert loaded.model is not None
        assert "Loading weights" not in capfd.readouterr().err
        assert hf_logging.is_progress_bar_enabled()  # restored for everything else (hub downloads keep bars)
    finally:
        if not was_enabled:
            hf_logging.disable_progress_bar()
