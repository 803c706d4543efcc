"""The ``random`` strategy: the baseline every other strategy must beat."""

from __future__ import annotations

from collections.abc import Sequence
from typing import ClassVar

from atgen_core import SelectionContext, Strategy


class RandomStrategy(Strategy):
    """Uniform random sample of the unlabelled pool (seeded: same seed and pool, same ids)."""

    name: ClassVar[str] = "random"
    cold_start: ClassVar[bool] = True

    def select(self, ctx: SelectionContext) -> Sequence[str]:
        ids = sorted(ctx.pool.ids)
        k = min(ctx.k, len(ids))
        picked = ctx.rng.choice(len(ids), size=k, replace=False)
        return [ids[int(i)] for i in picked]
