"""Behaviour and contract of ``longest-first`` on tiny synthetic pools."""

from __future__ import annotations

import pytest
from atgen_example.longest_first import LongestFirstConfig, LongestFirstStrategy
from pydantic import ValidationError

from atgen_core import Example, PoolView
from atgen_core.testing import check_component, make_pool, selection_context

pytest_plugins = ["atgen_core.testing"]


def test_contract() -> None:
    instance = check_component(LongestFirstStrategy)
    assert isinstance(instance, LongestFirstStrategy)
    assert LongestFirstStrategy.cold_start is True


def test_picks_the_longest_words_first() -> None:
    pool, _ = make_pool(0, inputs=["a b", "a b c d e", "a", "a b c d", "a b c"])
    ctx = selection_context(pool, k=2)
    assert list(LongestFirstStrategy().select(ctx)) == ["ex0001", "ex0003"]


def test_ties_keep_pool_order() -> None:
    pool, _ = make_pool(0, inputs=["x y", "p q", "r s", "t"])
    ctx = selection_context(pool, k=3)
    assert list(LongestFirstStrategy().select(ctx)) == ["ex0000", "ex0001", "ex0002"]


def test_characters_unit_differs_from_words() -> None:
    # "aaaaaaaaaa" is one long word; "a b c" is three short ones.
    pool, _ = make_pool(0, inputs=["aaaaaaaaaa", "a b c"])
    by_words = LongestFirstStrategy(LongestFirstConfig(unit="words"))
    by_chars = LongestFirstStrategy(LongestFirstConfig(unit="characters"))
    assert list(by_words.select(selection_context(pool, k=1))) == ["ex0001"]
    assert list(by_chars.select(selection_context(pool, k=1))) == ["ex0000"]


def test_outliers_come_last_least_extreme_first() -> None:
    pool, _ = make_pool(0, inputs=["w " * 50, "w " * 3, "w " * 20, "w " * 5])
    strategy = LongestFirstStrategy(LongestFirstConfig(max_length=10))
    ctx = selection_context(pool, k=4)
    assert list(strategy.select(ctx)) == ["ex0003", "ex0001", "ex0002", "ex0000"]


def test_use_prompt_measures_the_rendered_prompt() -> None:
    # The longer input has the shorter prompt (a template may add per-row fields), so the two
    # options must pick different ids.
    examples = (
        Example(id="long-input", input="a long input text", prompt="Q: short"),
        Example(id="long-prompt", input="tiny", prompt="Q: tiny, with a long rendered context around it"),
    )
    ctx = selection_context(PoolView(examples), k=1)
    by_input = LongestFirstStrategy(LongestFirstConfig(use_prompt=False, unit="characters"))
    by_prompt = LongestFirstStrategy(LongestFirstConfig(use_prompt=True, unit="characters"))
    assert list(by_input.select(ctx)) == ["long-input"]
    assert list(by_prompt.select(ctx)) == ["long-prompt"]


def test_k_larger_than_pool_returns_every_id_once() -> None:
    pool, _ = make_pool(4)
    picked = list(LongestFirstStrategy().select(selection_context(pool, k=10)))
    assert sorted(picked) == sorted(pool.ids)


def test_bad_config_names_the_field() -> None:
    with pytest.raises(ValidationError, match="max_length"):
        LongestFirstConfig.model_validate({"max_length": 0})
    with pytest.raises(ValidationError, match="unit"):
        LongestFirstConfig.model_validate({"unit": "tokens"})
    with pytest.raises(ValidationError, match="top_k"):
        LongestFirstConfig.model_validate({"top_k": 3})
