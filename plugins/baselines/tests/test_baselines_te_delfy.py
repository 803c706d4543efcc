"""DELFY on hand-made pools, and the TE-DELFY rank sum."""

from __future__ import annotations

import math

import numpy as np
import pytest
from atgen_baselines.delfy import delfy_scores, porter_stemmer, tokenize
from atgen_baselines.te_delfy import TEDelfyStrategy

from atgen_core.ranking import NaNScoreWarning


def test_tokenize_lowercases_splits_on_word_characters_and_stems() -> None:
    stem = porter_stemmer()
    assert tokenize("Running, RUNS; run!", stem) == ["run", "run", "run"]
    assert tokenize("...?!", stem) == []


def test_delfy_values_match_the_formula_by_hand() -> None:
    ids = ["p1", "p2", "p3"]
    pool = ["cat cat dog", "dog bird", "fish"]
    labelled = ["dog"]
    lam1, lam2 = 1.0, 0.5
    total = 2 * math.log(3) + 2 * math.log(2)
    f = {"cat": math.log(3) / total, "dog": math.log(3) / total, "bird": math.log(2) / total,
         "fish": math.log(2) / total}
    w = {"cat": f["cat"], "dog": f["dog"] * math.exp(-lam1), "bird": f["bird"], "fish": f["fish"]}
    lf = {"p1": (2 * w["cat"] + w["dog"]) / 3, "p2": (w["dog"] + w["bird"]) / 2, "p3": w["fish"]}
    # Visit order by LF: p1, then p3, then p2 (asserted, so the hand computation below is the right one).
    assert lf["p1"] > lf["p3"] > lf["p2"]
    expected = {
        "p1": (2 * w["cat"] + w["dog"]) / 3,  # nothing visited yet
        "p3": w["fish"],  # fish not visited
        "p2": (w["dog"] * math.exp(-lam2 * 1) + w["bird"]) / 2,  # dog visited once (in p1)
    }
    got = delfy_scores(ids, pool, labelled, lam1, lam2)
    assert got.tolist() == pytest.approx([expected[i] for i in ids], rel=1e-12)


def test_delfy_prefers_frequent_but_unlabelled_vocabulary() -> None:
    ids = ["apple", "banana", "rare"]
    pool = ["apple apple", "banana banana", "zebra"] + ["apple banana"] * 5
    ids_all = ids + [f"f{i}" for i in range(5)]
    scores = dict(zip(ids_all, delfy_scores(ids_all, pool, ["apple"], 1.0, 1.0)))
    assert scores["banana"] > scores["apple"]
    assert scores["banana"] > scores["rare"]
    # Without the labelled decay the two frequent words are equally representative.
    plain = dict(zip(ids_all, delfy_scores(ids_all, pool, [], 1.0, 1.0)))
    assert plain["apple"] > plain["rare"] and plain["banana"] > plain["rare"]


def test_visited_decay_lowers_repeated_content() -> None:
    scores = delfy_scores(["a", "b", "c"], ["dog cat", "dog cat", "owl"], [], 1.0, 1.0)
    # a and b tie on LF; a is visited first (id order), so b is decayed by a's tokens.
    assert scores[0] > scores[1]
    assert scores[1] == pytest.approx(scores[0] * math.exp(-1.0))


def test_inputs_without_tokens_score_zero_not_nan() -> None:
    scores = delfy_scores(["a", "b"], ["!!! ???", "dog"], ["dog"], 1.0, 1.0)
    assert scores[0] == 0.0 and np.isfinite(scores).all() and scores[1] > 0


def _naive_rank(values: list[float]) -> list[int]:
    return [sum(1 for w in values if w > v) for v in values]


def test_rank_sum_selection(make_ctx, make_generation) -> None:
    ids = ["a", "b", "c", "d", "e", "f"]
    texts = {"a": "river stone", "b": "river river", "c": "cloud", "d": "stone light", "e": "river",
             "f": "light light cloud"}
    entropies = {"a": 0.5, "b": 2.0, "c": 1.0, "d": 1.0, "e": 0.1, "f": 0.7}
    gens = {i: make_generation([entropies[i]]) for i in ids}
    ctx = make_ctx(ids, k=3, texts=texts, generations=gens, labelled_ids=["L"])
    delfy = delfy_scores(ids, [texts[i] for i in ids], ["input L"], 1.0, 1.0).tolist()
    te_rank = _naive_rank([entropies[i] for i in ids])
    de_rank = _naive_rank(delfy)
    expected = sorted(ids, key=lambda i: (te_rank[ids.index(i)] + de_rank[ids.index(i)], i))[:3]
    assert list(TEDelfyStrategy().select(ctx)) == expected


def test_empty_output_gets_the_worst_entropy_rank_with_a_warning(make_ctx, make_generation) -> None:
    ids = ["a", "b", "c"]
    texts = {"a": "alpha", "b": "beta", "c": "gamma"}  # equal DELFY: the entropy rank decides
    gens = {"a": make_generation([]), "b": make_generation([0.3]), "c": make_generation([0.2])}
    ctx = make_ctx(ids, k=3, texts=texts, generations=gens)
    with pytest.warns(NaNScoreWarning, match="'a'"):
        picks = list(TEDelfyStrategy().select(ctx))
    assert picks == ["b", "c", "a"]


def test_cold_start_with_empty_labelled_set(make_ctx, make_generation) -> None:
    ids = ["a", "b"]
    ctx = make_ctx(ids, k=1, texts={"a": "x y", "b": "x x"},
                   generations={"a": make_generation([1.0]), "b": make_generation([1.0])})
    assert TEDelfyStrategy.cold_start
    assert list(TEDelfyStrategy().select(ctx)) == ["b"]  # same entropy; 'x' is more frequent than 'y'
