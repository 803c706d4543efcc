"""Turning a raw model reply into a label: strip reasoning, extract the final answer, trim.

Every step is optional; :func:`postprocess` returns the label or the reason it could not make one
(an empty or whitespace-only label is always a failure, never an ``ok`` result).
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass

__all__ = ["Processed", "extract_answer", "postprocess", "strip_reasoning"]


def strip_reasoning(text: str, tags: Sequence[str]) -> str:
    """Remove ``<tag>...</tag>`` blocks (case-insensitive) for every tag name in ``tags``.

    A closing tag without an opening one (servers that drop the opening tag) removes everything
    before it; an opening tag that is never closed (reasoning cut by max_tokens) removes everything
    from it to the end.
    """
    for tag in tags:
        name = re.escape(tag)
        text = re.sub(rf"<{name}\b[^>]*>.*?</{name}\s*>", "", text, flags=re.DOTALL | re.IGNORECASE)
        closes = list(re.finditer(rf"</{name}\s*>", text, flags=re.IGNORECASE))
        if closes:
            text = text[closes[-1].end() :]
        opening = re.search(rf"<{name}\b[^>]*>", text, flags=re.IGNORECASE)
        if opening:
            text = text[: opening.start()]
    return text


def extract_answer(text: str, pattern: re.Pattern[str]) -> str | None:
    """The final answer: the last match's group ``answer``, else group 1, else the whole match."""
    matches = list(pattern.finditer(text))
    if not matches:
        return None
    last = matches[-1]
    if "answer" in pattern.groupindex:
        return last.group("answer") or ""
    if pattern.groups >= 1:
        return last.group(1) or ""
    return last.group(0)


@dataclass(frozen=True)
class Processed:
    """A label (``text``) or the reason there is none (``error``)."""

    text: str | None
    error: str | None = None


def postprocess(
    raw: str,
    *,
    reasoning_tags: Sequence[str] = (),
    answer_regex: re.Pattern[str] | None = None,
    strip_whitespace: bool = True,
) -> Processed:
    """Apply the configured steps to ``raw``."""
    text = strip_reasoning(raw, reasoning_tags) if reasoning_tags else raw
    if not text.strip():
        what = "after removing reasoning blocks" if reasoning_tags and raw.strip() else ""
        return Processed(None, f"empty reply {what}".strip())
    if answer_regex is not None:
        answer = extract_answer(text, answer_regex)
        if answer is None:
            return Processed(None, f"answer_regex {answer_regex.pattern!r} did not match the reply")
        text = answer
    if strip_whitespace:
        text = text.strip()
    if not text.strip():
        return Processed(None, "empty answer after post-processing")
    return Processed(text)
