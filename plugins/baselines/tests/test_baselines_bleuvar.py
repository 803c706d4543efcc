"""BLEUVar: values against sacreBLEU's sentence_bleu, edge cases, and the strategy's top-k."""

from __future__ import annotations

import itertools

import numpy as np
import pytest
import sacrebleu
from atgen_baselines.bleuvar import BLEUVarStrategy, bleuvar
from atgen_baselines.pairwise_bleu import make_tokenizer, pairwise_bleu

from atgen_core import Generation
from atgen_core.ranking import NaNScoreWarning

WORDS = ["the", "cat", "sat", "on", "a", "mat", "dog", "ran", "home", "quickly", ",", "."]


def reference_bleuvar(texts: list[str], smooth_method: str) -> float:
    n = len(texts)
    total = 0.0
    for i, j in itertools.permutations(range(n), 2):
        b = sacrebleu.sentence_bleu(texts[i], [texts[j]], smooth_method=smooth_method).score / 100
        total += (1 - b) ** 2
    return total / (n * (n - 1))


@pytest.mark.parametrize("smooth_method", ["exp", "floor", "add-k", "none"])
def test_matches_sacrebleu_sentence_bleu(smooth_method: str) -> None:
    rng = np.random.default_rng(0)
    for _ in range(25):
        n = int(rng.integers(2, 6))
        # Distinct, non-empty texts (our rules for identical and empty outputs are tested separately).
        texts = list({" ".join(rng.choice(WORDS, size=int(rng.integers(1, 12)))) for _ in range(n)})
        if len(texts) < 2:
            continue
        expected = reference_bleuvar(texts, smooth_method)
        assert bleuvar(texts, smooth_method) == pytest.approx(expected, abs=1e-12)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("smooth_method", "smooth_value"), [("exp", None), ("floor", 0.3), ("add-k", 2.0), ("none", None)]
)
def test_pairwise_matrix_equals_sentence_bleu(smooth_method: str, smooth_value: float | None) -> None:
    rng = np.random.default_rng(1)
    tokenize = make_tokenizer()
    for _ in range(10):
        texts = [" ".join(rng.choice(WORDS[:6], size=int(rng.integers(1, 16)))) for _ in range(6)]
        got = pairwise_bleu([tokenize(t) for t in texts], smooth_method, smooth_value)  # type: ignore[arg-type]
        for i, j in itertools.permutations(range(6), 2):
            if tokenize(texts[i]) == tokenize(texts[j]):
                assert got[i, j] == 1.0
                continue
            ref = sacrebleu.sentence_bleu(texts[i], [texts[j]], smooth_method=smooth_method,
                                          smooth_value=smooth_value).score / 100
            assert got[i, j] == pytest.approx(ref, abs=1e-12), (texts[i], texts[j])


def test_identical_samples_give_zero_and_disjoint_samples_give_one() -> None:
    assert bleuvar(["the cat sat on the mat"] * 5) == 0.0
    assert bleuvar(["x"] * 3) == 0.0
    assert bleuvar(["alpha beta", "gamma delta", "epsilon zeta"]) == pytest.approx(1.0)
    partial = bleuvar(["the cat sat on the mat", "the cat sat on a mat", "the cat sat on the mat"])
    assert 0.0 < partial < 0.5


def test_empty_outputs() -> None:
    assert bleuvar(["", "  ", ""]) == 0.0  # all empty: identical
    assert bleuvar(["", "the cat"]) == pytest.approx(1.0)  # empty vs non-empty: BLEU 0 both ways
    # Two of three empty: the empty pair agrees, the four ordered pairs with the text disagree fully.
    assert bleuvar(["", "", "the cat"]) == pytest.approx(4 / 6)
    assert np.isnan(bleuvar(["only one"]))


def test_strategy_picks_the_most_diverse_items(make_ctx) -> None:
    same = [Generation(text="the cat sat on the mat") for _ in range(10)]
    mild = [Generation(text="the cat sat on the mat")] * 5 + [Generation(text="the dog sat on the mat")] * 5
    wild = [Generation(text=f"word{i} other{i} thing{i}") for i in range(10)]
    samples = {"s1": same, "s2": same, "m1": mild, "w1": wild, "w2": wild[::-1]}
    ctx = make_ctx(list(samples), k=3, samples=samples)
    assert list(BLEUVarStrategy().select(ctx)) == ["w1", "w2", "m1"]


def test_requirements_and_too_few_samples(make_ctx) -> None:
    req = BLEUVarStrategy(BLEUVarStrategy.Config(num_samples=6, top_p=0.9)).requirements()
    assert req.samples is not None and (req.samples.n, req.samples.top_p) == (6, 0.9)
    assert BLEUVarStrategy().requirements().samples.n == 10  # type: ignore[union-attr]
    samples = {"a": [Generation(text="x")], "b": [Generation(text="x"), Generation(text="y")]}
    with pytest.warns(NaNScoreWarning, match="fewer than two sampled outputs"):
        assert list(BLEUVarStrategy().select(make_ctx(["a", "b"], k=2, samples=samples))) == ["b", "a"]


def test_only_the_first_num_samples_are_used(make_ctx) -> None:
    samples = {"a": [Generation(text="x y")] * 2 + [Generation(text="p q")] * 2,
               "b": [Generation(text="x y"), Generation(text="z w")]}
    strategy = BLEUVarStrategy(BLEUVarStrategy.Config(num_samples=2))
    assert list(strategy.select(make_ctx(["a", "b"], k=1, samples=samples))) == ["b"]
