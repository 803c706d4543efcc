"""Reading a spec file: empty files, malformed JSON and duplicate keys get their own messages."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from atgen_core.errors import SpecError, SpecIssue
from atgen_core.suggest import nearest_path_hint

__all__ = ["LoadedSpec", "dotted_path", "load_spec_file"]


def dotted_path(loc: tuple[Any, ...]) -> str:
    """``("loop", "stop_when", "x")`` -> ``loop.stop_when.x``; list positions as ``metrics[0]``."""
    out = ""
    for part in loc:
        if isinstance(part, int):
            out += f"[{part}]" if out else str(part)
        else:
            out += f".{part}" if out else str(part)
    return out




class LoadedSpec(dict):  # type: ignore[type-arg]
    """A spec read from a file, with the problems only the file shows (duplicate keys)."""

    issues: list[SpecIssue]


class _Pairs(dict):  # type: ignore[type-arg]
    """A JSON object that remembers the keys it saw twice."""

    duplicates: list[str]


def _object_hook(pairs: list[tuple[str, Any]]) -> _Pairs:
    out = _Pairs()
    out.duplicates = []
    for key, value in pairs:
        if key in out and key not in out.duplicates:
            out.duplicates.append(key)
        out[key] = value
    return out


def _plain(value: Any, path: tuple[Any, ...], issues: list[SpecIssue]) -> Any:
    """Plain dicts again, reporting every duplicate key with its path."""
    if isinstance(value, dict):
        for key in getattr(value, "duplicates", ()):
            issues.append(
                SpecIssue(dotted_path((*path, key)), "key given more than once (JSON keeps only the last)",
                          hint="remove the duplicate")
            )
        return {k: _plain(v, (*path, k), issues) for k, v in value.items()}
    if isinstance(value, list):
        return [_plain(v, (*path, i), issues) for i, v in enumerate(value)]
    return value


def _json_hint(text: str, pos: int) -> str | None:
    """The usual cause of a JSON error at ``pos``: a trailing comma, a comment, single quotes."""
    before = text[:pos].rstrip()
    here = text[pos:pos + 2]
    if before.endswith(",") and here[:1] in ("}", "]"):
        return "remove the comma before the closing bracket (JSON allows no trailing comma)"
    if here in ("//", "/*") or here[:1] == "#":
        return "JSON has no comments: remove it"
    if here[:1] == "'":
        return "JSON strings and keys use double quotes"
    return None


def load_spec_file(path: str | Path) -> dict[str, Any]:
    """Read a spec file as a dict; malformed JSON is reported with its line and column.

    An empty file gets its own message; duplicate keys are kept as problems (the returned dict is a
    :class:`LoadedSpec` whose ``.issues`` :func:`resolve_spec` reports with every other problem).
    """
    file = Path(path)
    try:
        text = file.read_text(encoding="utf-8")
    except FileNotFoundError:
        hint = nearest_path_hint(file, pattern="*.json")
        raise SpecError([SpecIssue("", f"spec file not found: {file}", hint=hint)], source=str(file)) from None
    except IsADirectoryError:
        raise SpecError([SpecIssue("", f"{file} is a directory, not a spec file")], source=str(file)) from None
    except UnicodeDecodeError as exc:
        raise SpecError([SpecIssue("", f"not UTF-8 text (byte {exc.start}); save the spec as UTF-8 JSON")],
                        source=str(file)) from None
    except OSError as exc:
        raise SpecError([SpecIssue("", f"cannot read {file}: {exc.strerror}")], source=str(file)) from None
    if not text.strip():
        raise SpecError([SpecIssue("", "the spec file is empty; it must hold a JSON object")], source=str(file))
    try:
        data = json.loads(text, object_pairs_hook=_object_hook)
    except json.JSONDecodeError as exc:
        raise SpecError(
            [SpecIssue("", f"malformed JSON at line {exc.lineno}, column {exc.colno}: {exc.msg}",
                       hint=_json_hint(text, exc.pos))],
            source=str(file),
        ) from None
    except RecursionError:
        raise SpecError([SpecIssue("", "the JSON is nested too deeply")], source=str(file)) from None
    if not isinstance(data, dict):
        raise SpecError([SpecIssue("", "a spec must be a JSON object")], source=str(file))
    issues: list[SpecIssue] = []
    out = LoadedSpec(_plain(data, (), issues))
    out.issues = issues
    return out
