"""Behaviour of the huds strategy on fabricated signals (controlled log-probs and embeddings)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np
import pytest
from atgen_huds import HUDSConfig, HUDSStrategy
from pydantic import ValidationError

from atgen_core import (
    Embeddings,
    Example,
    Generation,
    LabelledView,
    PoolView,
    SelectionContext,
    Signals,
)


def gen(nnll: float, n_tokens: int = 4) -> Generation:
    """A generation whose NNLL is exactly ``nnll``."""
    return Generation(text="out", token_logprobs=tuple([-nnll] * n_tokens), token_entropies=(0.0,) * n_tokens)


def make_ctx(
    nnll: Mapping[str, float],
    emb: Mapping[str, Sequence[float]],
    k: int,
    generations: Mapping[str, Generation] | None = None,
) -> SelectionContext:
    ids = list(nnll)
    pool = PoolView(tuple(Example(id=i, input=f"input {i}", prompt=f"prompt {i}") for i in ids))
    gens = generations if generations is not None else {i: gen(v) for i, v in nnll.items()}
    emb_ids = list(emb)
    matrix = np.asarray([emb[i] for i in emb_ids], dtype=np.float32)
    return SelectionContext(
        pool=pool,
        labelled=LabelledView(),
        k=k,
        rng=np.random.default_rng(0),
        signals=Signals(generations=gens, embeddings=Embeddings(emb_ids, matrix)),
    )


def strategy(**cfg: object) -> HUDSStrategy:
    return HUDSStrategy(HUDSConfig.model_validate(cfg))


def random_setup(n: int, seed: int = 1) -> tuple[dict[str, float], dict[str, list[float]]]:
    rng = np.random.default_rng(seed)
    nnll = {f"x{i:03d}": float(v) for i, v in enumerate(rng.gamma(2.0, 0.5, size=n))}
    emb = {i: rng.normal(size=8).tolist() for i in nnll}
    return nnll, emb


def test_lambda_zero_selects_the_most_uncertain_inputs() -> None:
    nnll = {"a": 0.1, "b": 2.5, "c": 0.7, "d": 3.1, "e": 1.2, "f": 0.05}
    rng = np.random.default_rng(3)
    emb = {i: rng.normal(size=5).tolist() for i in nnll}
    picked = strategy(lambda_=0.0).select(make_ctx(nnll, emb, k=3))
    assert picked == ["d", "b", "e"]


def test_lambda_zero_with_rank_and_none_normalisation_agrees() -> None:
    nnll, emb = random_setup(40)
    expected = sorted(nnll, key=lambda i: -nnll[i])[:7]
    for method in ("minmax", "rank", "none"):
        picked = strategy(lambda_=0.0, normalisation=method).select(make_ctx(nnll, emb, k=7))
        assert picked == expected, method


def test_lambda_one_picks_items_far_from_their_own_stratum_centroid() -> None:
    # Two strata: low NNLL (a*) and high NNLL (b*). Stratum a points along x except a_out (along y);
    # stratum b points along y except b_out (along x). The global centroid is near the diagonal, so only
    # the per-stratum centroid makes a_out and b_out the outliers.
    nnll = {"a1": 0.10, "a2": 0.11, "a3": 0.12, "a4": 0.13, "a_out": 0.14,
            "b1": 2.00, "b2": 2.01, "b3": 2.02, "b4": 2.03, "b_out": 2.04}  # fmt: skip
    x, y = [1.0, 0.0], [0.0, 1.0]
    emb = {"a1": x, "a2": [1.0, 0.05], "a3": x, "a4": [1.0, -0.05], "a_out": y,
           "b1": y, "b2": [0.05, 1.0], "b3": y, "b4": [-0.05, 1.0], "b_out": x}  # fmt: skip
    s = strategy(lambda_=1.0, n_strata=2)
    ctx = make_ctx(nnll, emb, k=2)
    assert sorted(s.select(ctx)) == ["a_out", "b_out"]
    scores = s.score(ctx)
    assert len(set(scores.strata.tolist())) == 2
    assert scores.strata[0] != scores.strata[5]


def test_diversity_equals_cosine_distance_to_stratum_centroid() -> None:
    nnll, emb = random_setup(30, seed=7)
    s = strategy(n_strata=4)
    res = s.score(make_ctx(nnll, emb, k=5))
    matrix = np.asarray([emb[i] for i in res.ids], dtype=np.float32).astype(np.float64)
    for pos in range(len(res.ids)):
        members = matrix[res.strata == res.strata[pos]]
        c = members.mean(axis=0)
        e = matrix[pos]
        expected = 1.0 - float(e @ c / (np.linalg.norm(e) * np.linalg.norm(c)))
        assert res.diversity[pos] == pytest.approx(expected, abs=1e-9)


@pytest.mark.parametrize("method", ["minmax", "rank"])
def test_normalisation_puts_both_terms_on_unit_interval(method: str) -> None:
    nnll, emb = random_setup(50, seed=11)
    nnll = {i: v * 40.0 for i, v in nnll.items()}  # raw NNLL far outside [0, 2]
    res = strategy(normalisation=method).score(make_ctx(nnll, emb, k=5))
    for arr in (res.uncertainty_scaled, res.diversity_scaled):
        assert arr.min() == pytest.approx(0.0)
        assert arr.max() == pytest.approx(1.0)
    assert res.uncertainty.max() > 2.0
    assert np.all((res.score >= 0.0) & (res.score <= 1.0))
    # scaling keeps each term's order
    assert np.array_equal(np.argsort(res.uncertainty, kind="stable"),
                          np.argsort(res.uncertainty_scaled, kind="stable"))  # fmt: skip


def test_none_normalisation_mixes_raw_values() -> None:
    nnll, emb = random_setup(20, seed=5)
    res = strategy(normalisation="none", lambda_=0.25).score(make_ctx(nnll, emb, k=5))
    np.testing.assert_allclose(res.score, 0.25 * res.diversity + 0.75 * res.uncertainty)


def test_returns_k_distinct_pool_ids_and_whole_pool_when_k_is_larger() -> None:
    nnll, emb = random_setup(25, seed=2)
    s = strategy()
    picked = s.select(make_ctx(nnll, emb, k=10))
    assert len(picked) == 10 and len(set(picked)) == 10 and set(picked) <= set(nnll)
    everything = s.select(make_ctx(nnll, emb, k=100))
    assert sorted(everything) == sorted(nnll)
    assert s.select(make_ctx(nnll, emb, k=0)) == []


def test_selection_is_reproducible_and_independent_of_pool_order() -> None:
    nnll, emb = random_setup(60, seed=9)
    s = strategy(lambda_=0.4, n_strata=6)
    first = s.select(make_ctx(nnll, emb, k=12))
    second = strategy(lambda_=0.4, n_strata=6).select(make_ctx(nnll, emb, k=12))
    reversed_nnll = dict(reversed(list(nnll.items())))
    third = s.select(make_ctx(reversed_nnll, emb, k=12))
    assert first == second == third


def test_ties_are_broken_by_id() -> None:
    nnll = {i: 1.0 for i in ["d", "b", "e", "a", "c"]}
    emb = {i: [1.0, 2.0] for i in nnll}
    assert strategy().select(make_ctx(nnll, emb, k=3)) == ["a", "b", "c"]


def test_cold_start_with_empty_labelled_set() -> None:
    assert HUDSStrategy.cold_start is True
    req = HUDSStrategy().requirements()
    assert req.generations and req.embeddings
    nnll, emb = random_setup(15, seed=4)
    ctx = make_ctx(nnll, emb, k=4)
    assert len(ctx.labelled) == 0
    assert len(HUDSStrategy().select(ctx)) == 4


def test_embeddings_of_other_ids_are_ignored_and_lookup_is_by_id() -> None:
    # the embedding matrix holds labelled rows too, in another order than the pool
    nnll = {"p1": 0.5, "p2": 0.5, "p3": 0.5}
    emb = {"lab": [0.0, 1.0], "p3": [0.0, 1.0], "p1": [1.0, 0.0], "p2": [1.0, 0.01]}
    picked = strategy(lambda_=1.0).select(make_ctx(nnll, emb, k=1))
    assert picked == ["p3"]


def test_empty_output_rules() -> None:
    nnll = {"a": 0.2, "b": 1.0, "c": 0.6}
    emb = {i: [1.0, float(n)] for n, i in enumerate(nnll)}
    gens = {"a": gen(0.2), "b": gen(1.0), "c": Generation(text="")}
    res_max = strategy(lambda_=0.0).score(make_ctx(nnll, emb, k=1, generations=gens))
    assert res_max.uncertainty.tolist() == [0.2, 1.0, 1.0]
    res_min = strategy(lambda_=0.0, empty_output="min").score(make_ctx(nnll, emb, k=1, generations=gens))
    assert res_min.uncertainty.tolist() == [0.2, 1.0, 0.2]
    assert not np.isnan(res_max.score).any()
    with pytest.raises(ValueError, match=r"no scored token.*empty_output"):
        strategy(empty_output="error").select(make_ctx(nnll, emb, k=1, generations=gens))
    all_empty = {i: Generation(text="") for i in nnll}
    with pytest.raises(ValueError, match="no candidate has token log-probs"):
        strategy().select(make_ctx(nnll, emb, k=1, generations=all_empty))


def test_nan_logprob_is_an_error_not_dropped() -> None:
    nnll = {"a": 0.2, "b": 1.0}
    emb = {i: [1.0, 0.0] for i in nnll}
    gens = {"a": gen(0.2), "b": Generation(text="x", token_logprobs=(float("nan"),))}
    with pytest.raises(ValueError, match=r"'b'.*non-finite"):
        strategy().select(make_ctx(nnll, emb, k=1, generations=gens))


def test_missing_signals_are_clear_errors() -> None:
    nnll = {"a": 0.2, "b": 1.0}
    emb = {"a": [1.0, 0.0]}
    with pytest.raises(ValueError, match="no embedding for id 'b'"):
        strategy().select(make_ctx(nnll, emb, k=1))
    with pytest.raises(ValueError, match="no generation for pool id 'b'"):
        strategy().select(make_ctx(nnll, {"a": [1.0], "b": [1.0]}, k=1, generations={"a": gen(0.1)}))
    ctx = make_ctx(nnll, {"a": [1.0], "b": [1.0]}, k=1)
    bare = SelectionContext(pool=ctx.pool, labelled=ctx.labelled, k=1, rng=ctx.rng)
    with pytest.raises(ValueError, match=r"signals\.generations is missing"):
        strategy().select(bare)


def test_config_validation() -> None:
    cfg = HUDSConfig()
    assert (cfg.lambda_, cfg.n_strata, cfg.normalisation, cfg.empty_output) == (0.5, 10, "minmax", "max")
    with pytest.raises(ValidationError, match="lambda_"):
        HUDSConfig.model_validate({"lambda_": 1.5})
    with pytest.raises(ValidationError, match="n_strata"):
        HUDSConfig.model_validate({"n_strata": 0})
    with pytest.raises(ValidationError, match="normalisation"):
        HUDSConfig.model_validate({"normalisation": "zscore"})
    with pytest.raises(ValidationError, match="lambda"):
        HUDSConfig.model_validate({"lambda": 0.3})  # unknown key (the field is lambda_)
    for name, field in HUDSConfig.model_fields.items():
        assert field.description, name
