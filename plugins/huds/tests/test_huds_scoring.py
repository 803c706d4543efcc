"""Unit tests of the pure scoring helpers of huds."""

from __future__ import annotations

import numpy as np
import pytest
from atgen_huds.scoring import assign_strata, stratum_diversity


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
