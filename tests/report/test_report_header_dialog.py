"""File → Export report…: the report's header fields, the default target and the view PNG
export, in the real main window on the bundled sample study (offscreen Qt)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from PIL import Image
from pypdf import PdfReader
from PySide6.QtWidgets import QMessageBox

import viewer
from tests.report.test_report_dialog import export, shown_radiograph  # noqa: F401 - fixtures
from tests.ui.conftest import load, make_window  # noqa: F401 - the fixtures are used by name
from viewer.ui.report_dialog import default_report_path, documents_folder, open_report_dialog
from viewer.ui.viewport import export_view_png

pytestmark = pytest.mark.gui


def test_header_fields_reach_the_report_and_are_remembered(
    qtbot,
    shown_radiograph,  # noqa: F811
    tmp_path,
):
    window, _ = shown_radiograph
    dialog = open_report_dialog(window)
    dialog.out.setText(str(tmp_path / "signed.pdf"))
    dialog.institution.setText("St. Elsewhere Radiology")
    dialog.indication.setText("Fever and cough for 3 days.")
    dialog.status.setCurrentText("Final")
    dialog.reader.setText("Dr. Ana Reader")
    dialog.appendix.setChecked(True)
    export(qtbot, dialog)
    pages = [" ".join(p.extract_text().split()) for p in PdfReader(tmp_path / "signed.pdf").pages]
    first = pages[0]
    for expected in ("St. Elsewhere Radiology", "FINAL", "Fever and cough for 3 days."):
        assert expected in first
    assert "Reader: Dr. Ana Reader" in first and "Signed 20" in first
    assert len(pages) >= 2 and "Appendix: model card" in pages[1]
    settings = window.settings
    assert (settings.report_institution, settings.report_reader) == (
        "St. Elsewhere Radiology",
        "Dr. Ana Reader",
    )
    assert settings.report_folder == str(tmp_path)
    again = open_report_dialog(window)
    assert again.reader.text() == "Dr. Ana Reader"
    assert again.institution.text() == "St. Elsewhere Radiology"
    assert Path(again.out.text()) == tmp_path / "radlens-report.pdf"
    again.reject()


def test_a_final_report_without_a_reader_is_refused(
    qtbot,
    shown_radiograph,  # noqa: F811
    tmp_path,
):
    window, _ = shown_radiograph
    dialog = open_report_dialog(window)
    dialog.out.setText(str(tmp_path / "unsigned.pdf"))
    dialog.status.setCurrentText("Final")
    dialog.reader.setText("  ")
    dialog.export()
    assert not window.report_exporter.is_busy() and dialog.job is None
    shown = [box.text() for box in dialog.findChildren(QMessageBox)]
    assert "A final report needs the reader's name." in shown
    assert not (tmp_path / "unsigned.pdf").exists()


def test_default_target_is_the_documents_folder_never_the_study_folder(
    shown_radiograph,  # noqa: F811
    tmp_path,
    monkeypatch,
):
    window, _ = shown_radiograph
    home = tmp_path / "home"
    (home / "Documents").mkdir(parents=True)
    monkeypatch.setenv("HOME", str(home))
    monkeypatch.setenv("XDG_CONFIG_HOME", str(home / ".config"))
    documents = documents_folder()
    assert documents.resolve() in ((home / "Documents").resolve(), home.resolve())
    window.settings.report_folder = ""
    assert default_report_path(window) == documents / "radlens-report.pdf"
    (documents / "radlens-report.pdf").write_bytes(b"%PDF- an earlier one")
    assert default_report_path(window) == documents / "radlens-report-2.pdf"
    study = Path(window.current_series().info.frames[0].path).parent
    for refused in (study, Path(viewer.__file__).parent):
        window.settings.report_folder = str(refused)
        assert default_report_path(window).parent == documents


def test_view_png_with_a_heatmap_carries_the_colour_bar_and_research_line(
    shown_radiograph,  # noqa: F811
    tmp_path,
):
    """File → Export view as PNG: the heatmap's colour bar and the research-use line go with it."""
    window, _ = shown_radiograph
    viewport = window.active_viewport()
    assert viewport.heatmap_shown()
    grabbed = viewport.export_image(True)
    with_heatmap = Image.open(export_view_png(viewport, tmp_path / "heat.png"))
    assert with_heatmap.width > grabbed.width() and with_heatmap.height > grabbed.height()
    strip = np.asarray(with_heatmap.convert("RGB"))[grabbed.height() :, : grabbed.width()]
    assert (strip == 0).mean() > 0.5 and (strip > 200).any(), "no research-use line"
    window.ai.controller.overlay.set_shown(False)
    assert not viewport.heatmap_shown()
    plain = Image.open(export_view_png(viewport, tmp_path / "plain.png"))
    assert plain.size == (grabbed.width(), grabbed.height())
