"""Small helpers shared by the metrics of this plugin (no heavy imports)."""

from __future__ import annotations

import re
from collections.abc import Iterator, Sequence
from typing import TypeVar

from atgen_core import MetricContext

T = TypeVar("T")

__all__ = ["batched", "checked_references", "example_id", "resolve_device", "split_sentences"]


def example_id(ctx: MetricContext, index: int) -> str:
    """The id of example ``index`` (see ``MetricContext.example_id``)."""
    return ctx.example_id(index)


def checked_references(ctx: MetricContext, metric: str, *, required: bool = True) -> list[list[str]]:
    """One list of references per prediction, validated (see ``MetricContext.checked_references``)."""
    return ctx.checked_references(metric, required=required)


def checked_sources(ctx: MetricContext, metric: str) -> list[str]:
    """The source texts, one per prediction (``ValueError`` when the counts differ)."""
    if len(ctx.predictions) == 0:
        raise ValueError(
            f"metric {metric!r}: there are no predictions to score (MetricContext.predictions is empty); "
            "evaluate on a non-empty split"
        )
    if len(ctx.sources) != len(ctx.predictions):
        raise ValueError(
            f"metric {metric!r}: {len(ctx.predictions)} predictions but {len(ctx.sources)} sources; "
            "MetricContext.sources needs the input text of every prediction"
        )
    return [str(s) for s in ctx.sources]


def batched(items: Sequence[T], size: int) -> Iterator[Sequence[T]]:
    """Consecutive slices of ``items`` with at most ``size`` elements."""
    for start in range(0, len(items), size):
        yield items[start : start + size]


def resolve_device(name: str) -> str:
    """``'auto'`` becomes ``'cuda'`` when a GPU is visible, else ``'cpu'``; other names pass through."""
    if name != "auto":
        return name
    import torch

    return "cuda" if torch.cuda.is_available() else "cpu"


_SENTENCE_END = re.compile(r"(?:(?<=[.!?])|(?<=[.!?][\"'\u201d\u2019)\]]))\s+(?=\S)")


def split_sentences(text: str) -> list[str]:
    """Split ``text`` into sentences with a rule (no model and no downloads, unlike NLTK's punkt).

    A sentence ends at ``.``, ``!`` or ``?`` (optionally followed by a closing quote or bracket)
    followed by whitespace, and at every newline. Abbreviations such as "Dr." also end a sentence:
    this is an approximation of a trained splitter.
    """
    sentences: list[str] = []
    for line in text.splitlines():
        sentences.extend(part.strip() for part in _SENTENCE_END.split(line) if part.strip())
    return sentences
