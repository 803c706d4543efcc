"""Pre-flight pieces: secrets never shown, run-directory checks, the component contract for preflight."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import ClassVar

import pytest

from atgen_core import PreflightContext, Problem, Strategy
from atgen_core.errors import SpecIssue, looks_secret, shown_value
from atgen_core.preflight import check_run_dir
from atgen_core.testing import check_component
from atgen_core.types import Requirements


@pytest.mark.parametrize("secret", [
    "sk-proj-abcdef1234567890", "hf_AbCdEf0123456789abcdef", "Bearer abc", "AbCdEf0123456789abcdefGHIJ",
    {"api_key": "sk-1234567890abcdef"}, ["ok", "ghp_abcdefghijklmnop1234"],
])
def test_secret_like_values_are_hidden(secret: object) -> None:
    assert looks_secret(secret)
    assert shown_value(secret) == "<hidden: looks like a secret>"
    assert SpecIssue("annotator.config.api_key_env", "bad", value=secret).render().endswith(
        "(got <hidden: looks like a secret>)")


@pytest.mark.parametrize("plain", ["OPENAI_API_KEY", "HuggingFaceTB/SmolLM2-135M-Instruct", "rougeL", 0.5,
                                   "runs/{name}", "a-short-name"])
def test_ordinary_values_are_shown(plain: object) -> None:
    assert not looks_secret(plain)
    assert shown_value(plain) == repr(plain)


def test_run_dir_checks(tmp_path: Path) -> None:
    assert check_run_dir(tmp_path / "new" / "run") == []
    (tmp_path / "file").write_text("x")
    assert "is a file" in check_run_dir(tmp_path / "file")[0].message
    assert "is a file" in check_run_dir(tmp_path / "file" / "run")[0].message
    (tmp_path / "run").mkdir()
    (tmp_path / "run" / "atgen.sqlite").write_bytes(b"")
    [issue] = check_run_dir(tmp_path / "run")
    assert issue.path == "output_dir" and "0 bytes" in issue.message


class _Pick(Strategy):
    """Test strategy."""

    name: ClassVar[str] = "pick-first"

    def requirements(self) -> Requirements:
        return Requirements()

    def select(self, ctx):  # type: ignore[no-untyped-def]
        return list(ctx.pool.ids)[: ctx.k]


class _BrokenPreflight(_Pick):
    """Preflight that crashes."""

    name: ClassVar[str] = "broken-preflight"

    def preflight(self, ctx: PreflightContext) -> Sequence[Problem]:
        raise KeyError("boom")


class _GoodPreflight(_Pick):
    """Preflight that reports a problem."""

    name: ClassVar[str] = "good-preflight"

    def preflight(self, ctx: PreflightContext) -> Sequence[Problem]:
        return [Problem(ctx.field("x"), "missing")]


def test_check_component_checks_preflight() -> None:
    with pytest.raises(AssertionError, match=r"preflight\(\) raised KeyError"):
        check_component(_BrokenPreflight, check_imports=False)
    assert check_component(_GoodPreflight, check_imports=False) is not None
