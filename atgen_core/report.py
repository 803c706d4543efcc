"""``atgen report``: does active learning pay off? Curves, savings against random with confidence
intervals, paired tests, a generated verdict, cost and selection bias.

The implementation lives in :mod:`atgen_core.analysis`; this module keeps the public import path
(``from atgen_core.report import build_report``). Definitions are in ``docs/benchmarks.md`` and at the
end of every report.md.
"""

from atgen_core.analysis import (
    BASELINE,
    RunRecord,
    aulc,
    build_report,
    collect_runs,
    labels_to_reach,
    sign_flip_pvalue,
    t_test_pvalue,
)

__all__ = [
    "BASELINE",
    "RunRecord",
    "aulc",
    "build_report",
    "collect_runs",
    "labels_to_reach",
    "sign_flip_pvalue",
    "t_test_pvalue",
]
