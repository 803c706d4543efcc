"""Unit tests of the pure scoring helpers of huds."""

from __future__ import annotations

import numpy as np
import pytest
from atgen_huds.scoring import assign_strata, normalise, stratum_diversity, top_k_ids


def test_strata_are_equal_width_with_boundaries_in_the_lower_bin() -> None:
    values = np.array([0.0, 1.0, 2.5, 5.0, 7.5, 10.0])
    labels = assign_strata(values, 4)  # edges 0, 2.5, 5, 7.5, 10
    assert labels.tolist() == [0, 0, 0, 1, 2, 3]


def test_empty_strata_are_dropped_and_labels_stay_consecutive() -> None:
    values = np.array([0.0, 0.1, 9.9, 10.0])
    labels = assign_strata(values, 10)
    assert labels.tolist() == [0, 0, 1, 1]


def test_constant_values_form_one_stratum() -> None:
    assert assign_strata(np.full(5, 3.3), 10).tolist() == [0] * 5
    assert assign_strata(np.array([]), 10).tolist() == []


def test_singleton_stratum_has_zero_diversity_and_zero_vector_has_one() -> None:
    emb = np.array([[1.0, 0.0], [0.0, 0.0], [3.0, 4.0]])
    div = stratum_diversity(emb, np.array([0, 0, 1]))
    assert div[2] == pytest.approx(0.0)
    assert div[1] == pytest.approx(1.0)
    assert div[0] == pytest.approx(0.0)  # centroid (0.5, 0) is parallel to (1, 0)


def test_rank_normalisation_averages_ties() -> None:
    out = normalise(np.array([3.0, 1.0, 3.0, 2.0, 10.0]), "rank")
    # ranks 0..4: 1.0 -> 0, 2.0 -> 1, 3.0 x2 -> 2.5, 10.0 -> 4
    np.testing.assert_allclose(out, np.array([2.5, 0.0, 2.5, 1.0, 4.0]) / 4)


def test_minmax_of_constant_is_zero() -> None:
    np.testing.assert_array_equal(normalise(np.array([2.0, 2.0]), "minmax"), [0.0, 0.0])
    np.testing.assert_array_equal(normalise(np.array([7.0]), "rank"), [0.0])


def test_top_k_ties_by_id_and_nan_rejected() -> None:
    assert top_k_ids(["c", "a", "b", "d"], np.array([1.0, 1.0, 2.0, 0.0]), 3) == ["b", "a", "c"]
    with pytest.raises(ValueError, match="'b' is NaN"):
        top_k_ids(["a", "b"], np.array([1.0, np.nan]), 1)
