"""Registration through the hook, and cheap imports."""

from __future__ import annotations

import subprocess
import sys

import atgen_nlg_metrics.hooks

from atgen_core.plugins import load_registry


def test_hook_registers_the_three_metrics() -> None:
    registry = load_registry(load_entrypoints=False, plugins=[("nlg-metrics", atgen_nlg_metrics.hooks)], strict=True)
    assert {"bertscore", "alignscore", "evaluate"} <= set(registry.names("metric"))
    assert registry.get("metric", "bertscore").cls.summary().startswith("BERTScore")


def test_importing_hooks_and_metric_modules_is_light() -> None:
    code = (
        "import sys, atgen_nlg_metrics.hooks as h; h.atgen_register_metrics(); "
        "bad = [m for m in ('torch', 'transformers', 'evaluate', 'bert_score') if m in sys.modules]; "
        "print(bad); sys.exit(1 if bad else 0)"
    )
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert proc.returncode == 0, proc.stdout + proc.stderr


def test_metrics_build_with_default_config() -> None:
    from atgen_nlg_metrics.alignscore import AlignScoreMetric
    from atgen_nlg_metrics.bertscore import BertScoreMetric

    assert set(BertScoreMetric().keys()) == {"bertscore_precision", "bertscore_recall", "bertscore_f1"}
    assert set(AlignScoreMetric().keys()) == {"alignscore"}
