"""Pytest helpers for code that talks to an OpenAI-compatible API (needs pytest).

Use the ``openai_stub`` fixture in any test folder by importing it into that folder's
``conftest.py``::

    from atgen_openai_annotator.testing import openai_stub  # noqa: F401

Each test gets a fresh :class:`~atgen_openai_annotator.stub_server.OpenAIStub` on a free
127.0.0.1 port (stopped after the test). The ``openai_env`` fixture also sets a fake API key in
``ATGEN_STUB_API_KEY`` (its value is ``STUB_API_KEY``) for configs using
``api_key_env: ATGEN_STUB_API_KEY``.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from atgen_openai_annotator.stub_server import OpenAIStub, RecordedRequest, StubReply

__all__ = [
    "STUB_API_KEY",
    "STUB_KEY_ENV",
    "OpenAIStub",
    "RecordedRequest",
    "StubReply",
    "openai_env",
    "openai_stub",
]

STUB_KEY_ENV = "ATGEN_STUB_API_KEY"
STUB_API_KEY = "sk-stub-SECRET-0123456789abcdef"


@pytest.fixture
def openai_stub() -> Iterator[OpenAIStub]:
    """A running stub server (``.base_url``, ``.enqueue(...)``, ``.requests``, ``.max_in_flight``)."""
    with OpenAIStub() as stub:
        yield stub


@pytest.fixture
def openai_env(monkeypatch: pytest.MonkeyPatch) -> str:
    """Set ``ATGEN_STUB_API_KEY`` to a fake key for the test; returns the variable's name."""
    monkeypatch.setenv(STUB_KEY_ENV, STUB_API_KEY)
    return STUB_KEY_ENV
