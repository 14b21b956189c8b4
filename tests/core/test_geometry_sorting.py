"""Geometry letters and spacing checks on hand-made vectors and distances."""

from __future__ import annotations

import numpy as np
import pytest

from viewer.core.errors import RadLensError
from viewer.core.geometry import FrameGeometry, direction_letters, opposite_letters
from viewer.core.sorting import slice_normal, spacing_warnings


@pytest.mark.parametrize(
    ("vector", "letters"),
    [
        ((1, 0, 0), "L"),
        ((-1, 0, 0), "R"),
        ((0, 1, 0), "P"),
        ((0, -1, 0), "A"),
        ((0, 0, 1), "H"),
        ((0, 0, -1), "F"),
        ((0.8, -0.6, 0), "LA"),
        ((0, 0.3, -0.95), "FP"),
        ((0, 0.1, -0.99), "F"),
    ],
)
def test_direction_letters(vector, letters):
    unit = np.asarray(vector, float) / np.linalg.norm(vector)
    assert direction_letters(unit) == letters


def test_opposite_letters():
    assert opposite_letters("LPH") == "RAF"


def test_axial_geometry_round_trip():
    geometry = FrameGeometry(
        rows=4,
        columns=6,
        spacing=(0.5, 0.25),
        origin=(10.0, 20.0, 30.0),
        row_cosine=(1.0, 0.0, 0.0),
        column_cosine=(0.0, 1.0, 0.0),
    )
    point = geometry.pixel_to_patient(2, 4)
    np.testing.assert_allclose(point, [10 + 4 * 0.25, 20 + 2 * 0.5, 30])
    assert geometry.patient_to_pixel(point) == pytest.approx((2, 4))
    assert geometry.edge_labels() == {"right": "L", "left": "R", "bottom": "P", "top": "A"}
    np.testing.assert_allclose(geometry.normal, [0, 0, 1])


def test_no_patient_geometry_raises_radlens_error():
    geometry = FrameGeometry(rows=2, columns=2, spacing=(0.1, 0.1))
    with pytest.raises(RadLensError):
        geometry.pixel_to_patient(0, 0)


def test_slice_normal_is_unit_cross_product():
    np.testing.assert_allclose(slice_normal((0, 1, 0, 0, 0, -1)), [-1, 0, 0])


def test_spacing_warnings():
    assert spacing_warnings([0.0, 2.5, 5.0, 7.5]) == []
    (gap,) = spacing_warnings([0.0, 2.5, 5.0, 12.5, 15.0])
    assert "1 gap(s)" in gap and "7.50 mm" in gap
    (uneven,) = spacing_warnings([0.0, 2.5, 5.4, 7.5, 10.0])
    assert uneven.startswith("uneven slice spacing")
    (shared,) = spacing_warnings([0.0, 0.0, 2.5, 2.5])
    assert shared.startswith("4 frames at only 2 distinct slice positions")
