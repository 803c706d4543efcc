"""Fixtures of the openai-annotator tests.

``openai_stub`` / ``openai_env`` come from :mod:`atgen_openai_annotator.testing`; any other test folder
can use them the same way (one import line in its conftest.py).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from atgen_openai_annotator.annotator import OpenAIAnnotator
from atgen_openai_annotator.stub_server import OpenAIStub
from atgen_openai_annotator.testing import openai_env, openai_stub  # noqa: F401

from atgen_core import AnnotationItem, Example

FAST = {"timeout": 5.0}


@pytest.fixture
def make_annotator(openai_stub: OpenAIStub, openai_env: str) -> Callable[..., OpenAIAnnotator]:  # noqa: F811
    """Build an ``openai`` annotator pointed at the stub with fast retries; keyword args override config."""

    def build(**overrides: Any) -> OpenAIAnnotator:
        cfg: dict[str, Any] = {
            "base_url": openai_stub.base_url,
            "model": "stub-model",
            "api_key_env": openai_env,
            **FAST,
        }
        cfg.update(overrides)
        return OpenAIAnnotator(OpenAIAnnotator.Config.model_validate(cfg))

    return build


def make_items(n: int, prefix: str = "q") -> list[AnnotationItem]:
    return [
        AnnotationItem(Example(id=f"{prefix}{i}", input=f"input {prefix}{i}", prompt=f"Question {prefix}{i}?"))
        for i in range(n)
    ]


@pytest.fixture
def items() -> Callable[..., list[AnnotationItem]]:
    """``items(n, prefix="q")``: n items with ids q0.. and prompts 'Question q0?'."""
    return make_items
