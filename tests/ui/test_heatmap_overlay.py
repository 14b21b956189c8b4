"""The heatmap overlay stays on the image pixel it belongs to through zoom, rotate and flip."""

from __future__ import annotations

import math

import numpy as np
import pyqtgraph as pg
import pytest
from PySide6.QtCore import QPointF
from PySide6.QtGui import QTransform

from viewer.ui.heatmap_overlay import (
    CONTOUR_GRID,
    HeatmapOverlay,
    colour_bar_pixmap,
    heatmap_lut,
)

pytestmark = pytest.mark.gui

ROWS, COLS = 64, 96
MARK = (12, 70)  # (row, column) of the hot spot: off-centre and asymmetric on purpose


def _peaked(rows: int, cols: int, at: tuple[int, int], sigma: float = 2.5) -> np.ndarray:
    yy, xx = np.mgrid[0:rows, 0:cols]
    return np.exp(-((yy - at[0]) ** 2 + (xx - at[1]) ** 2) / (2 * sigma**2)).astype(np.float32)


@pytest.fixture
def scene(qtbot):
    view = pg.GraphicsView()
    box = pg.ViewBox(lockAspect=True)
    view.setCentralItem(box)
    image = np.zeros((ROWS, COLS), dtype=np.float32)
    image_item = pg.ImageItem(image, axisOrder="row-major", levels=(0, 1))
    box.addItem(image_item)
    overlay = HeatmapOverlay(image_item)
    overlay.set_opacity(1.0)
    overlay.set_heatmap(_peaked(ROWS, COLS, MARK), label="Pneumonia")
    view.resize(320, 320)
    qtbot.addWidget(view)
    view.show()
    qtbot.waitExposed(view)
    return view, box, image_item, overlay


def _pixel_centre(row: int, col: int) -> QPointF:
    return QPointF(col + 0.5, row + 0.5)


def _brightest_view_point(view: pg.GraphicsView) -> tuple[int, int]:
    grabbed = view.grab().toImage().convertToFormat(view.grab().toImage().Format.Format_RGB32)
    width, height = grabbed.width(), grabbed.height()
    pixels = np.frombuffer(grabbed.constBits(), dtype=np.uint8).reshape(height, -1, 4)[:, :width]
    brightness = pixels[..., :3].astype(np.int32).sum(axis=2)
    y, x = np.unravel_index(int(np.argmax(brightness)), brightness.shape)
    return int(x), int(y)


TRANSFORMS = {
    "identity": QTransform(),
    "rotate90": QTransform().rotate(90),
    "rotate270_flip_h": QTransform().rotate(270).scale(-1, 1),
    "flip_v_zoomed": QTransform().scale(2.5, -2.5),
    "rotate180_panned": QTransform().translate(40, -15).rotate(180),
}


@pytest.mark.parametrize("name", list(TRANSFORMS))
def test_heatmap_maximum_sits_over_the_same_image_pixel(scene, qtbot, name):
    view, box, image_item, overlay = scene
    image_item.setTransform(TRANSFORMS[name])
    box.autoRange(padding=0.05)
    qtbot.wait(20)

    heat = overlay.heatmap()
    peak = np.unravel_index(int(np.argmax(heat)), heat.shape)
    assert peak == MARK
    heat_scene = overlay.item.mapToScene(_pixel_centre(*peak))
    image_scene = image_item.mapToScene(_pixel_centre(*MARK))
    assert heat_scene.x() == pytest.approx(image_scene.x(), abs=1e-6)
    assert heat_scene.y() == pytest.approx(image_scene.y(), abs=1e-6)

    # What is on screen: the brightest drawn pixel is where the image's marked pixel is drawn.
    expected = view.mapFromScene(image_scene)
    x, y = _brightest_view_point(view)
    pixel_size = max(view.width(), view.height()) / max(ROWS, COLS)
    assert abs(x - expected.x()) <= pixel_size + 1
    assert abs(y - expected.y()) <= pixel_size + 1


def test_view_box_inversion_moves_heatmap_with_image(scene, qtbot):
    view, box, image_item, overlay = scene
    box.invertX(True)
    box.invertY(False)
    box.autoRange(padding=0.05)
    qtbot.wait(20)
    expected = view.mapFromScene(image_item.mapToScene(_pixel_centre(*MARK)))
    x, y = _brightest_view_point(view)
    pixel_size = max(view.width(), view.height()) / max(ROWS, COLS)
    assert abs(x - expected.x()) <= pixel_size + 1
    assert abs(y - expected.y()) <= pixel_size + 1


def test_toggle_opacity_and_contour(scene):
    _, _, _, overlay = scene
    assert overlay.item.isVisible()
    overlay.set_shown(False)
    assert not overlay.item.isVisible()
    overlay.set_shown(True)
    overlay.set_opacity(0.3)
    assert overlay.opacity() == pytest.approx(0.3, abs=1e-3)
    overlay.set_contour(True, level=0.5)
    assert overlay.contour_item.isVisible()
    assert overlay.contour_item.path is not None or overlay.contour_item.boundingRect().width() > 0


def test_heatmap_for_another_grid_is_refused(scene):
    _, _, _, overlay = scene
    with pytest.raises(ValueError, match="does not match the image on screen"):
        overlay.set_heatmap(np.zeros((ROWS + 1, COLS), dtype=np.float32))
    assert overlay.heatmap().shape == (ROWS, COLS)  # the previous heatmap is kept


def test_clear_hides_the_item(scene):
    _, _, _, overlay = scene
    overlay.clear()
    assert not overlay.has_heatmap()
    assert not overlay.item.isVisible()


def test_lut_alpha_rises_and_colour_bar_paints(qtbot):
    lut = heatmap_lut()
    assert lut.shape == (256, 4)
    assert lut[0, 3] == 0 and lut[-1, 3] == 255
    assert np.all(np.diff(lut[:, 3].astype(int)) >= 0)
    pixmap = colour_bar_pixmap(10, 50)
    top = pixmap.toImage().pixelColor(5, 1)
    bottom = pixmap.toImage().pixelColor(5, 48)
    assert top.lightness() > bottom.lightness()


def test_contour_of_a_large_heatmap_is_traced_on_a_small_grid_and_in_place(scene, qtbot):
    """Tracing a full-size radiograph grid stalled the UI; the cause is tested, not the time:
    the iso-contour is traced on at most CONTOUR_GRID samples per side."""
    view, box, image_item, overlay = scene
    rows, cols = 1152, 1422  # a full-resolution radiograph grid
    image_item.setImage(np.zeros((rows, cols), dtype=np.float32))
    block = np.zeros((rows, cols), dtype=np.float32)
    block[300:600, 400:1000] = 1.0  # pixels covering x in [400, 1000], y in [300, 600]
    overlay.set_contour(True, level=0.5)
    overlay.set_heatmap(block)
    assert max(overlay.contour_item.data.shape) <= CONTOUR_GRID
    overlay.contour_item.generatePath()
    view.grab()
    drawn = overlay.contour_item.mapRectToParent(overlay.contour_item.path.boundingRect())
    step = math.ceil(max(rows, cols) / CONTOUR_GRID)
    assert drawn.left() == pytest.approx(400, abs=step) and drawn.right() == pytest.approx(
        1000, abs=step
    )
    assert drawn.top() == pytest.approx(300, abs=step) and drawn.bottom() == pytest.approx(
        600, abs=step
    )


def test_following_another_view_never_moves_an_item_between_scenes(scene, qtbot):
    """Each image item gets its own heatmap item; the heatmap is drawn there, not moved there."""
    view, _, image_item, overlay = scene
    other_view = pg.GraphicsView()
    other_box = pg.ViewBox(lockAspect=True)
    other_view.setCentralItem(other_box)
    qtbot.addWidget(other_view)
    other_image = pg.ImageItem(np.zeros((ROWS, COLS), dtype=np.float32), axisOrder="row-major")
    other_box.addItem(other_image)
    first_item = overlay.item

    overlay.attach(other_image)
    assert overlay.item is not first_item and overlay.item.parentItem() is other_image
    assert overlay.item.scene() is other_view.scene() and overlay.item.isVisible()
    assert first_item.scene() is view.scene() and not first_item.isVisible()
    assert overlay.heatmap().shape == (ROWS, COLS) and overlay.opacity() == pytest.approx(1.0)

    overlay.attach(image_item)  # back: the first item again, in its own scene
    assert overlay.item is first_item and first_item.isVisible()

    other_image.setImage(np.zeros((ROWS + 3, COLS), dtype=np.float32))
    overlay.attach(other_image)  # another grid: the heatmap cannot be drawn there
    assert not overlay.has_heatmap() and not overlay.item.isVisible()
