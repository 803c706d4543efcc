"""Hook implementations of ``atgen-baselines`` (entry point ``baselines``).

Only hookimpls live here; strategy modules are imported when the hook is called. They import numpy and
pydantic at module level; sacrebleu and nltk are imported only when a strategy scores.
"""

from __future__ import annotations

from atgen_core import Strategy, hookimpl


@hookimpl
def atgen_register_strategies() -> list[type[Strategy]]:
    """entropy, nsp, idds, te-delfy, bleuvar, graph-cut and dual."""
    from atgen_baselines.bleuvar import BLEUVarStrategy
    from atgen_baselines.dual import DualStrategy
    from atgen_baselines.graph_cut import GraphCutStrategy
    from atgen_baselines.idds import IDDSStrategy
    from atgen_baselines.te_delfy import TEDelfyStrategy
    from atgen_baselines.uncertainty import EntropyStrategy, NSPStrategy

    return [
        EntropyStrategy,
        NSPStrategy,
        IDDSStrategy,
        TEDelfyStrategy,
        BLEUVarStrategy,
        GraphCutStrategy,
        DualStrategy,
    ]
