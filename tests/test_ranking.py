"""The ranking helpers strategy authors share (``atgen_core.ranking``)."""

from __future__ import annotations

import numpy as np
import pytest

from atgen_core.ranking import normalise, top_k_ids


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


def test_minmax_maps_to_the_unit_interval_and_none_keeps_values() -> None:
    np.testing.assert_allclose(normalise(np.array([2.0, 4.0, 3.0]), "minmax"), [0.0, 1.0, 0.5])
    np.testing.assert_array_equal(normalise(np.array([2.0, 4.0]), "none"), [2.0, 4.0])
    with pytest.raises(ValueError, match="unknown normalisation"):
        normalise(np.array([1.0]), "zscore")  # type: ignore[arg-type]
