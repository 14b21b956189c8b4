"""File → Export report… in the real main window, on the bundled sample study (offscreen Qt)."""

from __future__ import annotations

import numpy as np
import pytest
from PySide6.QtWidgets import QMessageBox

from tests.report.conftest import pdf_text
from tests.ui.conftest import load, make_window  # noqa: F401 - the fixture is used by name
from tests.ui.long_series import peer_gap_ms
from tests.ui.test_ai_worker import analysis_model_dir
from viewer.core.formatting import percent
from viewer.core.voi import Window
from viewer.paths import sample_study_dir
from viewer.ui.inference_worker import EventLoopProbe
from viewer.ui.report_dialog import install_report_action, open_report_dialog
from viewer.ui.settings import Settings

pytestmark = pytest.mark.gui
RESULT_TIMEOUT_MS = 120_000
EXPORT_TIMEOUT_MS = 60_000
PEER_GAP_FACTOR = 10  # the export takes ~2 s; a frozen window would show a gap that long
CUSTOM_WINDOW = Window(center=90.0, width=120.0)


@pytest.fixture
def shown_radiograph(qtbot, make_window, tmp_path_factory, cxr_dir):  # noqa: F811
    """The `radlens` window (AI assist, report action), a radiograph on screen, analysed."""
    model_dir = analysis_model_dir(tmp_path_factory, cxr_dir)
    settings = Settings(model_name=str(model_dir), device="cpu", auto_run_ai=True)
    main_window = make_window(settings)
    installed = main_window.ai
    with qtbot.waitSignal(installed.controller.resultShown, timeout=RESULT_TIMEOUT_MS):
        load(qtbot, main_window, [sample_study_dir()])
        dx = [s.key for s in main_window.index.all_series() if s.modality == "DX"]
        main_window.show_series(dx[0])
    main_window.active_viewport().state.set_window(CUSTOM_WINDOW)
    return main_window, installed.controller.shown_result()


def export(qtbot, dialog) -> None:
    with qtbot.waitSignal(dialog.accepted, timeout=EXPORT_TIMEOUT_MS):
        dialog.export()


def test_action_is_in_the_file_menu_once_before_quit(shown_radiograph):
    window, _ = shown_radiograph
    assert install_report_action(window) is window.report_action
    actions = window.menu("File").actions()
    assert [a.text() for a in actions].count("Export report…") == 1
    quit_action = window.actions_by_name["quit"]
    assert actions.index(window.report_action) == actions.index(quit_action) - 1


def test_report_shows_the_displayed_image_and_the_shown_result(qtbot, shown_radiograph, tmp_path):
    window, result = shown_radiograph
    dialog = open_report_dialog(window)
    dialog.out.setText(str(tmp_path / "gui.pdf"))
    dialog.impression.setPlainText("Impression typed in the dialog.")
    dialog.paper.setCurrentText("Letter")
    dialog.dicom.setChecked(True)
    export(qtbot, dialog)
    text = " ".join(pdf_text(tmp_path / "gui.pdf").split())
    for finding in result.findings:
        assert f"{finding.label} {percent(finding.probability)}" in text
    assert "Impression typed in the dialog." in text and "W 120 / C 90" in text
    assert "RADLENS, DEMO" in text
    written = sorted(p.name[:3] for p in (tmp_path / "gui-dicom").glob("*.dcm"))
    assert written == ["SC_", "SEG", "SR_"]  # key image, heatmap SEG, TID 1500 report
    on_screen = window.active_viewport().displayed_image()
    assert np.array_equal(dialog.image.display, on_screen)


def test_anonymise_checkbox(qtbot, shown_radiograph, tmp_path):
    window, _ = shown_radiograph
    dialog = open_report_dialog(window)
    dialog.out.setText(str(tmp_path / "anon.pdf"))
    dialog.anonymize.setChecked(True)
    export(qtbot, dialog)
    text = pdf_text(tmp_path / "anon.pdf")
    assert "RADLENS" not in text and "DEMO-0001" not in text and "Anonymised report" in text


@pytest.mark.parametrize(
    ("answer", "replaced"),
    [(QMessageBox.StandardButton.No, False), (QMessageBox.StandardButton.Yes, True)],
)
def test_asks_before_overwriting(qtbot, shown_radiograph, tmp_path, monkeypatch, answer, replaced):
    window, _ = shown_radiograph
    target = tmp_path / "existing.pdf"
    target.write_bytes(b"keep me")
    asked = []
    monkeypatch.setattr(QMessageBox, "question", lambda *args, **kw: asked.append(args) or answer)
    dialog = open_report_dialog(window)
    dialog.out.setText(str(target))
    if replaced:
        export(qtbot, dialog)
    else:
        dialog.export()
        assert not window.report_exporter.is_busy()
    assert asked, "no question before replacing the file"
    assert target.read_bytes().startswith(b"%PDF-") is replaced
    assert dialog.result() == (1 if replaced else 0)


def test_export_runs_off_the_ui_thread(qtbot, shown_radiograph, tmp_path):
    window, result = shown_radiograph
    dialog = open_report_dialog(window)
    dialog.out.setText(str(tmp_path / "responsive.pdf"))
    dialog.dicom.setChecked(True)
    peer = peer_gap_ms(qtbot, 1000)  # the same machine, as busy as it is now
    probe = EventLoopProbe(interval_ms=5)
    probe.start()
    with qtbot.waitSignal(dialog.exported, timeout=EXPORT_TIMEOUT_MS) as done:
        dialog.export()
        assert window.report_exporter.is_busy() and not dialog.buttons.isEnabled()
    probe.stop()
    assert probe.ticks > 20, "the UI thread's timer barely ran during the export"
    gap = probe.max_gap_ms
    assert gap < PEER_GAP_FACTOR * peer, f"UI gap {gap:.0f} ms vs {peer:.0f} ms for the peer"
    assert done.args[0][0] == tmp_path / "responsive.pdf"
    assert str(tmp_path / "responsive.pdf") in window.statusBar().currentMessage()
    assert result.findings[0].label in pdf_text(tmp_path / "responsive.pdf")


def test_unwritable_target_reports_the_file_and_reason(qtbot, shown_radiograph, tmp_path):
    window, _ = shown_radiograph
    blocker = tmp_path / "not-a-folder"
    blocker.write_text("a file where the report's folder should be")
    target = blocker / "report.pdf"
    dialog = open_report_dialog(window)
    dialog.out.setText(str(target))
    with qtbot.waitSignal(dialog.exportFailed, timeout=EXPORT_TIMEOUT_MS) as failed:
        dialog.export()
    message = failed.args[0]
    assert str(target) in message and "Traceback" not in message and "RADLENS" not in message
    assert dialog.isVisible() and dialog.result() == 0 and dialog.buttons.isEnabled()
    assert not window.report_exporter.is_busy() and not target.exists()


def test_a_blocked_dicom_folder_is_refused_before_anything_is_written(
    qtbot, shown_radiograph, tmp_path
):
    window, _ = shown_radiograph
    (tmp_path / "r-dicom").write_text("a file where the DICOM folder should be")
    dialog = open_report_dialog(window)
    dialog.out.setText(str(tmp_path / "r.pdf"))
    dialog.dicom.setChecked(True)
    with qtbot.waitSignal(dialog.exportFailed, timeout=EXPORT_TIMEOUT_MS) as failed:
        dialog.export()
    message = failed.args[0]
    assert f"{tmp_path / 'r-dicom'}: is not a folder" in message, message
    assert ".radlens-" not in message and "File exists" not in message
    assert sorted(p.name for p in tmp_path.iterdir()) == ["r-dicom"]  # no PDF, no temp file


def test_closing_the_window_waits_for_a_running_export(qtbot, shown_radiograph, tmp_path):
    window, _ = shown_radiograph
    dialog = open_report_dialog(window)
    dialog.out.setText(str(tmp_path / "closing.pdf"))
    dialog.export()
    assert window.report_exporter.is_busy()
    window.close()
    assert not window.report_exporter.thread_running()
    assert (tmp_path / "closing.pdf").read_bytes().startswith(b"%PDF-")
