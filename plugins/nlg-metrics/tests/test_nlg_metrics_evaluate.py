"""The `evaluate` adapter, offline, with a small metric module written to a temporary folder."""

from __future__ import annotations

import sys
import textwrap
from collections.abc import Sequence
from pathlib import Path

import pytest
from atgen_nlg_metrics.evaluate_adapter import EvaluateMetric
from pydantic import ValidationError

from atgen_core import MetricContext

MODULE_SOURCE = '''
"""Word overlap: the share of prediction words found in the best reference."""

import datasets
import evaluate


class WordOverlap(evaluate.Metric):
    def _info(self):
        return evaluate.MetricInfo(
            description="word overlap",
            citation="",
            inputs_description="predictions and references",
            features=[
                datasets.Features(
                    {
                        "predictions": datasets.Value("string"),
                        "references": datasets.Sequence(datasets.Value("string")),
                    }
                ),
                datasets.Features(
                    {"predictions": datasets.Value("string"), "references": datasets.Value("string")}
                ),
            ],
        )

    def _compute(self, predictions, references, sources=None, scale=1.0):
        per_example = []
        for prediction, refs in zip(predictions, references):
            refs = [refs] if isinstance(refs, str) else refs
            words = prediction.split()
            best = 0.0
            for ref in refs:
                ref_words = set(ref.split())
                share = sum(w in ref_words for w in words) / len(words) if words else 0.0
                best = max(best, share)
            per_example.append(best * scale)
        result = {"overlap": per_example, "mean_overlap": sum(per_example) / len(per_example), "label": "x"}
        if sources is not None:
            result["source_words"] = sum(len(s.split()) for s in sources) / len(sources)
        return result
'''


@pytest.fixture(scope="module")
def module_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    pytest.importorskip("evaluate")
    folder = tmp_path_factory.mktemp("metrics") / "word_overlap"
    folder.mkdir()
    (folder / "word_overlap.py").write_text(textwrap.dedent(MODULE_SOURCE))
    return folder


def _ctx(predictions: Sequence[str], references: Sequence[Sequence[str]], sources: Sequence[str] = ()) -> MetricContext:
    return MetricContext(
        ids=[f"e{i}" for i in range(len(predictions))],
        predictions=list(predictions),
        references=[list(r) for r in references],
        sources=list(sources) or [""] * len(predictions),
    )


def _metric(module: Path | str, **options: object) -> EvaluateMetric:
    options.setdefault("keys", {"overlap": {}, "mean": {"result_key": "mean_overlap"}})
    return EvaluateMetric(EvaluateMetric.Config(module=str(module), **options))  # type: ignore[arg-type]


def test_local_module_lists_and_scalars(module_dir: Path) -> None:
    metric = _metric(module_dir)
    result = metric.compute(_ctx(["a b c d", "x y"], [["a b z z", "q"], ["x y"]]))
    # first references only: "a b c d" vs "a b z z" -> 2/4, "x y" vs "x y" -> 1
    assert result.per_example == {"overlap": [0.5, 1.0]}
    assert result.values == {"overlap": pytest.approx(0.75), "mean": pytest.approx(0.75)}
    assert set(metric.keys()) == {"overlap", "mean"}
    assert result.seconds > 0


def test_all_references_and_compute_kwargs(module_dir: Path) -> None:
    metric = _metric(module_dir, references="all", compute_kwargs={"scale": 100.0}, keys={"overlap": {"high": 100}})
    result = metric.compute(_ctx(["a b c d"], [["q", "a b c z"]]))
    assert result.per_example["overlap"] == [pytest.approx(75.0)]  # the best of both references
    assert metric.keys()["overlap"].high == 100


def test_sources_argument(module_dir: Path) -> None:
    metric = _metric(module_dir, sources_argument="sources", keys={"source_words": {"high": 1000}})
    result = metric.compute(_ctx(["a", "b"], [["a"], ["b"]], sources=["one two", "one two three four"]))
    assert result.values == {"source_words": 3.0}
    assert result.per_example == {}


def test_script_path_and_module_loaded_once(module_dir: Path) -> None:
    metric = _metric(module_dir / "word_overlap.py")
    metric.compute(_ctx(["a"], [["a"]]))
    loaded = metric._module
    assert loaded is not None
    assert metric.compute(_ctx(["a"], [["b"]])).values["overlap"] == 0.0
    assert metric._module is loaded
    metric.close()
    assert metric._module is None


def test_unknown_result_key(module_dir: Path) -> None:
    metric = _metric(module_dir, keys={"bleu": {}})
    with pytest.raises(ValueError, match=r"returned no 'bleu'.*mean_overlap"):
        metric.compute(_ctx(["a"], [["a"]]))


def test_non_numeric_result(module_dir: Path) -> None:
    with pytest.raises(ValueError, match="neither a number nor a list of 1 numbers"):
        _metric(module_dir, keys={"label": {}}).compute(_ctx(["a"], [["a"]]))


def test_missing_module_is_a_clear_error(tmp_path: Path) -> None:
    pytest.importorskip("evaluate")
    metric = _metric(tmp_path / "nothing_here" / "nothing_here.py")
    with pytest.raises(ValueError, match="could not load module"):
        metric.compute(_ctx(["a"], [["a"]]))


def test_missing_package_is_a_clear_error(module_dir: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "evaluate", None)  # makes `import evaluate` raise ImportError
    with pytest.raises(ImportError, match=r"pip install 'atgen-nlg-metrics\[evaluate\]'"):
        _metric(module_dir).compute(_ctx(["a"], [["a"]]))


def test_config_validation() -> None:
    with pytest.raises(ValidationError, match="module"):
        EvaluateMetric.Config(keys={"x": {}})  # type: ignore[call-arg]
    with pytest.raises(ValidationError, match="keys"):
        EvaluateMetric.Config(module="rouge", keys={})
    with pytest.raises(ValidationError, match="must be below high"):
        EvaluateMetric.Config(module="rouge", keys={"x": {"low": 1, "high": 0}})  # type: ignore[dict-item]
