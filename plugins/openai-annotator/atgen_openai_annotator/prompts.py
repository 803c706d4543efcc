"""Prompt inputs of the ``openai`` annotator: an item's template values and the few-shot choice.

Templates themselves are rendered by :class:`atgen_core.templates.PromptTemplate`.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from typing import Any

from atgen_core import AnnotationItem, LabelledView

__all__ = ["choose_few_shot", "cut_bytes", "item_fields"]


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
