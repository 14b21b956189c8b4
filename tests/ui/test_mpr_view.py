"""The MPR layout in the real main window (offscreen) on the real 3D T1 MR and tilted CT."""

from __future__ import annotations

import threading

import numpy as np
import pytest
from PySide6.QtCore import QPoint, Qt

from tests.conftest import SHARED_DATA
from tests.ui.conftest import load
from viewer.core import plane_series
from viewer.core.plane_series import PlaneSeries
from viewer.core.voi import Window
from viewer.ui.addons import MEASUREMENTS
from viewer.ui.layouts import nearest_frame
from viewer.ui.measurement_tools import MeasurementLayer, image_context
from viewer.ui.viewport import probe_pixel

pytestmark = pytest.mark.gui

MR_3D = SHARED_DATA / "dicom" / "mr-3d-t1-130sl"
CT_TILTED = SHARED_DATA / "dicom" / "ct-phantom-54sl"
TIMEOUT_MS = 60_000
EDGES = {
    "axial": {"left": "R", "right": "L", "top": "A", "bottom": "P"},
    "coronal": {"left": "R", "right": "L", "top": "H", "bottom": "F"},
    "sagittal": {"left": "A", "right": "P", "top": "H", "bottom": "F"},
}


def _needs(path):
    if not path.is_dir():
        pytest.skip(f"real test data not found at {path} (needs ../shared/data beside the repo)")
    return path


@pytest.fixture
def plane_threads(monkeypatch):
    """The threads every plane was computed on (the real `sample_plane`, observed)."""
    threads = []
    real = plane_series.sample_plane

    def observed(*args, **kwargs):
        threads.append(threading.current_thread())
        return real(*args, **kwargs)

    monkeypatch.setattr(plane_series, "sample_plane", observed)
    return threads


def settled(window) -> bool:
    views = window.grid.shown()
    return not window.mpr.is_busy() and all(
        v.series() is not None and not v.is_waiting_for_frame() and v.displayed_image() is not None
        for v in views
    )


def open_mpr(qtbot, window, folder, layout="2x2"):
    load(qtbot, window, [_needs(folder)])
    window.mpr.open(layout)
    qtbot.waitUntil(
        lambda: bool(window.mpr.controller.planes) and settled(window), timeout=TIMEOUT_MS
    )
    return window.mpr.controller


def views_by_plane(window) -> dict:
    return {v.series().plane: v for v in window.grid.shown() if isinstance(v.series(), PlaneSeries)}


def test_mpr_2x2_shows_three_patient_planes_and_the_acquired_one(qtbot, main_window, plane_threads):
    controller = open_mpr(qtbot, main_window, MR_3D)
    views = main_window.grid.shown()
    assert main_window.grid.layout_name == "2x2" and len(views) == 4
    planes = views_by_plane(main_window)
    assert sorted(planes) == ["axial", "coronal", "sagittal"]
    assert views[3].series() is controller.base  # the acquired plane
    for name, view in planes.items():
        qtbot.waitUntil(lambda v=view: bool(v.overlay.text.edges))
        assert view.overlay.text.edges == EDGES[name]
        assert view.pixel_spacing() == pytest.approx((0.9375, 0.9375))
        assert view.displayed_image().shape == (view.series().grid.rows, view.series().grid.columns)
    assert plane_threads and threading.main_thread() not in plane_threads
    assert main_window.is_idle()
    # Again, as three planes: the same volume, nothing rebuilt, nothing left busy.
    volume = controller.planes["axial"].volume
    main_window.mpr.open("1x3")
    assert not main_window.mpr.is_busy() and main_window.is_idle()
    assert main_window.grid.layout_name == "1x3"
    assert controller.planes["axial"].volume is volume


def test_crosshair_moves_the_other_views_to_one_patient_point(qtbot, main_window, plane_threads):
    controller = open_mpr(qtbot, main_window, MR_3D)
    planes = views_by_plane(main_window)
    axial = planes["axial"]
    # Shift+click a point in the axial view: the coronal and sagittal views go through it.
    target = axial.graphics.mapFromScene(
        axial.image_item.mapToScene(axial.image_item.boundingRect().center() * 0.8)
    )
    qtbot.mouseClick(
        axial.graphics.viewport(),
        Qt.MouseButton.LeftButton,
        Qt.KeyboardModifier.ShiftModifier,
        QPoint(target.x(), target.y()),
    )
    point = controller.cursor
    row, col = axial.series().geometry(axial.frame_index()).patient_to_pixel(point)
    assert abs(row - round(row)) < 1 and 0 <= row < axial.series().grid.rows
    for name in ("coronal", "sagittal"):
        view = planes[name]
        grid = view.series().grid
        assert view.frame_index() == grid.nearest_frame(point)
        assert abs((grid.frame_origin(view.frame_index()) - point) @ grid.w) <= grid.frame_step / 2
    # Drag the axial view's vertical (sagittal) line 20 pixels right: the sagittal view follows.
    crosshair = controller._crosshairs[id(axial)]
    crosshair.vertical.setValue(crosshair.vertical.value() + 20)
    crosshair.vertical.sigDragged.emit(crosshair.vertical)
    moved = controller.cursor
    assert moved[0] - point[0] == pytest.approx(20 * 0.9375, abs=1e-6)  # +x: patient left
    sagittal = planes["sagittal"]
    assert sagittal.frame_index() == sagittal.series().grid.nearest_frame(moved)
    # Every plane view draws its lines through the same patient point.
    for view in planes.values():
        lines = controller._crosshairs[id(view)]
        r, c = lines.pixel()
        found = view.series().geometry(view.frame_index()).pixel_to_patient(r, c)
        off_plane = (found - moved) @ view.series().grid.w
        assert np.linalg.norm(found - moved - off_plane * view.series().grid.w) < 1e-6
    # Scrolling the axial view moves the cursor along z; the acquired view follows it.
    axial.state.step_frame(5)
    assert controller.cursor[2] == pytest.approx(
        axial.series().grid.frame_origin(axial.frame_index())[2]
    )
    acquired = main_window.grid.shown()[3]
    assert acquired.frame_index() == nearest_frame(controller.cursor, acquired.series().info.frames)
    # The acquired view shows where the three planes cut it: each line lies in its plane.
    geometry = acquired.series().geometry(acquired.frame_index())
    for name, line in controller._references[id(acquired)].lines.items():
        assert line.isVisible()
        col, row = line.pos().x() - 0.5, line.pos().y() - 0.5
        angle = np.radians(line.angle)
        for t in (0.0, 50.0):
            on_line = geometry.pixel_to_patient(row + t * np.sin(angle), col + t * np.cos(angle))
            w = controller.planes[name].grid.w
            assert abs((on_line - controller.cursor) @ w) < 1e-4, name
    qtbot.waitUntil(lambda: settled(main_window), timeout=TIMEOUT_MS)
    assert threading.main_thread() not in plane_threads


def test_window_is_shared_and_slabs_recompute_off_the_ui_thread(qtbot, main_window, plane_threads):
    controller = open_mpr(qtbot, main_window, MR_3D)
    planes = views_by_plane(main_window)
    planes["coronal"].state.set_window(Window(300.0, 600.0))
    assert all(v.state.window == Window(300.0, 600.0) for v in main_window.grid.shown())
    thin = planes["coronal"].displayed_image().copy()
    main_window.mpr.toolbar.slab.setValue(20.0)
    assert all(p.slab_mm == 20.0 and p.mode == "mip" for p in controller.planes.values())
    qtbot.waitUntil(lambda: settled(main_window), timeout=TIMEOUT_MS)
    slab = planes["coronal"].displayed_image()
    assert slab.shape == thin.shape and (slab >= thin).all() and (slab > thin).any()
    assert any("MIP 20 mm" in line for line in planes["coronal"].overlay.text.top_right)
    assert threading.main_thread() not in plane_threads


def test_probe_and_measurements_are_in_millimetres_on_a_reformatted_plane(qtbot, main_window):
    open_mpr(qtbot, main_window, CT_TILTED, "1x3")
    assert main_window.grid.layout_name == "1x3"
    sagittal = views_by_plane(main_window)["sagittal"]
    plane, frame = sagittal.series(), sagittal.frame_index()
    probe = probe_pixel(plane, frame, 100, 200)
    expected = plane.geometry(frame).pixel_to_patient(100, 200)
    assert probe.unit == "HU" and np.allclose(probe.position_mm, expected)
    assert probe.value == float(plane.modality_frame(frame)[100, 200])
    layer = MeasurementLayer(sagittal.image_item)
    layer.set_image(image_context(sagittal))
    layer.begin_placement("length")
    layer.place_point((100.0, 100.0))
    graphic = layer.place_point((100.0, 300.0))
    assert graphic.text() == f"{200 * plane.grid.spacing:.1f} mm"
    layer.clear_image()


def test_a_measurement_on_a_plane_shows_only_on_that_plane_frame_and_slab(qtbot, main_window):
    open_mpr(qtbot, main_window, CT_TILTED, "1x3")
    planes = views_by_plane(main_window)
    coronal, axial = planes["coronal"], planes["axial"]
    tools = main_window.addons.get(MEASUREMENTS)

    def on(viewport, frame):
        viewport.state.set_frame(frame)
        qtbot.waitUntil(lambda: settled(main_window), timeout=TIMEOUT_MS)
        return [g.text() for g in tools.layer_for(viewport).graphics()]

    assert on(coronal, 10) == []
    layer = tools.layer_for(coronal)
    layer.begin_placement("length")
    layer.place_point((20.0, 20.0))
    reading = layer.place_point((20.0, 60.0)).text()
    assert on(coronal, 11) == []
    assert on(axial, 10) == []
    assert on(coronal, 10) == [reading]
    main_window.mpr.toolbar.slab.setValue(10.0)
    assert on(coronal, 10) == []  # the MIP slab is another image than the thin plane
    main_window.mpr.toolbar.slab.setValue(0.0)
    assert on(coronal, 10) == [reading]
    layer.clear_image()


def test_a_single_frame_is_not_a_volume_and_says_why(qtbot, main_window):
    from pydicom.data import get_testdata_file

    load(qtbot, main_window, [get_testdata_file("CT_small.dcm")])
    main_window.mpr.open("1x3")
    qtbot.waitUntil(lambda: not main_window.mpr.is_busy(), timeout=TIMEOUT_MS)
    assert "one frame is not a volume" in main_window.statusBar().currentMessage()
    assert not main_window.mpr.controller.planes
