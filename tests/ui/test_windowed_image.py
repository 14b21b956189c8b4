"""The viewport renders only what is seen, once per change, and the screen shows VOI pixels.

The pixels checked are the ones Qt actually painted (a grab of the view), against
`render_frame` (the standard's pipeline, tested against pydicom in tests/core/test_render.py).
"""

from __future__ import annotations

import math

import numpy as np
import pytest
from PySide6.QtCore import QPointF
from PySide6.QtGui import QImage

from tests.ui.conftest import load
from viewer.core.render import render_frame
from viewer.core.voi import Window

pytestmark = pytest.mark.gui


@pytest.fixture
def ct_viewport(qtbot, main_window, ct_phantom_dir):
    load(qtbot, main_window, [ct_phantom_dir])
    viewport = main_window.active_viewport()
    viewport.state.set_frame(20)
    viewport.state.set_window(Window(40, 400))
    viewport.state.set_invert(True)
    return viewport


def _screen(viewport) -> np.ndarray:
    """The grey value of every pixel of the view as painted (HxW uint8)."""
    image = viewport.graphics.viewport().grab().toImage()
    image = image.convertToFormat(QImage.Format.Format_RGB32)
    width, height = image.width(), image.height()
    words = np.frombuffer(image.constBits(), np.uint32, count=height * image.bytesPerLine() // 4)
    words = words.reshape(height, image.bytesPerLine() // 4)[:, :width]
    return (words & 0xFF).astype(np.uint8)


def _device_to_frame(viewport, x: float, y: float) -> tuple[float, float]:
    """(row, col) frame coordinates (pixel (r, c) covers [c, c+1) × [r, r+1)) of a view point."""
    to_scene = viewport.graphics.viewportTransform().inverted()[0]
    scene = to_scene.map(QPointF(x, y))
    point = viewport.image_item.mapFromScene(scene)
    return point.y(), point.x()


def _inside(row_span, col_span, rows: int, cols: int) -> bool:
    return (
        min(row_span) >= 0 and max(row_span) < rows and min(col_span) >= 0 and max(col_span) < cols
    )


def _expected(viewport) -> np.ndarray:
    state = viewport.state
    return render_frame(state.series, state.frame, state.window, invert=state.invert)


def test_zoomed_in_every_screen_pixel_is_the_voi_of_the_frame_pixel_under_it(qtbot, ct_viewport):
    ct_viewport.set_zoom(2.5)
    expected, screen = _expected(ct_viewport), _screen(ct_viewport)
    checked = 0
    for y in range(0, screen.shape[0], 7):
        for x in range(0, screen.shape[1], 7):
            row, col = _device_to_frame(ct_viewport, x + 0.5, y + 0.5)
            inside = 0 <= row < expected.shape[0] and 0 <= col < expected.shape[1]
            near_edge = min(row % 1, 1 - row % 1, col % 1, 1 - col % 1) < 0.25
            if inside and not near_edge:
                assert screen[y, x] == expected[int(row), int(col)], (x, y, row, col)
                checked += 1
    assert checked > 1000


def test_zoomed_out_each_screen_pixel_shows_a_frame_pixel_inside_it(qtbot, ct_viewport):
    ct_viewport.set_zoom(0.3)
    expected, screen = _expected(ct_viewport), _screen(ct_viewport)
    rows, cols = expected.shape
    checked = 0
    for y in range(1, screen.shape[0], 5):
        for x in range(1, screen.shape[1], 5):
            r0, c0 = _device_to_frame(ct_viewport, x, y)
            r1, c1 = _device_to_frame(ct_viewport, x + 1, y + 1)
            if not _inside((r0, r1), (c0, c1), rows, cols):
                continue
            footprint = expected[
                math.floor(min(r0, r1)) : math.ceil(max(r0, r1)) + 1,
                math.floor(min(c0, c1)) : math.ceil(max(c0, c1)) + 1,
            ]
            assert screen[y, x] in footprint, (x, y)
            checked += 1
    assert checked > 500
    # Only about one frame pixel per screen pixel was rendered, not the whole frame.
    shown_rows, shown_cols = ct_viewport.image_item.rendered_shape()
    assert shown_rows * shown_cols <= 2 * (rows * 0.3 + 2) * (cols * 0.3 + 2)


def test_a_window_change_renders_once_and_repaints_reuse_it(qtbot, ct_viewport):
    item = ct_viewport.image_item
    _screen(ct_viewport)
    before = item.renders
    ct_viewport.state.set_window(Window(-600, 1500))
    first = _screen(ct_viewport)
    assert item.renders == before + 1
    again = _screen(ct_viewport)  # e.g. the corner text or a cursor repaint
    assert item.renders == before + 1
    np.testing.assert_array_equal(first, again)
