"""The ``oracle`` annotator: labels from the gold column (simulated annotation for benchmarks)."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from typing import ClassVar

from pydantic import Field

from atgen_core import AnnotationContext, AnnotationItem, AnnotationResult, Annotator, PluginConfig


class OracleConfig(PluginConfig):
    """Settings of the oracle annotator."""

    price_per_label: float = Field(
        0.0, ge=0, description="Simulated cost of one label, so that money budgets can be exercised."
    )
    reference: str = Field(
        "first", pattern="^(first|all-joined)$",
        description="'first': the first reference; 'all-joined' is reserved for multi-reference training "
        "and joins references with newlines.",
    )


class OracleAnnotator(Annotator[OracleConfig]):
    """Labels from the gold target (simulated oracle); items without gold are reported as failed."""

    name: ClassVar[str] = "oracle"
    default: ClassVar[bool] = True
    """The default of its kind: specs that leave it out get this component."""
    Config = OracleConfig

    def max_cost(self, item: AnnotationItem) -> float:
        return self.config.price_per_label

    def annotate(self, items: Sequence[AnnotationItem], ctx: AnnotationContext) -> Iterator[AnnotationResult]:
        for item in ctx.progress(items, total=len(items), desc="oracle"):
            refs = item.example.references
            if not refs:
                yield AnnotationResult(id=item.id, status="failed", error="no gold target for this item")
                continue
            text = refs[0] if self.config.reference == "first" else "\n".join(refs)
            yield AnnotationResult(id=item.id, status="ok", text=text, cost=self.config.price_per_label)
