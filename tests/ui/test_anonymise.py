"""Anonymise on screen, switched on while a study is shown, hides every patient identifier at
once: corner overlays of every viewport, the study browser (rows, tooltips, details pane), the
DICOM tag browser (values and search) and every other text the window shows (titles, labels,
menus, status bar); switched off, they come back.

The study is real CT slices given identifiers the test chose, so each one can be looked for.
"""

from __future__ import annotations

import pydicom
import pytest
from pydicom.uid import generate_uid
from PySide6.QtWidgets import (
    QAbstractButton,
    QApplication,
    QDockWidget,
    QLabel,
    QLineEdit,
    QListWidget,
    QMenu,
    QPlainTextEdit,
    QTextEdit,
    QTreeWidget,
    QTreeWidgetItemIterator,
)

from tests.ui.conftest import load

pytestmark = pytest.mark.gui

IDENTIFIERS = {
    "PatientName": "Lindqvist^Marta",
    "PatientID": "RL-470815",
    "PatientBirthDate": "19610423",
    "StudyDate": "20240117",
    "SeriesDate": "20240117",
    "AcquisitionDate": "20240117",
    "ContentDate": "20240117",
    "AccessionNumber": "ACC-99127",
    "InstitutionName": "Sankt Gertrud Klinik",
    "ReferringPhysicianName": "Okafor^Chidi",
}
# What could reveal them on screen: raw values and the ways the UI formats them.
LEAKS = ("Lindqvist", "Marta", "RL-470815", "19610423", "1961-04-23", "20240117", "2024-01-17")
LEAKS += ("ACC-99127", "Sankt Gertrud", "Okafor")


@pytest.fixture
def identified_study(ct_phantom_dir, tmp_path):
    """Four real CT slices (two series) carrying the identifiers above, in a folder named after
    the patient (as exports from many systems are): File → Recent must not show it either."""
    sources = sorted(p for p in ct_phantom_dir.iterdir() if p.is_file())[:4]
    study_uid = generate_uid()
    series_uids = [generate_uid(), generate_uid()]
    folder = tmp_path / "Lindqvist_Marta_CT"
    folder.mkdir()
    for number, source in enumerate(sources):
        ds = pydicom.dcmread(source)
        for keyword, value in IDENTIFIERS.items():
            setattr(ds, keyword, value)
        ds.StudyInstanceUID = study_uid
        ds.SeriesInstanceUID = series_uids[number % 2]
        ds.SeriesNumber = 1 + number % 2
        ds.SOPInstanceUID = ds.file_meta.MediaStorageSOPInstanceUID = generate_uid()
        ds.save_as(folder / f"image{number}.dcm")
    return folder


def shown_texts(window) -> list[str]:
    """Every text the window draws: widgets, tree rows and tooltips, menus, titles, the
    viewports' corner overlays and edge letters."""
    texts = [window.windowTitle(), window.statusBar().currentMessage()]
    for widget in window.findChildren(QLabel):
        texts += [widget.text(), widget.toolTip()]
    for widget in window.findChildren(QTextEdit) + window.findChildren(QPlainTextEdit):
        texts.append(widget.toPlainText())
    for widget in window.findChildren(QLineEdit):
        texts.append(widget.text())
    for widget in window.findChildren(QAbstractButton):
        texts += [widget.text(), widget.toolTip()]
    for dock in window.findChildren(QDockWidget):
        texts.append(dock.windowTitle())
    for widget in window.findChildren(QListWidget):
        texts += [widget.item(row).text() for row in range(widget.count())]
    for menu in window.findChildren(QMenu):
        texts += [menu.title()] + [action.text() for action in menu.actions()]
    for tree in window.findChildren(QTreeWidget):
        iterator = QTreeWidgetItemIterator(tree)
        while iterator.value():
            item = iterator.value()
            for column in range(tree.columnCount()):
                texts += [item.text(column), item.toolTip(column)]
            iterator += 1
    for viewport in window.grid.viewports:
        overlay = viewport.overlay.text
        corners = (overlay.top_left, overlay.top_right, overlay.bottom_left, overlay.bottom_right)
        texts += [line for lines in corners for line in lines] + list(overlay.edges.values())
    return texts


def leaks(window, but: tuple[str, ...] = ()) -> set[str]:
    """Identifiers found in what the window shows (texts equal to one in `but` left out)."""
    everything = "\n".join(t for t in shown_texts(window) if t not in but)
    return {identifier for identifier in LEAKS if identifier in everything}


@pytest.fixture
def study_on_screen(qtbot, main_window, identified_study):
    """Two series in a 2×2 layout, the second one selected, tag browser open."""
    window = main_window
    window.set_layout("2x2")
    load(qtbot, window, [identified_study])
    keys = window.browser.series_keys()
    assert len(keys) == 2
    window.show_series(keys[1], window.viewports()[1])
    qtbot.waitUntil(lambda: window.viewports()[1].series() is not None, timeout=30_000)
    tags = window.measurements.tag_browser
    tags.dock.show()
    qtbot.waitUntil(lambda: tags.browser.tree.topLevelItemCount() > 0, timeout=5000)
    qtbot.wait(50)  # the corner text and browser details follow one event-loop pass later
    return window


def _switch(window, anonymise: bool) -> None:
    window.anonymise_action.setChecked(anonymise)
    QApplication.processEvents()  # one pass of the event loop, no waiting for anything


def test_switching_on_hides_every_identifier_at_once_and_off_brings_them_back(
    qtbot, study_on_screen
):
    window = study_on_screen
    before = leaks(window)
    # Sanity: the places under test do show the identifiers while anonymise is off.
    assert {"Lindqvist", "RL-470815", "ACC-99127", "Okafor", "Sankt Gertrud"} <= before
    assert {"19610423", "2024-01-17"} <= before

    _switch(window, True)
    assert leaks(window) == set()
    assert window.settings.anonymise

    _switch(window, False)
    assert leaks(window) == before


def test_each_place_follows_the_setting(qtbot, study_on_screen):
    window = study_on_screen
    details = window.browser.details
    tags = window.measurements.tag_browser.browser
    assert "Lindqvist" in details.toPlainText() and "ACC-99127" in details.toPlainText()
    _switch(window, True)

    text = details.toPlainText()
    assert text, "the details pane still describes the selected series"
    assert not any(identifier in text for identifier in LEAKS)
    patient_row = window.browser.tree.topLevelItem(0)
    assert "Lindqvist" not in patient_row.text(0) and "RL-470815" not in patient_row.text(0)
    for viewport in window.viewports()[:2]:
        assert viewport.series() is not None
        top_left = "\n".join(viewport.overlay.text.top_left)
        assert "Anonymised" in top_left and "Lindqvist" not in top_left
        assert "2024-01-17" not in "\n".join(viewport.overlay.text.top_right)
    assert "Sankt Gertrud" not in "\n".join(tags.tree.topLevelItem(i).text(3) for i in range(5))
    values = "\n".join(shown_texts(window))
    for keyword in ("PatientName", "PatientID", "PatientBirthDate", "AccessionNumber"):
        assert keyword in values  # the row stays, its value does not
    tags.search.setText("Lindqvist")
    tags.apply_filter(tags.search.text())
    assert tags.visible_tags() == [], "a search must not find a hidden value"
    assert "image" not in tags.caption.text(), "file names can carry a patient's name"


def test_the_details_pane_empties_with_the_browser(qtbot, study_on_screen, tmp_path):
    window = study_on_screen
    assert "Lindqvist" in window.browser.details.toPlainText()
    empty = tmp_path / "empty"
    empty.mkdir()
    load(qtbot, window, [empty])
    assert window.browser.series_keys() == []
    assert window.browser.details.toPlainText() == ""
    QApplication.processEvents()  # the viewports' corner text follows in the next pass
    recent = tuple(action.text() for action in window.recent_menu.actions())
    assert not leaks(window, but=recent)  # Recent still lists the folder: anonymise is off


def test_the_report_dialog_starts_anonymised_when_the_screen_is(qtbot, study_on_screen):
    from viewer.ui.report_dialog import open_report_dialog

    window = study_on_screen
    plain = open_report_dialog(window)
    assert not plain.anonymize.isChecked()
    plain.reject()
    _switch(window, True)
    anonymised = open_report_dialog(window)
    assert anonymised.anonymize.isChecked()
    anonymised.reject()
