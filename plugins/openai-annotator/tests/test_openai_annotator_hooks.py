"""Registration through the entry point, and a light import."""

from __future__ import annotations

from importlib.metadata import entry_points

from atgen_openai_annotator import hooks

from atgen_core import Annotator, Metric
from atgen_core.testing import check_light_import


def test_hooks_register_the_components() -> None:
    annotator = hooks.atgen_register_annotators()
    metric = hooks.atgen_register_metrics()
    assert issubclass(annotator, Annotator) and annotator.name == "openai"
    assert issubclass(metric, Metric) and metric.name == "llm-judge"
    assert annotator.summary().startswith("Label items with an OpenAI-compatible chat API")
    for cls in (annotator, metric):
        for name, field in cls.Config.model_fields.items():
            assert field.description, f"{cls.name}.{name} has no description"


def test_entry_point_is_declared() -> None:
    eps = [ep for ep in entry_points(group="atgen") if ep.name == "openai-annotator"]
    assert [ep.value for ep in eps] == ["atgen_openai_annotator.hooks"]


def test_importing_hooks_is_light() -> None:
    run = "m.atgen_register_annotators(); m.atgen_register_metrics()"
    assert (
        check_light_import("atgen_openai_annotator.hooks", ("torch", "transformers", "httpx", "openai"), run=run) == []
    )
