"""``unreachable_host``: the name lookup that lets pre-flight report a machine without network at once."""

from __future__ import annotations

import pytest

from atgen_core import network
from atgen_core.network import unreachable_host


def test_a_name_that_does_not_resolve_is_reported_with_its_host() -> None:
    # RFC 2606: names under .invalid never resolve.
    reason = unreachable_host("https://models.atgen-test.invalid/v1", {})
    assert reason is not None and reason.startswith("models.atgen-test.invalid cannot be reached")


def test_a_resolvable_name_a_proxy_or_no_host_is_not_reported(monkeypatch: pytest.MonkeyPatch) -> None:
    assert unreachable_host("http://localhost:8000/v1", {}) is None
    looked_up: list[str] = []
    monkeypatch.setattr(network, "_resolve", looked_up.append)
    assert unreachable_host("https://huggingface.co", {}) is None
    assert unreachable_host("https://huggingface.co", {"HTTPS_PROXY": "http://proxy:3128"}) is None
    assert unreachable_host("not a url", {}) is None
    assert looked_up == ["huggingface.co"]
