"""Measurement tools on a real CT frame: mm lengths, ROI stats equal numpy, edits persist."""

from __future__ import annotations

import hashlib

import numpy as np
import pydicom
import pyqtgraph as pg
import pytest
from pydicom.pixels import apply_modality_lut
from PySide6.QtCore import QEvent, QPointF, Qt

from tests.ui.conftest import send_mouse
from viewer.core import measurements as core
from viewer.paths import user_data_dir
from viewer.ui.measurement_tools import ImageContext, MeasurementLayer, to_item

pytestmark = pytest.mark.gui


@pytest.fixture
def ct_file(ct_phantom_dir):
    return ct_phantom_dir / "I10"


@pytest.fixture
def ct_context(ct_file) -> ImageContext:
    dataset = pydicom.dcmread(ct_file)
    values = apply_modality_lut(dataset.pixel_array, dataset)  # pydicom's own modality LUT
    row_mm, col_mm = (float(v) for v in dataset.PixelSpacing)
    return ImageContext(
        dataset.StudyInstanceUID, dataset.SOPInstanceUID, 0, values, (row_mm, col_mm)
    )


@pytest.fixture
def viewport(qtbot, ct_context):
    view = pg.GraphicsView()
    box = pg.ViewBox(lockAspect=True, invertY=True)
    view.setCentralItem(box)
    image_item = pg.ImageItem(ct_context.values, axisOrder="row-major")
    box.addItem(image_item)
    view.resize(512, 512)
    qtbot.addWidget(view)
    view.show()
    qtbot.waitExposed(view)
    box.autoRange(padding=0)
    layer = MeasurementLayer(image_item)
    layer.set_image(ct_context)
    return view, image_item, layer


def _click_pixel(qtbot, view, image_item, row, col):
    scene_point = image_item.mapToScene(to_item((row, col)))
    qtbot.mouseClick(view.viewport(), Qt.MouseButton.LeftButton, pos=view.mapFromScene(scene_point))


def test_length_clicked_on_the_image_reads_mm_from_pixel_spacing(qtbot, viewport, ct_file):
    view, image_item, layer = viewport
    spacing = float(pydicom.dcmread(ct_file, stop_before_pixels=True).PixelSpacing[1])
    layer.begin_placement(core.LENGTH)
    _click_pixel(qtbot, view, image_item, 100, 50)
    _click_pixel(qtbot, view, image_item, 100, 250)
    (graphic,) = layer.graphics()
    (r0, c0), (r1, c1) = graphic.measurement.points
    assert r0 == pytest.approx(100, abs=1) and r1 == pytest.approx(100, abs=1)
    assert c1 - c0 == pytest.approx(200, abs=1.5)
    assert graphic.text() == f"{core.length_mm((r0, c0), (r1, c1), (spacing, spacing)):.1f} mm"
    assert float(graphic.text().split()[0]) == pytest.approx(200 * spacing, abs=1.5 * spacing)


def test_length_of_exact_points_is_exact(viewport, ct_context):
    _, _, layer = viewport
    graphic = layer.add(core.Measurement(core.LENGTH, [(10, 20), (10, 220)]))
    expected = 200 * ct_context.spacing[1]
    assert graphic.text() == f"{expected:.1f} mm"
    graphic.sync_points()  # read back from the ROI: no drift through the +0.5 pixel-centre shift
    assert graphic.measurement.points == [(10.0, 20.0), (10.0, 220.0)]


def test_rectangle_roi_stats_equal_numpy_on_the_same_pixels(viewport, ct_context):
    _, _, layer = viewport
    graphic = layer.add(core.Measurement(core.RECTANGLE, [(100, 120), (140, 180)]))
    graphic.sync_points()
    assert graphic.measurement.points == [(100.0, 120.0), (140.0, 180.0)]
    pixels = ct_context.values[100:141, 120:181].astype(np.float64)
    stats = core.roi_stats(ct_context.values, graphic.measurement, ct_context.spacing)
    assert stats.mean == pytest.approx(pixels.mean())
    assert stats.sd == pytest.approx(pixels.std(ddof=1))
    assert (stats.min, stats.max, stats.pixel_count) == (pixels.min(), pixels.max(), pixels.size)
    assert stats.area_mm2 == pytest.approx(40 * 60 * ct_context.spacing[0] * ct_context.spacing[1])
    assert f"mean {pixels.mean():.1f} SD {pixels.std(ddof=1):.1f}" in graphic.text()


def test_ellipse_roi_stats_equal_numpy_mask(viewport, ct_context):
    _, _, layer = viewport
    graphic = layer.add(core.Measurement(core.ELLIPSE, [(200, 150), (260, 250)]))
    graphic.sync_points()
    rows, cols = np.mgrid[0 : ct_context.values.shape[0], 0 : ct_context.values.shape[1]]
    inside = ((rows - 230) / 30.0) ** 2 + ((cols - 200) / 50.0) ** 2 <= 1.0
    pixels = ct_context.values[inside].astype(np.float64)
    stats = core.roi_stats(ct_context.values, graphic.measurement, ct_context.spacing)
    assert stats.pixel_count == pixels.size
    assert stats.mean == pytest.approx(pixels.mean())
    assert stats.sd == pytest.approx(pixels.std(ddof=1))
    assert f"n {pixels.size}" in graphic.text()


def test_angle_tool_reads_degrees(viewport):
    _, _, layer = viewport
    layer.begin_placement(core.ANGLE)
    for point in [(50, 150), (150, 150), (150, 250)]:
        layer.place_point(point)
    (graphic,) = layer.graphics()
    assert graphic.text() == "90.0°"


def test_moving_a_roi_updates_its_reading_and_the_sidecar(viewport, ct_context):
    _, _, layer = viewport
    graphic = layer.add(core.Measurement(core.LENGTH, [(10, 20), (10, 120)]))
    handle = graphic.roi.getHandles()[1]
    graphic.roi.movePoint(handle, to_item((10, 220)), finish=True)
    assert graphic.text() == f"{200 * ct_context.spacing[1]:.1f} mm"
    stored = core.MeasurementStore(ct_context.study_uid).load()
    (saved,) = stored.get(ct_context.sop_uid, 0)
    assert saved.points[1] == pytest.approx((10.0, 220.0))
    assert stored.path.is_relative_to(user_data_dir())


def test_whole_roi_drag_moves_its_points(viewport):
    _, _, layer = viewport
    graphic = layer.add(core.Measurement(core.RECTANGLE, [(100, 100), (120, 140)]))
    graphic.roi.setPos(graphic.roi.pos() + QPointF(5, 10), finish=True)
    assert graphic.measurement.points == [(110.0, 105.0), (130.0, 145.0)]


def test_measurements_are_redrawn_when_returning_and_deletable(viewport, ct_context, ct_file):
    _, _, layer = viewport
    before = hashlib.sha256(ct_file.read_bytes()).hexdigest()
    kept = layer.add(core.Measurement(core.LENGTH, [(10, 20), (10, 220)]))
    doomed = layer.add(core.Measurement(core.RECTANGLE, [(100, 100), (120, 140)]))
    doomed.roi.sigRemoveRequested.emit(doomed.roi)  # what the ROI's "Remove ROI" menu emits
    assert list(layer.readings()) == [kept.measurement.id]

    other = ImageContext(ct_context.study_uid, "1.2.3.4", 0, ct_context.values, None)
    layer.set_image(other)
    assert layer.graphics() == []
    layer.set_image(ct_context)
    assert list(layer.readings()) == [kept.measurement.id]

    fresh = MeasurementLayer(layer.graphics()[0].roi.parentItem())  # as after a restart
    fresh.set_image(ct_context)
    assert [g.measurement.id for g in fresh.graphics()] == [kept.measurement.id]
    assert hashlib.sha256(ct_file.read_bytes()).hexdigest() == before


def test_delete_selected(viewport):
    _, _, layer = viewport
    graphic = layer.add(core.Measurement(core.ANGLE, [(50, 150), (150, 150), (150, 250)]))
    layer.select(graphic.measurement.id)
    layer.remove_selected()
    assert layer.graphics() == []


def test_without_spacing_lengths_are_in_pixels(viewport, ct_context):
    _, _, layer = viewport
    layer.set_image(ImageContext("study", "sop", 0, ct_context.values, None))
    graphic = layer.add(core.Measurement(core.LENGTH, [(0, 0), (30, 40)]))
    assert graphic.text() == "50.0 px"


def _view_pos(view, image_item, row, col):
    return view.mapFromScene(image_item.mapToScene(to_item((row, col))))


def test_mouse_click_selects_and_drag_moves_a_handle(qtbot, viewport, ct_context):
    view, image_item, layer = viewport
    graphic = layer.add(core.Measurement(core.LENGTH, [(200, 100), (200, 300)]))
    target = view.viewport()
    middle = _view_pos(view, image_item, 200, 200)
    send_mouse(
        target, QEvent.Type.MouseMove, middle, Qt.MouseButton.NoButton, Qt.MouseButton.NoButton
    )
    qtbot.mouseClick(target, Qt.MouseButton.LeftButton, pos=middle)
    assert layer.selected() == graphic.measurement.id

    left = Qt.MouseButton.LeftButton
    start, end = _view_pos(view, image_item, 200, 300), _view_pos(view, image_item, 260, 380)
    send_mouse(
        target, QEvent.Type.MouseMove, start, Qt.MouseButton.NoButton, Qt.MouseButton.NoButton
    )
    send_mouse(target, QEvent.Type.MouseButtonPress, start, left, left)
    for step in range(1, 11):
        qtbot.wait(20)  # pyqtgraph drops mouse moves that come faster than its frame rate
        point = start + (end - start) * (step / 10)
        send_mouse(target, QEvent.Type.MouseMove, point, Qt.MouseButton.NoButton, left)
    send_mouse(target, QEvent.Type.MouseButtonRelease, end, left, Qt.MouseButton.NoButton)
    (r1, c1) = graphic.measurement.points[1]
    assert (r1, c1) == pytest.approx((260, 380), abs=1.5)
    expected = core.length_mm((200, 100), (r1, c1), ct_context.spacing)
    assert graphic.text() == f"{expected:.1f} mm"
    saved = core.MeasurementStore(ct_context.study_uid).load().get(ct_context.sop_uid, 0)
    assert saved[0].points[1] == pytest.approx((r1, c1))


def test_two_viewports_on_one_study_never_overwrite_each_other(viewport, ct_context):
    _, image_item, _ = viewport
    stores: dict = {}
    left, right = (
        MeasurementLayer(image_item, stores=stores),
        MeasurementLayer(image_item, stores=stores),
    )
    left.set_image(ct_context)
    right.set_image(ct_context)
    first = left.add(core.Measurement(core.LENGTH, [(10, 20), (10, 220)])).measurement
    second = right.add(core.Measurement(core.RECTANGLE, [(100, 100), (120, 140)])).measurement
    saved = core.MeasurementStore(ct_context.study_uid).load().get(ct_context.sop_uid, 0)
    assert {m.id for m in saved} == {first.id, second.id}
    left.reload()
    assert {g.measurement.id for g in left.graphics()} == {first.id, second.id}
