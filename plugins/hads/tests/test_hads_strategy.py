"""Behaviour of the hadas strategy with controlled detectors and with the model-free detectors."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import ClassVar

import numpy as np
import pytest
from atgen_hads import DETECTORS, Detector, HADASConfig, HADASStrategy, register_detector
from pydantic import ValidationError

from atgen_core import Example, Generation, LabelledView, PoolView, SelectionContext, Signals
from atgen_core.types import ProgressFn, no_progress


class _Axis(Detector):
    """Test detector: reads component ``axis`` of the output text "a b c" (floats); counts its calls."""

    axis: ClassVar[int] = 0
    calls: ClassVar[list[int]] = []

    def score(self, outputs: Sequence[str], sources: Sequence[str], progress: ProgressFn = no_progress) -> np.ndarray:
        type(self).calls.append(len(outputs))
        return np.array([float(o.split()[self.axis]) for o in outputs])


@register_detector
class AxisA(_Axis):
    name: ClassVar[str] = "test-axis-a"
    axis = 0
    calls: ClassVar[list[int]] = []


@register_detector
class AxisB(_Axis):
    name: ClassVar[str] = "test-axis-b"
    axis = 1
    calls: ClassVar[list[int]] = []


@register_detector
class AxisC(_Axis):
    name: ClassVar[str] = "test-axis-c"
    axis = 2
    calls: ClassVar[list[int]] = []


AXES = ("test-axis-a", "test-axis-b", "test-axis-c")


def make_ctx(
    outputs: Mapping[str, str],
    labelled: Sequence[tuple[str, str]] = (("src", "0.1 0.1 0.1"),),
    k: int = 2,
    sources: Mapping[str, str] | None = None,
) -> SelectionContext:
    src = sources or {}
    pool = PoolView(tuple(Example(id=i, input=src.get(i, f"source {i}"), prompt=f"p {i}") for i in outputs))
    lab = LabelledView(
        examples=tuple(Example(id=f"l{n}", input=inp, prompt="") for n, (inp, _) in enumerate(labelled)),
        labels=tuple(lbl for _, lbl in labelled),
    )
    return SelectionContext(
        pool=pool,
        labelled=lab,
        k=k,
        rng=np.random.default_rng(0),
        signals=Signals(generations={i: Generation(text=t) for i, t in outputs.items()}),
    )


def strategy(**cfg: object) -> HADASStrategy:
    cfg.setdefault("detectors", AXES)
    return HADASStrategy(HADASConfig.model_validate(cfg))


def test_lambda_zero_ranks_by_weighted_hallucination() -> None:
    outputs = {"a": "0.1 0.1 0.1", "b": "0.9 0.8 0.7", "c": "0.5 0.5 0.5", "d": "0.0 0.0 1.0"}
    assert strategy(lambda_=0.0).select(make_ctx(outputs, k=2)) == ["b", "c"]
    # the weights decide: only the third detector counts
    assert strategy(lambda_=0.0, weights=[0, 0, 1]).select(make_ctx(outputs, k=1)) == ["d"]


def test_diversity_term_prefers_hallucination_types_unlike_the_labelled_set() -> None:
    # all candidates have the same h_halu (sum 0.9); the labelled set is dominated by detector a
    outputs = {"same": "0.9 0.0 0.0", "mixed": "0.3 0.3 0.3", "other": "0.0 0.0 0.9"}
    labelled = [("s1", "0.5 0.0 0.0"), ("s2", "0.8 0.1 0.0")]
    scores = strategy(lambda_=1.0).score(make_ctx(outputs, labelled, k=1))
    np.testing.assert_allclose(scores.h_halu, [0.3, 0.3, 0.3])
    order = [scores.ids[i] for i in np.argsort(-scores.h_div)]
    assert order == ["other", "mixed", "same"]
    assert strategy(lambda_=1.0).select(make_ctx(outputs, labelled, k=1)) == ["other"]


def test_scores_follow_the_formula() -> None:
    rng = np.random.default_rng(4)
    outputs = {f"x{i:02d}": " ".join(f"{v:.3f}" for v in rng.uniform(0, 1, 3)) for i in range(30)}
    labelled = [(f"s{i}", " ".join(f"{v:.3f}" for v in rng.uniform(0, 1, 3))) for i in range(7)]
    s = strategy(lambda_=0.4, weights=[0.5, 0.2, 0.3])
    res = s.score(make_ctx(outputs, labelled))
    v = np.array([[float(t) for t in outputs[i].split()] for i in res.ids])
    np.testing.assert_allclose(res.pool_vectors, v)
    np.testing.assert_allclose(res.h_halu, v @ np.array([0.5, 0.2, 0.3]))
    for arr in (res.h_halu_scaled, res.h_div_scaled):
        assert arr.min() == pytest.approx(0.0) and arr.max() == pytest.approx(1.0)
    np.testing.assert_allclose(res.score, 0.4 * res.h_div_scaled + 0.6 * res.h_halu_scaled)
    raw = strategy(lambda_=0.4, weights=[0.5, 0.2, 0.3], normalisation="none").score(make_ctx(outputs, labelled))
    np.testing.assert_allclose(raw.score, 0.4 * raw.h_div + 0.6 * raw.h_halu)


def test_fabricated_output_outranks_copy_with_model_free_detectors() -> None:
    sources = {
        "copy1": "name: Blue Spice, eatType: coffee shop, area: city centre",
        "copy2": "name: The Eagle, food: Japanese, priceRange: less than £20, near: Burger King",
        "copy3": "name: Alimentum, area: riverside, familyFriendly: yes",
        "fab1": "name: Blue Spice, eatType: coffee shop, area: city centre",
        "fab2": "name: The Eagle, food: Japanese, priceRange: less than £20, near: Burger King",
        "fab3": "name: Alimentum, area: riverside, familyFriendly: yes",
    }
    outputs = {
        "copy1": "Blue Spice is a coffee shop in the city centre.",
        "copy2": "The Eagle serves Japanese food for less than £20 near Burger King.",
        "copy3": "Alimentum is a family friendly place by the riverside.",
        "fab1": "Blue Spice is a Michelin-starred French bistro run by Gordon Ramsay since 1987.",
        "fab2": "Visitors of the Eagle praise its Italian pizza, vegan desserts and 12 craft beers.",
        "fab3": "Alimentum, opened in 2003 in Cambridge, has a rooftop terrace and live jazz.",
    }
    labelled = [
        ("name: Zizzi, eatType: pub, area: riverside", "Zizzi is a pub by the riverside."),
        ("name: Loch Fyne, food: French", "Loch Fyne serves French food."),
    ]
    for detectors in (["unsupported-content"], ["unsupported-content", "unsupported-entities"]):
        s = strategy(detectors=detectors)
        ctx = make_ctx(outputs, labelled, k=3, sources=sources)
        assert sorted(s.select(ctx)) == ["fab1", "fab2", "fab3"], detectors
        res = s.score(ctx)
        by_id = dict(zip(res.ids, res.h_halu))
        assert min(by_id[f] for f in ("fab1", "fab2", "fab3")) > max(by_id[c] for c in ("copy1", "copy2", "copy3"))


def test_returns_k_distinct_ids_reproducibly_with_ties_by_id() -> None:
    outputs = {i: "0.5 0.5 0.5" for i in ["e", "c", "a", "d", "b"]}
    assert strategy().select(make_ctx(outputs, k=3)) == ["a", "b", "c"]
    rng = np.random.default_rng(8)
    outputs = {f"x{i:02d}": " ".join(f"{v:.2f}" for v in rng.uniform(0, 1, 3)) for i in range(40)}
    first = strategy().select(make_ctx(outputs, k=9))
    again = strategy().select(make_ctx(dict(reversed(list(outputs.items()))), k=9))
    assert first == again and len(set(first)) == 9 and set(first) <= set(outputs)
    assert sorted(strategy().select(make_ctx(outputs, k=100))) == sorted(outputs)
    assert strategy().select(make_ctx(outputs, k=0)) == []


def test_empty_outputs_get_the_configured_score_without_calling_detectors() -> None:
    AxisA.calls.clear()
    outputs = {"a": "0.1 0.1 0.1", "empty": "   ", "b": "0.2 0.2 0.2"}
    res = strategy(empty_output_score=0.75).score(make_ctx(outputs, k=1))
    np.testing.assert_allclose(res.pool_vectors[1], [0.75, 0.75, 0.75])
    assert AxisA.calls[0] == 2  # only the two non-empty pool outputs were scored
    assert strategy().select(make_ctx(outputs, k=1)) == ["empty"]


def test_vectors_are_cached_and_identical_pairs_scored_once() -> None:
    AxisB.calls.clear()
    s = strategy()
    outputs = {"a": "0.1 0.2 0.3", "b": "0.1 0.2 0.3", "c": "0.4 0.4 0.4"}
    same_source = {"a": "doc", "b": "doc", "c": "doc"}
    s.select(make_ctx(outputs, sources=same_source))
    assert AxisB.calls == [2, 1]  # pool: 2 distinct pairs; labelled: 1
    s.select(make_ctx(outputs, sources=same_source))
    assert AxisB.calls == [2, 1]  # everything cached
    s.close()
    s.select(make_ctx(outputs, sources=same_source))
    assert AxisB.calls == [2, 1, 2, 1]
    no_cache = strategy(cache_vectors=False)
    no_cache.select(make_ctx(outputs, sources=same_source))
    no_cache.select(make_ctx(outputs, sources=same_source))
    assert AxisB.calls[-4:] == [2, 1, 2, 1]


def test_warm_start_and_clear_errors() -> None:
    assert HADASStrategy.cold_start is False
    req = HADASStrategy(HADASConfig(detectors=("unsupported-content",))).requirements()
    assert req.generations and not req.embeddings
    with pytest.raises(ValueError, match="non-empty labelled set"):
        strategy().select(make_ctx({"a": "0.1 0.1 0.1"}, labelled=()))
    ctx = make_ctx({"a": "0.1 0.1 0.1", "b": "0.2 0.2 0.2"})
    no_gen = SelectionContext(pool=ctx.pool, labelled=ctx.labelled, k=1, rng=ctx.rng,
                              signals=Signals(generations={"a": Generation(text="0 0 0")}))  # fmt: skip
    with pytest.raises(ValueError, match="no generation for pool id 'b'"):
        strategy().select(no_gen)


def test_config_errors_name_the_field_and_fix() -> None:
    with pytest.raises(ValidationError, match=r"weights has 2 entries but detectors has 3"):
        HADASConfig.model_validate({"detectors": list(AXES), "weights": [0.5, 0.5]})
    with pytest.raises(ValidationError, match="non-negative"):
        HADASConfig.model_validate({"detectors": list(AXES), "weights": [1, -1, 1]})
    with pytest.raises(ValidationError, match="not all 0"):
        HADASConfig.model_validate({"detectors": list(AXES), "weights": [0, 0, 0]})
    with pytest.raises(ValidationError, match=r"unknown detector 'factkb'; available: .*bertscore-precision"):
        HADASConfig.model_validate({"detectors": ["factkb"]})
    with pytest.raises(ValidationError, match="nli_model_path"):
        HADASConfig.model_validate({"detectors": ["nli-entailment"]})
    with pytest.raises(ValidationError, match="twice"):
        HADASConfig.model_validate({"detectors": ["unsupported-content", "unsupported-content"]})
    with pytest.raises(ValidationError, match="detectors"):
        HADASConfig.model_validate({"detectors": []})
    with pytest.raises(ValidationError, match="lambda_"):
        HADASConfig.model_validate({"lambda_": -0.1})
    with pytest.raises(ValidationError, match="encoder"):
        HADASConfig.model_validate({"detector_options": {"encoder": "x"}})
    cfg = HADASConfig()
    assert cfg.lambda_ == 0.33 and cfg.detectors[0] == "bertscore-precision"
    assert cfg.detector_weights() == pytest.approx([1 / 3] * 3)
    for model in (HADASConfig, type(cfg.detector_options)):
        for name, field in model.model_fields.items():
            assert field.description, name


def test_registry_rejects_a_taken_name() -> None:
    class Clash(Detector):
        name: ClassVar[str] = "unsupported-content"

        def score(
            self, outputs: Sequence[str], sources: Sequence[str], progress: ProgressFn = no_progress
        ) -> np.ndarray:
            return np.zeros(len(outputs))

    with pytest.raises(ValueError, match="already registered"):
        register_detector(Clash)
    assert DETECTORS["unsupported-content"].__name__ == "UnsupportedContent"


def test_cache_keeps_only_the_latest_selections_pairs() -> None:
    AxisC.calls.clear()
    s = strategy()
    s.select(make_ctx({"a": "0.1 0.2 0.3", "b": "0.4 0.4 0.4"}))
    assert len(s._cache) == 3  # two pool pairs + one labelled pair
    s.select(make_ctx({"a": "0.1 0.2 0.3", "c": "0.9 0.9 0.9"}))
    assert AxisC.calls == [2, 1, 1]  # only the new output of "c" was scored
    assert len(s._cache) == 3  # b's pair was dropped
