"""The ranking helpers strategy authors share (``atgen_core.ranking``)."""

from __future__ import annotations

import numpy as np
import pytest

from atgen_core.ranking import NaNScoreWarning, min_ranks, normalise, top_k_ids, unique_pool_ids


def test_rank_normalisation_averages_ties() -> None:
    out = normalise(np.array([3.0, 1.0, 3.0, 2.0, 10.0]), "rank")
    # ranks 0..4: 1.0 -> 0, 2.0 -> 1, 3.0 x2 -> 2.5, 10.0 -> 4
    np.testing.assert_allclose(out, np.array([2.5, 0.0, 2.5, 1.0, 4.0]) / 4)


def test_minmax_of_constant_is_zero() -> None:
    np.testing.assert_array_equal(normalise(np.array([2.0, 2.0]), "minmax"), [0.0, 0.0])
    np.testing.assert_array_equal(normalise(np.array([7.0]), "rank"), [0.0])


def test_top_k_ties_by_id_and_nan_ranked_last_with_a_warning() -> None:
    assert top_k_ids(["c", "a", "b", "d"], np.array([1.0, 1.0, 2.0, 0.0]), 3) == ["b", "a", "c"]
    with pytest.warns(NaNScoreWarning, match=r"strategy 'strategy': 1 pool item\(s\) have a NaN score.*'b'"):
        assert top_k_ids(["a", "b"], np.array([1.0, np.nan]), 1) == ["a"]


def test_minmax_maps_to_the_unit_interval_and_none_keeps_values() -> None:
    np.testing.assert_allclose(normalise(np.array([2.0, 4.0, 3.0]), "minmax"), [0.0, 1.0, 0.5])
    np.testing.assert_array_equal(normalise(np.array([2.0, 4.0]), "none"), [2.0, 4.0])
    with pytest.raises(ValueError, match="unknown normalisation"):
        normalise(np.array([1.0]), "zscore")  # type: ignore[arg-type]


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
