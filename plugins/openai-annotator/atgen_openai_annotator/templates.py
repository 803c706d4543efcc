"""Brace templates that never interpret the data, and the deterministic few-shot choice.

``render("Q: {input}", {"input": "a {b} c"})`` gives ``"Q: a {b} c"``: the template is scanned once
and values are inserted verbatim, so braces in data cannot break rendering (``str.format`` would).
In the template, ``{{`` and ``}}`` are literal braces and a brace not around a field name stays as it is.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Mapping, Sequence
from typing import Any

from atgen_core import AnnotationItem, LabelledView

__all__ = ["choose_few_shot", "cut_bytes", "item_fields", "render", "template_fields"]

_TOKEN = re.compile(r"\{\{|\}\}|\{([A-Za-z_][A-Za-z0-9_]*)\}")


class TemplateError(ValueError):
    """A template refers to a field the data does not have."""


def template_fields(template: str) -> list[str]:
    """The field names a template uses, in order of first use."""
    seen: list[str] = []
    for m in _TOKEN.finditer(template):
        name = m.group(1)
        if name and name not in seen:
            seen.append(name)
    return seen


def render(template: str, values: Mapping[str, Any], what: str = "prompt_template") -> str:
    """Fill ``{name}`` fields from ``values`` (``None`` renders as ""); unknown names raise TemplateError."""

    def sub(m: re.Match[str]) -> str:
        token = m.group(0)
        if token == "{{":
            return "{"
        if token == "}}":
            return "}"
        name = m.group(1)
        if name not in values:
            known = ", ".join(sorted(values))
            raise TemplateError(f"{what} uses {{{name}}} but the example has no such field (available: {known})")
        value = values[name]
        return "" if value is None else str(value)

    return _TOKEN.sub(sub, template)


def item_fields(item: AnnotationItem) -> dict[str, Any]:
    """Template values of an item: its columns, then id, input, prompt and draft (gold labels excluded)."""
    ex = item.example
    values: dict[str, Any] = {
        k: v for k, v in ex.fields.items() if k not in ("target", "references") and isinstance(k, str)
    }
    values.update({"id": ex.id, "input": ex.input, "prompt": ex.prompt, "draft": item.draft or ""})
    return values


def cut_bytes(text: str, max_bytes: int) -> str:
    """``text`` cut to at most ``max_bytes`` UTF-8 bytes (never splitting a character)."""
    data = text.encode("utf-8")
    if len(data) <= max_bytes:
        return text
    return data[:max_bytes].decode("utf-8", errors="ignore")


def choose_few_shot(labelled: LabelledView, k: int, seed: int) -> list[tuple[int, str]]:
    """``k`` (position, label) pairs from the labelled set, chosen by a seeded hash of each id.

    The choice depends only on the ids present and the seed (not on their order), is the same for
    every item of a batch, and skips examples with an empty label.
    """
    if k <= 0 or not labelled.examples:
        return []
    pairs: Sequence[tuple[int, str]] = [
        (i, label) for i, label in enumerate(labelled.labels) if i < len(labelled.examples) and label.strip()
    ]

    def rank(pair: tuple[int, str]) -> str:
        ex_id = labelled.examples[pair[0]].id
        return hashlib.sha256(f"{seed}\x00{ex_id}".encode()).hexdigest()

    return sorted(pairs, key=rank)[:k]
