"""DICOM SEG/SR in the real window (all add-ons installed, as `radlens` builds it): segment list,
overlay in its colours, SEG opened before its images from another folder, SR findings and text
with images absent, SCOORD graphics on the referenced image; decoding off the UI thread."""

from __future__ import annotations

import shutil
import threading

import numpy as np
import pytest
from PySide6.QtCore import Qt

import viewer.core.seg as core_seg
from tests.ui.conftest import LOAD_TIMEOUT_MS, load

pytestmark = pytest.mark.gui


@pytest.fixture
def window(main_window):
    """The window as `radlens` builds it (the fixture installs every add-on)."""
    return main_window


def settle(qtbot, window) -> None:
    qtbot.waitUntil(lambda: not window.seg_sr.is_busy(), timeout=LOAD_TIMEOUT_MS)


def overlay_of(window):
    return window.seg_sr.overlays[str(id(window.active_viewport()))]


def test_study_with_seg_shows_segments_in_their_colours(qtbot, window, seg_sr_dir, monkeypatch):
    decoded_on = []
    original = core_seg._decode_pixels

    def recording(seg):
        decoded_on.append(threading.current_thread() is threading.main_thread())
        return original(seg)

    monkeypatch.setattr(core_seg, "_decode_pixels", recording)
    folder = seg_sr_dir / "liver-ct-3slice"
    load(qtbot, window, [folder / "ct", folder / "partial_overlaps.dcm"])
    settle(qtbot, window)
    panel = window.seg_sr.segments
    labels = [item.text(0) for item in panel.segment_items()]
    assert labels == ["1 GREEN", "2 ORANGE", "3 PURPLE", "4 LIGHT_BLUE", "5 DARK_BLUE"]
    assert decoded_on == [False], "SEG pixels are decoded on the worker thread"
    qtbot.waitUntil(lambda: overlay_of(window).item.isVisible(), timeout=LOAD_TIMEOUT_MS)
    rgba = overlay_of(window).item.image
    assert rgba.shape == (512, 512, 4) and rgba[..., 3].max() > 0
    # switching segment 3 (on every slice) and the others off hides the overlay
    for number in range(1, 6):
        panel.set_visible(str(folder / "partial_overlaps.dcm"), number, False)
    settle(qtbot, window)
    qtbot.waitUntil(lambda: not overlay_of(window).item.isVisible(), timeout=LOAD_TIMEOUT_MS)


def test_seg_opened_first_from_another_folder_shows_on_its_images(
    qtbot, window, seg_sr_dir, tmp_path
):
    folder = seg_sr_dir / "liver-ct-3slice"
    elsewhere = tmp_path / "masks"
    elsewhere.mkdir()
    shutil.copy(folder / "liver.dcm", elsewhere / "liver-seg.dcm")
    load(qtbot, window, [elsewhere])  # only the SEG: no images yet
    settle(qtbot, window)
    assert window.index.all_series() == [] and not window.index.skipped
    assert [i.text(0) for i in window.seg_sr.segments.segment_items()] == ["1 Liver"]
    load(qtbot, window, [folder / "ct"])  # the images, from another folder, afterwards
    settle(qtbot, window)
    qtbot.waitUntil(lambda: overlay_of(window).item.isVisible(), timeout=LOAD_TIMEOUT_MS)
    rgba = overlay_of(window).item.image
    coloured = rgba[rgba[..., 3] > 0][:, :3]
    assert len(coloured) > 30000 and tuple(coloured[0]) == (221, 130, 101)


def test_sr_with_images_absent_reads_in_the_report_panel(qtbot, window, seg_sr_dir):
    load(qtbot, window, [seg_sr_dir / "refs-missing" / "tcga-kirc-ct-length"])
    settle(qtbot, window)
    panel = window.seg_sr.reports
    top = panel.tree.topLevelItem(0)
    assert top.text(0) == "Imaging Measurement Report"
    group = top.child(0)
    rows = {group.child(i).text(0): group.child(i).text(1) for i in range(group.childCount())}
    assert group.text(0) == "Kidney" and rows["Length"] == "66.4386 mm"
    assert "Length: 66.4386 mm" in panel.text.toPlainText()
    assert not window.seg_sr.report_dock.visibleRegion().isEmpty()


def test_sr_graphics_are_drawn_on_the_referenced_image(qtbot, window, seg_sr_dir):
    folder = seg_sr_dir / "highdicom"
    load(qtbot, window, [folder / "ct_image.dcm", folder / "sr_document_with_multiple_groups.dcm"])
    settle(qtbot, window)
    overlay = overlay_of(window)
    qtbot.waitUntil(lambda: len(overlay.graphics) == 2, timeout=LOAD_TIMEOUT_MS)
    circle = next(g for g in overlay.graphics if g.toolTip() == "Nodule")
    box = circle.rect()
    # highdicom's nodule: CIRCLE centre (45, 55), edge (45, 65) in SCOORD (column, row)
    assert (box.center().x(), box.center().y()) == pytest.approx((45.0, 55.0))
    assert box.width() == pytest.approx(20.0)
    assert circle.parentItem() is window.active_viewport().image_item


def test_segment_opacity_slider_changes_the_overlay(qtbot, window, seg_sr_dir):
    folder = seg_sr_dir / "liver-ct-3slice"
    load(qtbot, window, [folder / "ct", folder / "liver.dcm"])
    settle(qtbot, window)
    qtbot.waitUntil(lambda: overlay_of(window).item.isVisible(), timeout=LOAD_TIMEOUT_MS)
    before = int(overlay_of(window).item.image[..., 3].max())
    window.seg_sr.segments.opacity.setValue(100)
    settle(qtbot, window)
    qtbot.waitUntil(
        lambda: int(overlay_of(window).item.image[..., 3].max()) == 255, timeout=LOAD_TIMEOUT_MS
    )
    assert before == round(0.5 * 255)
    item = window.seg_sr.segments.segment_items()[0]
    assert item.text(2) == "100 %" and item.checkState(0) == Qt.CheckState.Checked
    assert np.count_nonzero(overlay_of(window).item.image[..., 3]) > 30000


def test_report_text_hides_observer_names_and_dates_when_anonymised(qtbot, window, seg_sr_dir):
    """An SR's content tree names its observer and dates its study: "Anonymise on screen" hides
    them in the Reports dock at once, and they come back when it is switched off."""
    load(qtbot, window, [seg_sr_dir / "refs-missing" / "tcga-kirc-ct-length"])
    settle(qtbot, window)
    panel = window.seg_sr.reports
    assert "accomplished_peafowl" in panel.text.toPlainText()
    assert "19870620" in panel.text.toPlainText()
    window.anonymise_action.setChecked(True)
    text = panel.text.toPlainText()
    assert "accomplished_peafowl" not in text and "19870620" not in text
    assert "Person Observer Name: (hidden" in text and "Length: 66.4386 mm" in text
    assert all("refs-missing" not in panel.tree.topLevelItem(0).toolTip(c) for c in (0, 1))
    window.anonymise_action.setChecked(False)
    assert "accomplished_peafowl" in panel.text.toPlainText()
