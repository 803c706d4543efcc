"""entropy and nsp on fabricated greedy outputs with controlled entropies and log-probs."""

from __future__ import annotations

import math

import pytest
from atgen_baselines.signals import MissingSignalError
from atgen_baselines.uncertainty import EntropyStrategy, NSPStrategy, sequence_uncertainty

from atgen_core import Generation
from atgen_core.ranking import NaNScoreWarning


def test_entropy_prefers_high_mean_token_entropy(make_ctx, make_generation) -> None:
    ids = [f"x{i}" for i in range(10)]
    # x3 and x7 have high entropy; x5 has one very high token but a low mean.
    ent = {i: [0.1, 0.2, 0.1] for i in ids}
    ent["x3"] = [2.0, 2.2, 1.8]
    ent["x7"] = [1.5, 1.5]
    ent["x5"] = [4.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0]
    gens = {i: make_generation(ent[i]) for i in ids}
    ctx = make_ctx(ids, k=3, generations=gens)
    assert list(EntropyStrategy().select(ctx)) == ["x3", "x7", "x5"]


def test_entropy_empty_output_is_ranked_last_with_a_warning(make_ctx, make_generation) -> None:
    gens = {"a": make_generation([]), "b": make_generation([0.1]), "c": make_generation([0.5])}
    ctx = make_ctx(["a", "b", "c"], k=3, generations=gens)
    with pytest.warns(NaNScoreWarning, match="'a'"):
        assert list(EntropyStrategy().select(ctx)) == ["c", "b", "a"]


def test_nsp_prefers_low_log_probabilities(make_ctx, make_generation) -> None:
    ids = ["a", "b", "c", "d"]
    gens = {
        "a": make_generation([0.0] * 2, logprobs=[-0.1, -0.1]),
        "b": make_generation([0.0] * 2, logprobs=[-3.0, -2.0]),  # nnll 2.5
        "c": make_generation([0.0] * 2, logprobs=[-1.0, -1.0]),  # nnll 1.0
        "d": make_generation([0.0] * 8, logprobs=[-0.9] * 8),  # nnll 0.9 but total 7.2
    }
    ctx = make_ctx(ids, k=2, generations=gens)
    assert list(NSPStrategy().select(ctx)) == ["b", "c"]
    # Without length normalisation the long, moderately unlikely output wins.
    total = NSPStrategy(NSPStrategy.Config(length_penalty=0.0))
    assert list(total.select(ctx)) == ["d", "b"]


def test_sequence_uncertainty_formula() -> None:
    g = Generation(text="ab", token_logprobs=(-1.0, -2.0, -3.0))
    assert sequence_uncertainty(g, 1.0) == pytest.approx(2.0)
    assert sequence_uncertainty(g, 0.5) == pytest.approx(6.0 / math.sqrt(3))
    assert sequence_uncertainty(g, 1.0) == pytest.approx(g.nnll)
    assert math.isnan(sequence_uncertainty(Generation(text=""), 1.0))


def test_missing_generations_are_a_clear_error(make_ctx, make_generation) -> None:
    with pytest.raises(MissingSignalError, match=r"ctx\.signals\.generations is None"):
        EntropyStrategy().select(make_ctx(["a"], k=1))
    ctx = make_ctx(["a", "b"], k=1, generations={"a": make_generation([1.0])})
    with pytest.raises(MissingSignalError, match=r"lacks pool items: 1 id\(s\) missing, e\.g\. 'b'"):
        NSPStrategy().select(ctx)
