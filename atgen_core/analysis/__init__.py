"""Benchmark analysis behind ``atgen report``: does active learning pay off, honestly.

Modules: ``runs`` (reading run stores, leaving out unfinished runs), ``curves`` (per-seed curves,
AULC, labels-to-reach), ``savings`` (paired bootstrap intervals and tests against random),
``verdict`` (the generated one-sentence verdict), ``cost``, ``bias`` (selection bias, the shared
first batch left out), ``reference`` (reference files and the end-of-run verdict of one run),
``figures``, ``render`` (report.md / report.html) and ``build`` (``build_report``).
Optional libraries only: matplotlib (figures), scipy (t-test), scikit-learn (clusters, coverage),
markdown (report.html).
"""

from atgen_core.analysis.build import BASELINE, build_report
from atgen_core.analysis.curves import aulc, labels_to_reach
from atgen_core.analysis.runs import RunRecord, collect_runs
from atgen_core.analysis.savings import sign_flip_pvalue, t_test_pvalue

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
