"""Shared ranking rules: ties by id, NaN last and reported, competition ranks."""

from __future__ import annotations

import numpy as np
import pytest
from atgen_baselines.ranking import NaNScoreWarning, min_ranks, top_k_ids, unique_pool_ids


def test_ties_are_broken_by_id_not_by_position() -> None:
    ids = ["c", "a", "d", "b"]
    scores = np.array([1.0, 1.0, 2.0, 1.0])
    assert top_k_ids(ids, scores, 3, "t") == ["d", "a", "b"]


def test_nan_scores_rank_last_and_are_reported() -> None:
    ids = ["a", "b", "c", "d"]
    scores = np.array([np.nan, -np.inf, 0.5, np.nan])
    with pytest.warns(NaNScoreWarning, match=r"strategy 't': 2 pool item\(s\) have a NaN score"):
        assert top_k_ids(ids, scores, 2, "t") == ["c", "b"]
    with pytest.warns(NaNScoreWarning):
        assert top_k_ids(ids, scores, 10, "t") == ["c", "b", "a", "d"]


def test_negative_k_and_duplicate_ids_are_rejected() -> None:
    with pytest.raises(ValueError, match="k \\(query size\\) must be >= 0"):
        top_k_ids(["a"], np.array([1.0]), -1, "t")
    with pytest.raises(ValueError, match="pool id 'a' occurs more than once"):
        unique_pool_ids(["a", "b", "a"], "t")


def test_min_ranks_share_rank_on_ties_and_put_nan_after_real_scores() -> None:
    ids = ["a", "b", "c", "d", "e", "f"]
    scores = np.array([3.0, 5.0, 3.0, np.nan, 1.0, np.nan])
    assert min_ranks(ids, scores).tolist() == [1, 0, 1, 4, 3, 4]
