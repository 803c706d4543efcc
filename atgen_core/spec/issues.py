"""Turning pydantic errors into :class:`SpecIssue` entries, and the lenient copy of an invalid spec."""

from __future__ import annotations

import difflib
import json
import math
from collections.abc import Iterator, Mapping
from typing import Any

from pydantic import ValidationError
from pydantic.fields import FieldInfo

from atgen_core.errors import SpecIssue
from atgen_core.spec.models import ExperimentSpec
from atgen_core.spec_file import dotted_path

__all__ = ["issues_from_validation", "lenient_spec", "non_finite_paths"]


_UNKNOWN_KEY = ("extra_forbidden", "unexpected_keyword_argument")  # a model's, a pydantic dataclass's
_KNOWN_AS = {
    # keys users bring from the original ATGen configs and from other training frameworks
    "output_column": "target_column", "output_column_name": "target_column", "label_column": "target_column",
    "answer_column": "target_column", "input_column_name": "input_column", "text_column": "input_column",
    "checkpoint": "path", "model_name": "path", "model_name_or_path": "path", "labeller": "annotator",
    "labeler": "annotator", "num_epochs": "epochs", "num_train_epochs": "epochs", "lr": "learning_rate",
}


def _fields(model: type) -> dict[str, FieldInfo]:
    """The pydantic fields of a model or a pydantic dataclass."""
    fields: dict[str, FieldInfo] = getattr(model, "__pydantic_fields__", {})
    return fields


def _allowed_keys(model: type) -> list[str]:
    """The keys a spec may give: field names (or aliases), without the fields not meant for a spec."""
    return [field.alias or name for name, field in _fields(model).items() if not field.exclude]


def _model_at(root: type, loc: tuple[Any, ...]) -> type | None:
    """The pydantic model that owns the last element of ``loc`` (for key suggestions)."""
    model: type | None = root
    for part in loc[:-1]:
        if model is None or isinstance(part, int):
            continue
        field = _fields(model).get(str(part))
        if field is None:
            return None
        annotation = field.annotation
        candidates = [annotation, *getattr(annotation, "__args__", ())]
        model = next((c for c in candidates if isinstance(c, type) and _fields(c)), None)
    return model


def issues_from_validation(exc: ValidationError, prefix: tuple[Any, ...], root: type) -> Iterator[SpecIssue]:
    """One issue per pydantic error, at its dotted path under ``prefix``; unknown keys get a suggestion."""
    for err in exc.errors(include_url=False):
        loc = tuple(err["loc"])
        hint = None
        if err["type"] in _UNKNOWN_KEY:
            owner = _model_at(root, loc)
            allowed = _allowed_keys(owner) if owner is not None else []
            known_as = _KNOWN_AS.get(str(loc[-1]))
            close = [known_as] if known_as in allowed else difflib.get_close_matches(
                str(loc[-1]), allowed, n=1, cutoff=0.6)
            if close:
                hint = f"did you mean {close[0]!r}?"
            elif allowed:
                hint = "allowed keys: " + ", ".join(allowed)
            yield SpecIssue(dotted_path(prefix + loc), "unknown key", hint=hint)
            continue
        message = err["msg"]
        value = err.get("input")
        ctx = err.get("ctx") or {}
        if err["type"] == "literal_error" and "expected" in ctx:
            hint = f"allowed: {ctx['expected']}"
        if err["type"] == "value_error":
            # Our validators' own sentences: pydantic's "Value error, " prefix adds nothing, and a whole
            # section echoed back as the value only hides the message.
            message = message.removeprefix("Value error, ")
            value = None if isinstance(value, Mapping) else value
        yield SpecIssue(dotted_path(prefix + loc), message, value=value, hint=hint)


def non_finite_paths(value: Any, path: tuple[Any, ...] = ()) -> Iterator[str]:
    if isinstance(value, float) and not math.isfinite(value):
        yield dotted_path(path)
    elif isinstance(value, Mapping):
        for key, item in value.items():
            yield from non_finite_paths(item, (*path, key))
    elif isinstance(value, list):
        for i, item in enumerate(value):
            yield from non_finite_paths(item, (*path, i))


def _delete_at(data: Any, loc: tuple[Any, ...]) -> bool:
    for part in loc[:-1]:
        if isinstance(data, Mapping) and part in data:
            data = data[part]
        elif isinstance(data, list) and isinstance(part, int) and part < len(data):
            data = data[part]
        else:
            return False
    if isinstance(data, dict) and loc and loc[-1] in data:
        del data[loc[-1]]
        return True
    return False


_PLACEHOLDERS: dict[tuple[Any, ...], Any] = {
    ("name",): "spec",
    ("data",): {},
    ("strategy",): {"name": "?"},
    ("annotator",): {"name": "?"},
    ("trainer",): {"name": "?"},
    ("metrics",): [],
}


def lenient_spec(raw: Mapping[str, Any]) -> tuple[ExperimentSpec | None, set[str]]:
    """The spec with every invalid value dropped (defaults instead), and the dropped paths."""
    data = json.loads(json.dumps(dict(raw), default=str))
    dropped: set[str] = set()
    for _ in range(10):
        try:
            return ExperimentSpec.model_validate(data), dropped
        except ValidationError as exc:
            progressed = False
            for err in exc.errors(include_url=False):
                loc = tuple(err["loc"])
                if err["type"] == "missing" and loc in _PLACEHOLDERS and isinstance(data, dict):
                    data[loc[0]] = _PLACEHOLDERS[loc]
                    dropped.add(dotted_path(loc))
                    progressed = True
                elif _delete_at(data, loc):
                    dropped.add(dotted_path(loc))
                    progressed = True
            if not progressed:
                return None, dropped
    return None, dropped
