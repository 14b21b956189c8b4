"""Interaction maths of the viewport: window drag, view matrix, flips, orientation letters."""

from __future__ import annotations

import numpy as np
import pytest

from viewer.core.geometry import FrameGeometry
from viewer.core.voi import Window
from viewer.ui.overlays import edge_letters
from viewer.ui.view_state import (
    ViewState,
    ViewTransform,
    add_user_preset,
    drag_window,
    image_to_view_matrix,
    pixel_aspect,
)

AXIAL = (1.0, 0.0, 0.0, 0.0, 1.0, 0.0)
CORONAL = (1.0, 0.0, 0.0, 0.0, 0.0, -1.0)


def test_drag_window_scales_with_width():
    window = Window(center=40.0, width=400.0)
    dragged = drag_window(window, dx=32, dy=-64)
    assert dragged.width == pytest.approx(400.0 + 32 * 400.0 / 256)
    assert dragged.center == pytest.approx(40.0 - 64 * 400.0 / 256)


def test_drag_window_never_below_width_one():
    assert drag_window(Window(10.0, 4.0), dx=-10_000, dy=0).width == 1.0


def test_pixel_aspect_from_spacing():
    assert pixel_aspect((0.5, 0.25)) == 2.0
    assert pixel_aspect(None) == 1.0
    assert pixel_aspect((0.0, 1.0)) == 1.0


def _map(matrix, col, row):
    x, y, _ = matrix @ np.array([col, row, 1.0])
    return x, y


def test_view_matrix_non_square_pixels_keep_millimetre_shape():
    # 100 rows of 2 mm and 200 columns of 1 mm: 200 mm both ways, so a square on screen.
    m = image_to_view_matrix(100, 200, pixel_aspect((2.0, 1.0)), ViewTransform())
    (x0, y0), (x1, y1) = _map(m, 0, 0), _map(m, 200, 100)
    assert (x1 - x0, y1 - y0) == pytest.approx((200.0, 200.0))


def test_quarter_turn_moves_left_edge_to_top():
    m = image_to_view_matrix(10, 10, 1.0, ViewTransform(rotation=1))
    left_middle = _map(m, 0, 5)
    assert left_middle[1] < 0 and abs(left_middle[0]) < 1e-9  # top centre, y points down


def test_screen_flip_after_rotation_flips_the_screen_axis():
    state = ViewState()
    state.rotate(1)
    before = image_to_view_matrix(10, 10, 1.0, state.transform)
    state.flip(horizontal=True)
    after = image_to_view_matrix(10, 10, 1.0, state.transform)
    for col, row in ((0, 0), (3, 7), (9, 2)):
        bx, by = _map(before, col, row)
        ax, ay = _map(after, col, row)
        assert (ax, ay) == pytest.approx((-bx, by))


def _geometry(orientation=None, patient_orientation=None) -> FrameGeometry:
    cosines = (
        {}
        if orientation is None
        else {"row_cosine": orientation[:3], "column_cosine": orientation[3:]}
    )
    return FrameGeometry(
        8, 8, (1.0, 1.0), origin=(0.0, 0.0, 0.0), patient_orientation=patient_orientation, **cosines
    )


@pytest.mark.parametrize(
    ("transform", "expected"),
    [
        (ViewTransform(), {"left": "R", "right": "L", "top": "A", "bottom": "P"}),
        (ViewTransform(rotation=1), {"left": "P", "right": "A", "top": "R", "bottom": "L"}),
        (ViewTransform(flip_h=True), {"left": "L", "right": "R", "top": "A", "bottom": "P"}),
        (ViewTransform(flip_v=True), {"left": "R", "right": "L", "top": "P", "bottom": "A"}),
    ],
)
def test_edge_letters_follow_rotation_and_flip_for_axial(transform, expected):
    assert edge_letters(_geometry(AXIAL), image_to_view_matrix(8, 8, 1.0, transform)) == expected


def test_edge_letters_coronal():
    letters = edge_letters(_geometry(CORONAL), image_to_view_matrix(8, 8, 1.0, ViewTransform()))
    assert letters == {"left": "R", "right": "L", "top": "H", "bottom": "F"}


def test_edge_letters_from_patient_orientation_without_cosines():
    # A radiograph: PatientOrientation (0020,0020) "L", "F" (columns go left, rows go down).
    geometry = _geometry(patient_orientation=("L", "F"))
    flipped = image_to_view_matrix(8, 8, 1.0, ViewTransform(flip_h=True))
    assert edge_letters(geometry, flipped) == {"left": "L", "right": "R", "top": "H", "bottom": "F"}


def test_edge_letters_oblique_opposites():
    geometry = _geometry((0.8, -0.6, 0.0, 0.0, 0.0, -1.0))
    letters = edge_letters(geometry, image_to_view_matrix(8, 8, 1.0, ViewTransform()))
    assert (letters["right"], letters["left"]) == ("LA", "RP")


def test_user_presets_come_after_the_shipped_ones_and_replace_by_label():
    presets = add_user_preset({}, "ct", "Mine", Window(10.0, 100.0))
    presets = add_user_preset(presets, "CT", "Mine", Window(20.0, 200.0))
    assert presets == {"CT": [["Mine", 20.0, 200.0]]}
