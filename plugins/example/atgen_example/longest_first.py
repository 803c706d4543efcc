"""The ``longest-first`` strategy: label the longest inputs first.

A baseline that needs no model: longer inputs usually carry more content to learn from (and cost
more to label). It shows the parts every strategy has: a ``Config`` with described, validated
fields, a ``name``, a docstring summary, ``cold_start`` and ``select``.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import ClassVar, Literal

from pydantic import Field

from atgen_core import PluginConfig, SelectionContext, Strategy


class LongestFirstConfig(PluginConfig):
    """Options of ``longest-first``."""

    unit: Literal["words", "characters"] = Field(
        "words", description="How input length is measured: whitespace-separated words or characters."
    )
    use_prompt: bool = Field(
        False, description="Measure the rendered prompt instead of the raw input text."
    )
    max_length: int | None = Field(
        None,
        ge=1,
        description="Inputs longer than this (in `unit`) are treated as outliers and picked only when "
        "nothing else is left; null means no limit.",
    )


class LongestFirstStrategy(Strategy[LongestFirstConfig]):
    """Label the longest inputs first (ties keep pool order); needs no model."""

    name: ClassVar[str] = "longest-first"
    Config = LongestFirstConfig
    cold_start: ClassVar[bool] = True

    def length(self, text: str) -> int:
        """The length of ``text`` in the configured unit."""
        return len(text.split()) if self.config.unit == "words" else len(text)

    def select(self, ctx: SelectionContext) -> Sequence[str]:
        """The ``k`` longest candidates; outliers above ``max_length`` rank after every other input."""
        texts = ctx.pool.prompts if self.config.use_prompt else ctx.pool.inputs
        limit = self.config.max_length
        ranked = []
        for position, (id_, text) in enumerate(zip(ctx.pool.ids, texts)):
            size = self.length(text)
            if limit is not None and size > limit:
                key = (1, size, position)  # outliers last, the least extreme first
            else:
                key = (0, -size, position)  # longest first; ties keep pool order
            ranked.append((key, id_))
        ranked.sort()
        k = min(ctx.k, len(ranked))
        return [id_ for _, id_ in ranked[:k]]
