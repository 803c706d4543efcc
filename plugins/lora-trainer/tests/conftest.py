"""Fixtures of the lora-trainer tests: tokenizers trained here and tiny Llama models built from configs."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from lora_trainer_helpers import CHATML_TEMPLATE, EXAMPLES, LLAMA3_TEMPLATE, make_model_dir


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line("markers", "slow: real-model tests (SmolLM2-135M on the CPU, under a minute)")


@pytest.fixture(autouse=True)
def _one_torch_thread(request: pytest.FixtureRequest) -> Iterator[None]:
    """Tiny models run fastest (and immune to a busy machine) on one thread; slow tests keep the default."""
    if request.node.get_closest_marker("slow") is not None:
        yield
        return
    import torch

    previous = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        yield
    finally:
        torch.set_num_threads(previous)


@pytest.fixture(scope="session")
def chatml_model_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return make_model_dir(tmp_path_factory.mktemp("chatml-model"), CHATML_TEMPLATE, "<|im_end|>")


@pytest.fixture(scope="session")
def llama3_model_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return make_model_dir(tmp_path_factory.mktemp("llama3-model"), LLAMA3_TEMPLATE, "<|eot_id|>")


@pytest.fixture(scope="session")
def plain_model_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return make_model_dir(tmp_path_factory.mktemp("plain-model"), None, "</s>")


@pytest.fixture
def train_examples() -> Callable[[int], list[Any]]:
    from atgen_core import TrainExample

    def build(n: int = len(EXAMPLES)) -> list[Any]:
        return [TrainExample(id=f"ex{i}", prompt=p, target=t) for i, (p, t) in enumerate(EXAMPLES[:n])]

    return build
