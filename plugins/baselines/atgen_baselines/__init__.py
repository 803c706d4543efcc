"""atgen-baselines: the catalogue of baseline selection strategies for atgen.

Strategies (module): ``entropy`` and ``nsp`` (:mod:`~atgen_baselines.uncertainty`), ``idds``
(:mod:`~atgen_baselines.idds`), ``te-delfy`` (:mod:`~atgen_baselines.te_delfy`, with
:mod:`~atgen_baselines.delfy`), ``bleuvar`` (:mod:`~atgen_baselines.bleuvar`), ``graph-cut``
(:mod:`~atgen_baselines.graph_cut`) and ``dual`` (:mod:`~atgen_baselines.dual`). Shared rules for
ranking, ties and NaN scores are in :mod:`~atgen_core.ranking`.
"""

from __future__ import annotations

__version__ = "0.1.0"

__all__ = ["__version__"]
