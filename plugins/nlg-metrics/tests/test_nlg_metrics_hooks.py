"""Registration through the hook, and cheap imports."""

from __future__ import annotations

import atgen_nlg_metrics.hooks

from atgen_core.plugins import load_registry
from atgen_core.testing import check_light_import


def test_hook_registers_the_three_metrics() -> None:
    registry = load_registry(load_entrypoints=False, plugins=[("nlg-metrics", atgen_nlg_metrics.hooks)], strict=True)
    assert {"bertscore", "alignscore", "evaluate"} <= set(registry.names("metric"))
    assert registry.get("metric", "bertscore").cls.summary().startswith("BERTScore")


def test_importing_hooks_and_metric_modules_is_light() -> None:
    heavy = ("torch", "transformers", "evaluate", "bert_score")
    assert check_light_import("atgen_nlg_metrics.hooks", heavy, run="m.atgen_register_metrics()") == []


def test_metrics_build_with_default_config() -> None:
    from atgen_nlg_metrics.alignscore import AlignScoreMetric
    from atgen_nlg_metrics.bertscore import BertScoreMetric

    assert set(BertScoreMetric().keys()) == {"bertscore_precision", "bertscore_recall", "bertscore_f1"}
    assert set(AlignScoreMetric().keys()) == {"alignscore"}
