"""The viewer window on real DICOM: drop to open, slice keys, W/L drag, probe, mm, export."""

from __future__ import annotations

import shutil
import zipfile

import numpy as np
import pydicom
import pytest
from pydicom.uid import generate_uid
from PySide6.QtCore import QEvent, QMimeData, QPoint, QPointF, Qt
from PySide6.QtGui import QImage, QWheelEvent
from PySide6.QtWidgets import QApplication, QInputDialog, QPushButton

from tests.ui.conftest import drop_urls, load, send_drop, send_mouse
from viewer.core.measurements import length_mm
from viewer.core.render import render_frame
from viewer.core.voi import Window
from viewer.paths import sample_study_dir
from viewer.ui.viewport import SERIES_MIME, export_view_png

pytestmark = pytest.mark.gui


def _widget_pos_of_pixel(viewport, row: int, col: int) -> QPoint:
    scene = viewport.image_item.mapToScene(QPointF(col + 0.5, row + 0.5))
    return viewport.graphics.mapFromScene(scene)


def _hover(viewport, row: int, col: int) -> None:
    pos = _widget_pos_of_pixel(viewport, row, col)
    target = viewport.graphics.viewport()
    send_mouse(target, QEvent.Type.MouseMove, pos, Qt.MouseButton.NoButton, Qt.MouseButton.NoButton)


@pytest.fixture
def ct_window(qtbot, main_window, ct_phantom_dir):
    load(qtbot, main_window, [ct_phantom_dir])
    return main_window


def test_dropping_a_folder_opens_the_study(qtbot, main_window, ct_phantom_dir):
    with qtbot.waitSignal(main_window.loader.finished, timeout=60_000):
        drop = drop_urls(main_window, [ct_phantom_dir])
    assert drop.isAccepted()
    series = main_window.current_series()
    assert series is not None and len(series) == 54
    assert main_window.stack.currentWidget() is main_window.grid
    assert main_window.browser.series_keys() == [series.info.key]


def test_keys_change_the_slice(qtbot, ct_window):
    viewport = ct_window.active_viewport()
    viewport.setFocus()
    start = viewport.frame_index()
    qtbot.keyClick(viewport, Qt.Key.Key_Down)
    assert viewport.frame_index() == start + 1
    qtbot.keyClick(viewport, Qt.Key.Key_PageDown)
    assert viewport.frame_index() == start + 11
    qtbot.keyClick(viewport, Qt.Key.Key_End)
    assert viewport.frame_index() == 53
    qtbot.keyClick(viewport, Qt.Key.Key_Home)
    assert viewport.frame_index() == 0
    qtbot.keyClick(viewport, Qt.Key.Key_Up)
    assert viewport.frame_index() == 0


def test_right_drag_changes_window_by_the_documented_amount(qtbot, ct_window):
    viewport = ct_window.active_viewport()
    before = viewport.state.window
    target = viewport.graphics.viewport()
    start = QPoint(target.width() // 2, target.height() // 2)
    end = start + QPoint(40, 20)
    right = Qt.MouseButton.RightButton
    send_mouse(target, QEvent.Type.MouseButtonPress, start, right, right)
    send_mouse(target, QEvent.Type.MouseMove, end, Qt.MouseButton.NoButton, right)
    send_mouse(target, QEvent.Type.MouseButtonRelease, end, right, Qt.MouseButton.NoButton)
    after = viewport.state.window
    step = before.width / 256.0
    assert after.width == pytest.approx(before.width + 40 * step)
    assert after.center == pytest.approx(before.center + 20 * step)


def test_screen_image_equals_render_frame(qtbot, ct_window):
    viewport = ct_window.active_viewport()
    state = viewport.state
    qtbot.keyClick(viewport, Qt.Key.Key_PageDown)
    ct_window.apply_preset(0)  # lung
    state.set_invert(True)
    expected = render_frame(state.series, state.frame, state.window, invert=True)
    np.testing.assert_array_equal(viewport.displayed_image(), expected)


def test_probe_shows_the_value_and_position_pydicom_gives(qtbot, ct_window):
    viewport = ct_window.active_viewport()
    viewport.state.set_frame(7)
    row, col = 300, 200
    _hover(viewport, row, col)
    ds = pydicom.dcmread(viewport.series().info.frames[7].path)
    hu = float(ds.pixel_array[row, col]) * float(ds.RescaleSlope) + float(ds.RescaleIntercept)
    cosines = np.array(ds.ImageOrientationPatient, dtype=float)
    row_spacing, col_spacing = (float(v) for v in ds.PixelSpacing)
    position = (
        np.array(ds.ImagePositionPatient, dtype=float)
        + col * col_spacing * cosines[:3]
        + row * row_spacing * cosines[3:]
    )
    text = ct_window.probe_label.text()
    assert f"({col}, {row})" in text
    assert f"{hu:.6g} HU" in text
    assert "({:.1f}, {:.1f}, {:.1f}) mm".format(*position) in text


def test_length_through_the_view_reads_millimetres(qtbot, ct_window):
    viewport = ct_window.active_viewport()
    viewport.state.rotate(1)
    viewport.state.flip(True)
    a, b = (100, 120), (400, 340)
    scene_a = viewport.image_item.mapToScene(QPointF(a[1] + 0.5, a[0] + 0.5))
    scene_b = viewport.image_item.mapToScene(QPointF(b[1] + 0.5, b[0] + 0.5))
    p0, p1 = viewport.scene_to_pixel(scene_a), viewport.scene_to_pixel(scene_b)
    ds = pydicom.dcmread(viewport.series().info.frames[0].path, stop_before_pixels=True)
    row_spacing, col_spacing = (float(v) for v in ds.PixelSpacing)
    expected = np.hypot((b[0] - a[0]) * row_spacing, (b[1] - a[1]) * col_spacing)
    assert length_mm(p0, p1, viewport.pixel_spacing()) == pytest.approx(expected, abs=1e-6)


def test_orientation_letters_follow_rotation(qtbot, ct_window):
    viewport = ct_window.active_viewport()
    edges = dict(viewport.overlay.text.edges)
    assert edges["left"].startswith("R") and edges["right"].startswith("L")
    viewport.state.rotate(1)
    qtbot.waitUntil(lambda: viewport.overlay.text.edges != edges, timeout=1000)
    rotated = viewport.overlay.text.edges
    assert rotated["top"] == edges["left"] and rotated["right"] == edges["top"]


def test_overlays_and_anonymise(qtbot, ct_window):
    viewport = ct_window.active_viewport()
    ds = pydicom.dcmread(viewport.series().info.frames[0].path, stop_before_pixels=True)
    patient_id = str(ds.PatientID)
    assert any(patient_id in line for line in viewport.overlay.text.top_left)
    ct_window.anonymise_action.setChecked(True)
    qtbot.waitUntil(lambda: not any(patient_id in line for line in viewport.overlay.text.top_left))
    assert patient_id not in ct_window.browser.tree.topLevelItem(0).text(0)
    ct_window.overlays_action.setChecked(False)
    assert not viewport.overlay.isVisible()


def test_number_key_applies_ct_preset(qtbot, ct_window):
    viewport = ct_window.active_viewport()
    qtbot.keyClick(viewport, Qt.Key.Key_1)
    assert (viewport.state.window.center, viewport.state.window.width) == (-600.0, 1500.0)


def test_export_png_with_and_without_overlays(qtbot, ct_window, tmp_path):
    viewport = ct_window.active_viewport()
    with_text = export_view_png(viewport, tmp_path / "with.png", with_overlays=True)
    without = export_view_png(viewport, tmp_path / "without.png", with_overlays=False)
    a, b = QImage(str(with_text)), QImage(str(without))
    assert not a.isNull() and a.size() == b.size() == viewport.graphics.size()
    assert a != b
    assert viewport.overlay.isVisible()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["with.png", "without.png"]


def test_series_dragged_into_second_viewport_and_synced_scrolling(qtbot, ct_window):
    ct_window.set_layout("1x2")
    key = ct_window.current_series().info.key
    second = ct_window.viewports()[1]
    mime = QMimeData()
    mime.setData(SERIES_MIME, key.encode("utf-8"))
    assert send_drop(second, mime).isAccepted()
    assert second.series() is not None and second.state.series_key == key
    ct_window.viewports()[0].state.set_frame(30)
    assert second.frame_index() == 30


def test_cine_plays(qtbot, ct_window):
    viewport = ct_window.active_viewport()
    ct_window.fps_spin.setValue(50)
    start = viewport.frame_index()
    viewport.toggle_cine(True)
    qtbot.waitUntil(lambda: viewport.frame_index() >= start + 3, timeout=3000)
    viewport.toggle_cine(False)


def test_corrupt_files_are_listed_and_the_rest_opens(qtbot, main_window, ct_phantom_dir, tmp_path):
    for source in sorted(ct_phantom_dir.iterdir())[:5]:
        shutil.copy(source, tmp_path / source.name)
    (tmp_path / "broken.dcm").write_bytes(b"DICM" * 10)
    load(qtbot, main_window, [tmp_path])
    assert len(main_window.current_series()) == 5
    box = main_window.skipped_message
    assert box is not None and "broken.dcm" in box.detailedText()


def test_settings_persist_on_close(qtbot, main_window):
    from viewer.ui.settings import load_settings

    main_window.set_layout("2x2")
    main_window.overlays_action.setChecked(False)
    main_window.close()
    stored = load_settings()
    assert stored.layout == "2x2" and stored.show_overlays is False


def test_dropping_a_zip_opens_it(qtbot, main_window, ct_phantom_dir, tmp_path):
    archive = tmp_path / "study.zip"
    with zipfile.ZipFile(archive, "w") as zf:
        for source in sorted(ct_phantom_dir.iterdir())[:6]:
            zf.write(source, f"ct/{source.name}")
    with qtbot.waitSignal(main_window.loader.finished, timeout=60_000):
        drop_urls(main_window, [archive])
    assert len(main_window.current_series()) == 6


def test_multiframe_object_navigates_like_a_stack(qtbot, main_window, enhanced_mr_dir):
    load(qtbot, main_window, [enhanced_mr_dir / "Philips"])
    viewport = main_window.active_viewport()
    series = viewport.series()
    assert len({ref.path for ref in series.info.frames}) < len(series) > 1  # frames share files
    viewport.setFocus()
    qtbot.keyClick(viewport, Qt.Key.Key_End)
    assert viewport.frame_index() == len(series) - 1
    expected = render_frame(series, len(series) - 1, viewport.state.window)
    np.testing.assert_array_equal(viewport.displayed_image(), expected)


def test_series_dragged_out_of_the_browser_carries_its_key(qtbot, ct_window):
    tree = ct_window.browser.tree
    key = ct_window.current_series().info.key
    item = next(
        tree.topLevelItem(0).child(0).child(i)
        for i in range(tree.topLevelItem(0).child(0).childCount())
    )
    mime = tree.mimeData([item])
    assert bytes(mime.data(SERIES_MIME)).decode() == key
    ct_window.set_layout("2x2")
    target = ct_window.viewports()[3]
    send_drop(target, mime)
    assert target.state.series_key == key and ct_window.active_viewport() is target


def _copy_slices(sources, target, **changes):
    target.mkdir()
    for source in sources:
        ds = pydicom.dcmread(source)
        for keyword, value in changes.items():
            setattr(ds, keyword, value)
        ds.SOPInstanceUID = ds.file_meta.MediaStorageSOPInstanceUID = generate_uid()
        ds.save_as(target / source.name)
    return target


def test_non_square_pixels_show_with_their_millimetre_aspect(
    qtbot, main_window, ct_phantom_dir, tmp_path
):
    folder = _copy_slices(
        sorted(ct_phantom_dir.iterdir())[:2], tmp_path / "ns", PixelSpacing=[1.0, 0.5]
    )
    load(qtbot, main_window, [folder])
    viewport = main_window.active_viewport()
    shown = viewport.image_item.mapRectToView(viewport.image_item.boundingRect())
    rows, cols = viewport.series().info.rows, viewport.series().info.columns
    # rows of 1.0 mm and columns of 0.5 mm: twice as tall as wide per pixel
    assert shown.height() / shown.width() == pytest.approx((rows * 1.0) / (cols * 0.5))


def test_scrolling_syncs_between_series_sharing_a_frame_of_reference(
    qtbot, main_window, ct_phantom_dir, tmp_path
):
    sources = sorted(ct_phantom_dir.iterdir())[:12]
    folder = _copy_slices(
        sources[::2], tmp_path / "b", SeriesInstanceUID=generate_uid(), SeriesNumber=999
    )
    for source in sources:
        shutil.copy(source, folder / f"a-{source.name}")
    load(qtbot, main_window, [folder])
    keys = main_window.browser.series_keys()
    assert len(keys) == 2
    main_window.set_layout("1x2")
    left, right = main_window.viewports()
    main_window.show_series(keys[0], left)
    main_window.show_series(keys[1], right)  # decoded in the background, then shown
    qtbot.waitUntil(  # the series the load showed first may sit in either viewport until then
        lambda: (left.state.series_key, right.state.series_key) == tuple(keys), timeout=30_000
    )
    full, half = (left, right) if len(left.series()) > len(right.series()) else (right, left)
    for target in range(len(full.series())):
        full.state.set_frame(target)
        point = np.array(full.series().info.frames[target].position)
        nearest = min(
            range(len(half.series())),
            key=lambda i: np.linalg.norm(np.array(half.series().info.frames[i].position) - point),
        )
        assert half.frame_index() == nearest


def _preset_labels(window) -> list[str]:
    """The window presets listed in View → Window (the menu ends with a separator + Save…)."""
    actions = [a for a in window.window_menu.actions() if not a.isSeparator()]
    return [a.text().split("\t")[0] for a in actions[:-1]]


def test_file_windows_follow_the_ct_presets(qtbot, ct_window):
    series = ct_window.current_series()
    labels = _preset_labels(ct_window)
    assert labels[:3] == ["Lung", "Mediastinum", "Abdomen"]
    assert len(labels) == 8 + len(series.windows(0))
    own = series.windows(0)[0]
    ct_window.apply_preset(8)
    assert ct_window.active_viewport().state.window == own


def test_welcome_panel_opens_the_sample(qtbot, main_window):
    assert main_window.stack.currentWidget() is main_window.welcome
    if not any(sample_study_dir().rglob("*.dcm")):
        pytest.skip("sample study not built")
    with qtbot.waitSignal(main_window.loader.finished, timeout=60_000):
        main_window.welcome.findChild(QPushButton, "open_sample").click()
    assert main_window.current_series() is not None
    assert main_window.settings.recent[0] == str(sample_study_dir())


def test_opening_only_junk_returns_to_the_welcome_panel(qtbot, ct_window, tmp_path):
    (tmp_path / "notes.txt").write_text("not DICOM")
    load(qtbot, ct_window, [tmp_path])
    assert ct_window.stack.currentWidget() is ct_window.welcome
    assert ct_window.current_series() is None
    assert "notes.txt" in ct_window.skipped_message.detailedText()


def _wheel(widget, steps: int, modifiers=Qt.KeyboardModifier.NoModifier) -> None:
    pos = QPointF(widget.width() / 2, widget.height() / 2)
    event = QWheelEvent(
        pos,
        QPointF(widget.mapToGlobal(pos.toPoint())),
        QPoint(0, 0),
        QPoint(0, 120 * steps),
        Qt.MouseButton.NoButton,
        modifiers,
        Qt.ScrollPhase.NoScrollPhase,
        False,
    )
    QApplication.sendEvent(widget, event)


def test_wheel_steps_slices_and_ctrl_wheel_zooms(qtbot, ct_window):
    viewport = ct_window.active_viewport()
    target = viewport.graphics.viewport()
    start = viewport.frame_index()
    _wheel(target, -1)
    _wheel(target, -1)
    assert viewport.frame_index() == start + 2
    _wheel(target, 1)
    assert viewport.frame_index() == start + 1
    zoom = viewport.zoom()
    _wheel(target, 1, Qt.KeyboardModifier.ControlModifier)
    assert viewport.zoom() > zoom
    assert viewport.frame_index() == start + 1
    viewport.actual_size()
    assert viewport.zoom() == pytest.approx(1.0, rel=1e-3)


def test_saved_window_preset_is_offered_after_the_shipped_ones(qtbot, ct_window, monkeypatch):
    viewport = ct_window.active_viewport()
    before = _preset_labels(ct_window)
    viewport.state.set_window(Window(123.0, 456.0))
    monkeypatch.setattr(QInputDialog, "getText", lambda *a, **k: ("Phantom", True))
    ct_window.save_window_preset()
    labels = _preset_labels(ct_window)
    assert labels[: len(before)] == before  # the keys of the others do not move
    assert labels[len(before)] == "Phantom"
    viewport.state.set_window(Window(0.0, 10.0))
    ct_window.apply_preset(len(before))
    assert (viewport.state.window.center, viewport.state.window.width) == (123.0, 456.0)
    assert ct_window.settings.presets == {"CT": [["Phantom", 123.0, 456.0]]}


def test_view_shortcuts_act_on_the_active_viewport(qtbot, ct_window):
    viewport = ct_window.active_viewport()
    viewport.setFocus()
    qtbot.keyClick(viewport, Qt.Key.Key_R)
    qtbot.keyClick(viewport, Qt.Key.Key_H)
    qtbot.keyClick(viewport, Qt.Key.Key_I)
    state = viewport.state
    assert (state.transform.rotation, state.invert) == (1, True)
    assert state.transform.flip_v  # a screen flip after a quarter turn flips the image rows
    qtbot.keyClick(viewport, Qt.Key.Key_O)
    assert not ct_window.overlays_action.isChecked()
    qtbot.keyClick(viewport, Qt.Key.Key_Escape)
    assert (state.transform.rotation, state.invert, state.transform.flip_v) == (0, False, False)


def test_optional_parts_attach_to_the_window(qtbot, main_window):
    from viewer.ui.app import EXTENSIONS

    assert len(main_window.extensions) == len(EXTENSIONS)  # none failed
    file_items = [a.text() for a in main_window.menu("File").actions() if a.text()]
    assert file_items.index("Export report…") == file_items.index("Quit") - 1
    assert "Open segmentation or report…" in file_items
    assert main_window.menu("Tools").actions() and main_window.menu("AI").actions()
    assert "PACS" in [a.text() for a in main_window.menu("View").actions()]


def _padded_ct_slice(source_dir, target_dir, padding_stored: int) -> np.ndarray:
    """One real CT slice whose corners outside a centred disc hold PixelPaddingValue."""
    ds = pydicom.dcmread(sorted(p for p in source_dir.iterdir() if p.is_file())[0])
    pixels = ds.pixel_array.copy()
    rows, cols = np.indices(pixels.shape)
    outside = np.hypot(rows - pixels.shape[0] / 2, cols - pixels.shape[1] / 2) > 0.4 * cols.max()
    pixels[outside] = padding_stored
    ds.PixelData = pixels.tobytes()
    ds.add_new("PixelPaddingValue", "SS" if ds.PixelRepresentation else "US", padding_stored)
    target_dir.mkdir()
    ds.save_as(target_dir / "padded.dcm")
    return pixels


def test_automatic_window_leaves_out_pixel_padding(qtbot, main_window, ct_phantom_dir, tmp_path):
    stored = _padded_ct_slice(ct_phantom_dir, tmp_path / "padded", padding_stored=0)
    load(qtbot, main_window, [tmp_path / "padded"])
    viewport = main_window.active_viewport()
    viewport.setFocus()
    qtbot.keyClick(viewport, Qt.Key.Key_A)
    window = viewport.state.window
    # Independent: pydicom's modality LUT, then the 0.5..99.5 percentiles of the non-padding.
    ds = pydicom.dcmread(tmp_path / "padded" / "padded.dcm")
    hu = pydicom.pixels.apply_rescale(stored, ds)[stored != ds.PixelPaddingValue]
    low, high = np.floor(np.percentile(hu, 0.5)), np.ceil(np.percentile(hu, 99.5))
    assert (window.center - window.width / 2, window.center + window.width / 2 - 1) == (low, high)
    assert low > -1024  # the padding (stored 0 → -1024 HU, a third of the image) stayed out


def test_patient_and_study_rows_keep_their_whole_text_as_tooltip(qtbot, ct_window):
    tree = ct_window.browser.tree
    patient = tree.topLevelItem(0)
    study = patient.child(0)
    for item in (patient, study):
        assert item.text(0) and item.toolTip(0) == item.text(0)
    ct_window.anonymise_action.setChecked(True)  # the tooltip never shows what the row hides
    patient = tree.topLevelItem(0)
    assert patient.toolTip(0) == patient.text(0)
