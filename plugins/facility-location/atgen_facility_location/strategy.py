"""The ``facility-location`` strategy: a batch that best represents what the labelled set does not.

It maximises f(S u L) = sum_i max_{j in S u L} s(x_i, x_j) over input embeddings (s = (1 + cos)/2 or
max(0, cos)) with lazy greedy, counting the labelled set L as already chosen, so it can pick the first
batch (L empty) and every later one. See ``selection.py`` for the algorithm and README.md for options.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import ClassVar

import numpy as np

from atgen_core import Requirements, SelectionContext, Strategy
from atgen_facility_location.config import FacilityLocationConfig
from atgen_facility_location.selection import FacilityLocationResult, select_facility_location


class FacilityLocationStrategy(Strategy[FacilityLocationConfig]):
    """Representative batch by facility location on input embeddings (lazy greedy, conditioned on labels)."""

    name: ClassVar[str] = "facility-location"
    Config = FacilityLocationConfig
    cold_start: ClassVar[bool] = True

    def __init__(self, config: FacilityLocationConfig | None = None) -> None:
        super().__init__(config)
        self.options: FacilityLocationConfig = self.config
        self.last_result: FacilityLocationResult | None = None
        """What the latest ``select`` did (picks, gains, mode), for logging and tests."""

    def requirements(self) -> Requirements:
        """Input embeddings of the pool and of the labelled set."""
        return Requirements(embeddings=True)

    def select(self, ctx: SelectionContext) -> Sequence[str]:
        """The ``min(k, len(pool))`` pool ids chosen greedily; ties and the completion go by id."""
        pool_ids = ctx.pool.ids
        k = min(ctx.k, len(pool_ids))
        if k <= 0:
            return []
        embeddings = ctx.signals.embeddings
        if embeddings is None:
            raise RuntimeError(
                "facility-location needs input embeddings but ctx.signals.embeddings is None: the loop "
                "computes them when requirements().embeddings is true, so configure an embedder in the spec"
            )
        labelled_ids = ctx.labelled.ids
        try:
            pool_matrix = embeddings.take(pool_ids)
            labelled_matrix = embeddings.take(labelled_ids)
        except KeyError as err:
            raise KeyError(
                f"facility-location: {err.args[0]}; embeddings must cover every pool and labelled id"
            ) from err
        order = sorted(range(len(pool_ids)), key=pool_ids.__getitem__)
        ranks = np.empty(len(pool_ids), dtype=np.int64)
        ranks[order] = np.arange(len(pool_ids))
        result = select_facility_location(
            pool_matrix,
            labelled_matrix,
            k,
            self.options,
            rng=ctx.rng,
            ranks=ranks,
            pool_ids=pool_ids,
            labelled_ids=labelled_ids,
        )
        self.last_result = result
        return [pool_ids[i] for i in result.indices]
