"""Hook implementations of the ``nlg-metrics`` plugin (no heavy imports here)."""

from __future__ import annotations

from atgen_core import Metric, hookimpl


@hookimpl
def atgen_register_metrics() -> list[type[Metric]]:
    """Register ``bertscore``, ``alignscore`` and ``evaluate``."""
    from atgen_nlg_metrics.alignscore import AlignScoreMetric
    from atgen_nlg_metrics.bertscore import BertScoreMetric
    from atgen_nlg_metrics.evaluate_adapter import EvaluateMetric

    return [BertScoreMetric, AlignScoreMetric, EvaluateMetric]
