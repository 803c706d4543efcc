"""Errors the user can fix, with messages that name the field or file and the remedy."""

from __future__ import annotations

import math
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

__all__ = [
    "AtgenError",
    "DataError",
    "Problem",
    "RunLockedError",
    "SpecError",
    "SpecIssue",
    "StoreError",
    "issue_from_message",
    "looks_secret",
    "shown_value",
]

_MISSING = object()

# An API key pasted where a name belongs: "sk-...", "hf_...", "ghp_...", or a long run of token characters
# that mixes letters and digits (variable names are upper-case words; model ids contain '/').
_SECRET_PREFIX = re.compile(r"^(sk-|sk_|hf_|ghp_|gho_|xox[abp]-|AKIA|AIza|Bearer\s)", re.IGNORECASE)
_TOKENISH = re.compile(r"^[A-Za-z0-9_\-+=.]{24,}$")


def looks_secret(value: Any) -> bool:
    """True when ``value`` (or anything inside it) looks like a credential rather than a name."""
    if isinstance(value, str):
        text = value.strip()
        if _SECRET_PREFIX.match(text):
            return True
        if _TOKENISH.match(text) and re.search(r"\d", text) and re.search(r"[a-z]", text) and "/" not in text:
            return True
        return False
    if isinstance(value, Mapping):
        return any(looks_secret(k) or looks_secret(v) for k, v in value.items())
    if isinstance(value, (list, tuple, set)):
        return any(looks_secret(v) for v in value)
    return False


def shown_value(value: Any) -> str:
    """``repr(value)`` shortened for a message; a value that looks like a secret is never shown."""
    if looks_secret(value):
        return "<hidden: looks like a secret>"
    if isinstance(value, float) and not math.isfinite(value):
        return str(value)
    shown = repr(value)
    return shown if len(shown) <= 80 else shown[:77] + "..."


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
            text += f" (got {shown_value(self.value)})"
        if self.hint:
            text += f"; {self.hint}"
        return text


Problem = SpecIssue
"""What a component's ``preflight`` reports: a :class:`SpecIssue` (dotted spec path, message, hint)."""


_LEADING_PATH = re.compile(r"^((?:data|model|loop|annotator|trainer|strategy|embedder|scoring|metrics|output_dir)"
                           r"[A-Za-z0-9_.\[\]-]*): (.+)$", re.DOTALL)


def issue_from_message(message: str, default_path: str = "") -> SpecIssue:
    """A :class:`SpecIssue` from an error message; a leading ``data.x.y: `` becomes the issue's path."""
    match = _LEADING_PATH.match(message.strip())
    if match:
        return SpecIssue(match.group(1), match.group(2))
    return SpecIssue(default_path, message.strip())


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
