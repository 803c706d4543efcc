"""Errors the user can fix, with messages that name the field or file and the remedy."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

__all__ = ["AtgenError", "DataError", "RunLockedError", "SpecError", "SpecIssue", "StoreError"]

_MISSING = object()


class AtgenError(Exception):
    """Base of all errors atgen reports to users without a traceback (CLI exit code 2)."""

    exit_code = 2


@dataclass(frozen=True)
class SpecIssue:
    """One problem in a spec: its dotted JSON path, the message, the bad value and a hint."""

    path: str
    message: str
    value: Any = _MISSING
    hint: str | None = None

    def render(self) -> str:
        text = f"{self.path or '<root>'}: {self.message}"
        if self.value is not _MISSING:
            shown = repr(self.value)
            if len(shown) > 80:
                shown = shown[:77] + "..."
            text += f" (got {shown})"
        if self.hint:
            text += f"; {self.hint}"
        return text


class SpecError(AtgenError):
    """An invalid experiment spec. Holds every problem found, not only the first."""

    def __init__(self, issues: Sequence[SpecIssue], source: str | None = None) -> None:
        self.issues = list(issues)
        self.source = source
        super().__init__(self.render())

    def render(self) -> str:
        where = f" in {self.source}" if self.source else ""
        count = len(self.issues)
        head = f"{count} problem{'s' if count != 1 else ''}{where}:"
        return "\n".join([head, *("  " + issue.render() for issue in self.issues)])


class DataError(AtgenError):
    """Data that cannot be used as configured (missing column, empty references, ...)."""


class StoreError(AtgenError):
    """A run directory that cannot be used (belongs to another spec, corrupt, ...)."""


class RunLockedError(AtgenError):
    """Another process holds the run directory."""
