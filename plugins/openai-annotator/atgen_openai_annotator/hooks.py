"""Hook implementations of atgen-openai-annotator (imports only light modules)."""

from __future__ import annotations

from atgen_core import Annotator, Metric, hookimpl


@hookimpl
def atgen_register_annotators() -> type[Annotator]:
    """Register the ``openai`` annotator."""
    from atgen_openai_annotator.annotator import OpenAIAnnotator

    return OpenAIAnnotator


@hookimpl
def atgen_register_metrics() -> type[Metric]:
    """Register the ``llm-judge`` metric."""
    from atgen_openai_annotator.judge import LLMJudge

    return LLMJudge
