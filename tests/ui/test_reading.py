"""Reading the way RadiAnt/Weasis users expect (issue 14), in the window `radlens` builds."""

from __future__ import annotations

import pytest
from PySide6.QtCore import QEvent, Qt

from tests.ui.conftest import load, send_mouse
from viewer.core import measurements as core
from viewer.ui.measurement_tools import to_item

pytestmark = pytest.mark.gui
LEFT, NONE = Qt.MouseButton.LeftButton, Qt.MouseButton.NoButton


@pytest.fixture
def window(main_window):
    """The main window as `radlens` builds it (every add-on installed), analysis on demand."""
    return main_window


@pytest.fixture
def ct_window(qtbot, window, ct_phantom_dir):
    load(qtbot, window, [ct_phantom_dir])
    qtbot.waitUntil(lambda: window.current_series() is not None)
    return window


def _view_pos(viewport, row, col):
    scene = viewport.image_item.mapToScene(to_item((row, col)))
    return viewport.graphics.mapFromScene(scene)


def _drag(qtbot, viewport, start_pixel, end_pixel, steps=8):
    target = viewport.graphics.viewport()
    start, end = _view_pos(viewport, *start_pixel), _view_pos(viewport, *end_pixel)
    send_mouse(target, QEvent.Type.MouseMove, start, NONE, NONE)
    send_mouse(target, QEvent.Type.MouseButtonPress, start, LEFT, LEFT)
    for step in range(1, steps + 1):
        qtbot.wait(20)  # pyqtgraph drops mouse moves that come faster than its frame rate
        send_mouse(
            target, QEvent.Type.MouseMove, start + (end - start) * (step / steps), NONE, LEFT
        )
    send_mouse(target, QEvent.Type.MouseButtonRelease, end, LEFT, NONE)


def test_the_probe_follows_the_slice_while_the_mouse_stands_still(qtbot, ct_window):
    viewport = ct_window.active_viewport()
    series = viewport.series()
    row, col = 256, 300
    here = _view_pos(viewport, row, col)
    send_mouse(viewport.graphics.viewport(), QEvent.Type.MouseMove, here, NONE, NONE)
    first = series.modality_frame(viewport.frame_index())[row, col]
    qtbot.waitUntil(lambda: f"{float(first):.6g} HU" in ct_window.probe_label.text())
    frame = next(
        i for i in range(series.info.frames.__len__())
        if series.modality_frame(i)[row, col] != first
    )  # fmt: skip
    viewport.state.set_frame(frame)
    other = float(series.modality_frame(frame)[row, col])
    qtbot.waitUntil(lambda: f"{other:.6g} HU" in ct_window.probe_label.text())


def test_a_length_is_drawn_by_dragging_and_the_active_tool_shows(qtbot, ct_window):
    viewport = ct_window.active_viewport()
    tools = ct_window.measurements
    length = tools.actions[core.LENGTH]
    length.trigger()
    assert length.isChecked() and "drag" in ct_window.statusBar().currentMessage()
    assert viewport.graphics.viewport().cursor().shape() == Qt.CursorShape.CrossCursor
    view_range = viewport.view_box.viewRange()
    _drag(qtbot, viewport, (100, 100), (100, 300))
    layer = tools.active_layer()
    (graphic,) = layer.graphics()
    (r0, c0), (r1, c1) = graphic.measurement.points
    assert (r0, c0) == pytest.approx((100, 100), abs=1.5)
    assert (r1, c1) == pytest.approx((100, 300), abs=1.5)
    assert viewport.view_box.viewRange() == view_range  # the drag drew; it did not pan
    assert not length.isChecked() and layer.placing() == ""
    assert viewport.graphics.viewport().cursor().shape() != Qt.CursorShape.CrossCursor
    assert graphic.text().endswith(" mm")


def test_a_rectangle_is_drawn_by_dragging_and_a_plain_drag_still_pans(qtbot, ct_window):
    viewport = ct_window.active_viewport()
    ct_window.measurements.actions[core.RECTANGLE].trigger()
    _drag(qtbot, viewport, (300, 200), (200, 100))
    layer = ct_window.measurements.active_layer()
    (graphic,) = layer.graphics()
    assert graphic.measurement.kind == core.RECTANGLE
    assert graphic.measurement.points[0] == pytest.approx((200, 100), abs=1.5)
    view_range = viewport.view_box.viewRange()
    _drag(qtbot, viewport, (300, 300), (250, 250))
    assert viewport.view_box.viewRange() != view_range and len(layer.graphics()) == 1


def test_an_angle_is_its_first_arm_dragged_then_a_click(qtbot, ct_window):
    viewport = ct_window.active_viewport()
    ct_window.measurements.actions[core.ANGLE].trigger()
    _drag(qtbot, viewport, (100, 300), (200, 200))
    layer = ct_window.measurements.active_layer()
    assert layer.placing() == core.ANGLE and not layer.graphics()
    qtbot.mouseClick(viewport.graphics.viewport(), LEFT, pos=_view_pos(viewport, 200, 300))
    (graphic,) = layer.graphics()
    assert graphic.measurement.points[1] == pytest.approx((200, 200), abs=1.5)
    expected = core.angle_deg(*graphic.measurement.points, viewport.pixel_spacing())
    assert expected == pytest.approx(45.0, abs=1.5) and graphic.text() == f"{expected:.1f}°"


def test_choosing_the_active_tool_again_puts_it_away(qtbot, ct_window):
    action = ct_window.measurements.actions[core.ELLIPSE]
    action.trigger()
    assert ct_window.measurements.active_layer().placing() == core.ELLIPSE
    action.trigger()
    assert ct_window.measurements.active_layer().placing() == "" and not action.isChecked()


def test_a_long_reading_near_the_edge_stays_inside_the_view(qtbot, ct_window):
    viewport = ct_window.active_viewport()
    layer = ct_window.measurements.active_layer()
    cols = viewport.series().info.columns
    graphic = layer.add(core.Measurement(core.RECTANGLE, [(5, cols - 60), (40, cols - 2)]))
    qtbot.wait(50)
    area = viewport.view_box.sceneBoundingRect()
    label = graphic.label.sceneBoundingRect()
    assert area.contains(label), (area, label, graphic.text())


def test_corners_and_details_read_age_sex_and_the_syntax_by_name(qtbot, ct_window):
    from viewer.core.formatting import sex_age, transfer_syntax_name
    from viewer.ui.overlays import overlay_text

    viewport = ct_window.active_viewport()
    info = viewport.series().info
    patient = info.study.patient
    expected = sex_age(patient.sex, patient.age, patient.birth_date, info.study.date)
    assert expected  # the phantom states a sex or an age
    corners = overlay_text(viewport.state, viewport.view_matrix(), viewport.zoom())
    assert expected in corners.top_left
    details = ct_window.browser.details.toPlainText()
    assert transfer_syntax_name(info.transfer_syntax) in details
    assert info.transfer_syntax not in details  # a name, not a bare UID


def test_the_model_dialog_rounds_thresholds_and_figures():
    from inference.registry import DEFAULT_MODEL, find_model
    from viewer.ui.ai_controller import model_card_text

    card = find_model(DEFAULT_MODEL)
    threshold = card.thresholds["pneumonia"]
    text = model_card_text(card)
    assert repr(threshold) not in text  # never the raw float (e.g. 0.5405559649393982)
    assert f"pneumonia {threshold * 100:.1f} %" in text and f"threshold {threshold:.3f}" in text
    held_out = card.metrics["held_out_test"]
    assert f"Held-out test: AUC {held_out['auc']:.3f}" in text and "not an external test" in text


def test_split_series_rows_differ_where_the_dock_does_not_cut_them(qtbot, window, enhanced_mr_dir):
    load(qtbot, window, [enhanced_mr_dir / "Siemens"])
    tree = window.browser.tree
    rows = [window.browser._items[key].text(0) for key in window.browser.series_keys()]
    assert len(rows) == 4
    metrics = tree.fontMetrics()
    width = tree.viewport().width() - tree.iconSize().width() - 3 * tree.indentation()
    shown = {metrics.elidedText(row, Qt.TextElideMode.ElideRight, width) for row in rows}
    assert len(shown) == 4, shown
    assert all("time point" in row for row in rows)


def test_overlay_planes_are_drawn_and_toggled_in_the_viewer(qtbot, window):
    from pydicom.data import get_testdata_file

    path = get_testdata_file("MR-SIEMENS-DICOM-WithOverlays.dcm")
    if path is None:
        pytest.skip("MR-SIEMENS-DICOM-WithOverlays.dcm not installed (pip install pydicom-data)")
    load(qtbot, window, [path])
    qtbot.waitUntil(lambda: window.current_series() is not None)
    planes = window.overlay_planes
    item = planes.items[id(window.active_viewport())]
    qtbot.waitUntil(item.isVisible)
    assert (item.image[..., 3] > 0).sum() == 323
    assert item.parentItem() is window.active_viewport().image_item  # follows zoom/rotation
    planes.action.trigger()
    assert not item.isVisible()
    planes.action.trigger()
    assert item.isVisible()


def test_saving_a_preset_keeps_the_number_keys_of_the_others(qtbot, window, mr_sag_dir):
    from viewer.core.voi import Window
    from viewer.ui.view_state import add_user_preset, window_choices

    load(qtbot, window, [mr_sag_dir])
    qtbot.waitUntil(lambda: window.current_series() is not None)
    series, frame = window.current_series(), window.current_frame_index()
    before = [label for label, _ in window_choices(series, frame, window.settings.presets)]
    assert before  # the file's own windows
    presets = add_user_preset({}, "MR", "Mine", Window(300.0, 600.0))
    presets = add_user_preset(presets, "MR", "Second", Window(200.0, 400.0))
    after = [label for label, _ in window_choices(series, frame, presets)]
    assert after == [*before, "Mine", "Second"]
    replaced = add_user_preset(presets, "MR", "Mine", Window(10.0, 20.0))
    assert [label for label, _ in window_choices(series, frame, replaced)] == after


def test_a_png_export_without_an_extension_gets_png(qtbot, ct_window, tmp_path, monkeypatch):
    from PySide6.QtWidgets import QFileDialog

    typed = tmp_path / "view"  # what the user typed in the save dialog
    monkeypatch.setattr(QFileDialog, "getSaveFileName", lambda *a, **k: (str(typed), "PNG"))
    ct_window.export_png(True)
    written = tmp_path / "view.png"
    assert written.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and not typed.exists()


def _corner_rects(layer):
    from PySide6.QtCore import Qt as QtNs

    area = layer.rect().adjusted(layer.MARGIN, layer.MARGIN, -layer.MARGIN, -layer.MARGIN)
    align = QtNs.AlignmentFlag
    corners = {
        "top_left": align.AlignLeft | align.AlignTop,
        "top_right": align.AlignRight | align.AlignTop,
        "bottom_left": align.AlignLeft | align.AlignBottom,
        "bottom_right": align.AlignRight | align.AlignBottom,
    }
    metrics = layer.fontMetrics()
    rects = {}
    for name, flags in corners.items():
        lines = layer._fitted(getattr(layer.text, name), area)  # noqa: SLF001 - what is drawn
        if lines:
            rects[name] = metrics.boundingRect(area, int(flags), "\n".join(lines))
    return rects


def test_corner_texts_do_not_overlap_in_2x2_and_empty_viewports_invite_a_drop(qtbot, ct_window):
    from viewer.ui.overlays import EMPTY_HINT

    ct_window.resize(900, 600)
    ct_window.set_layout("2x2")
    first, *others = ct_window.viewports()
    ct_window.show_series(first.state.series_key, others[0])
    qtbot.waitUntil(lambda: others[0].series() is not None)
    qtbot.wait(50)
    assert others[1].overlay.text.centre == EMPTY_HINT and first.overlay.text.centre == ""
    for viewport in (first, others[0]):
        rects = list(_corner_rects(viewport.overlay).values())
        assert len(rects) == 4
        overlapping = [
            (a, b) for i, a in enumerate(rects) for b in rects[i + 1 :] if a.intersects(b)
        ]
        assert not overlapping, overlapping


def test_the_loading_progress_shows_its_whole_text(qtbot, window):
    window._on_progress("Reading headers", 12, 12345)  # noqa: SLF001 - as the loader reports it
    text = window.progress.text()
    assert "Reading headers" in text
    needed = window.progress.fontMetrics().horizontalAdvance(text)
    assert window.progress.minimumWidth() > needed


def test_a_jpeg_chest_x_ray_opens_as_a_secondary_image(qtbot, window, cxr_dir, tmp_path):
    import numpy as np
    from PIL import Image

    jpeg = sorted((cxr_dir / "samples-fullres" / "NORMAL").glob("*.jpeg"))[0]
    png = tmp_path / "chest.png"
    Image.open(jpeg).save(png)  # the same real pixels, as PNG
    for path in (jpeg, png):
        load(qtbot, window, [path])
        qtbot.waitUntil(lambda: window.current_series() is not None)
        assert not window.index.skipped
        series = window.current_series()
        np.testing.assert_array_equal(series.modality_frame(0), np.asarray(Image.open(jpeg)))
        assert (
            series.info.study.patient.name == ""
            and window.active_viewport().pixel_spacing() is None
        )
        # the details pane follows the browser's selection one event-loop pass later
        qtbot.waitUntil(lambda: "pixel spacing unknown" in window.browser.details.toPlainText())
        layer = window.measurements.active_layer()
        graphic = layer.add(core.Measurement(core.LENGTH, [(10, 10), (10, 110)]))
        assert graphic.text() == "100.0 px"  # measurements in pixels, and they say so
        window.active_viewport().state.set_series(None)


def test_a_folder_of_pictures_opens_every_picture(qtbot, window, cxr_dir):
    folder = cxr_dir / "samples-fullres"
    load(qtbot, window, [folder])
    expected = len([p for p in folder.rglob("*") if p.suffix.lower() in (".jpeg", ".jpg", ".png")])
    assert len(window.index.all_series()) == expected and not window.index.skipped


def test_the_tag_browser_opens_wide_enough_to_read(qtbot, ct_window):
    tags = ct_window.measurements.tag_browser
    tags.dock.show()
    qtbot.waitUntil(lambda: tags.browser.tree.topLevelItemCount() > 0)
    tree = tags.browser.tree
    metrics = tree.fontMetrics()
    assert tags.dock.width() >= 460
    assert tree.columnWidth(0) >= metrics.horizontalAdvance("(0010,0010)")
    shown = sum(tree.columnWidth(c) for c in range(3))
    assert shown < tree.viewport().width()  # the value column starts inside the view
