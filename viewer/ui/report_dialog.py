"""File → Export report…: a small dialog that gathers the reader's choices and runs the export.

The dialog only collects inputs (impression, paper, anonymise, DICOM, target file); the work is
`viewer.report.compose` (Qt-free). `install_report_action(main_window)` adds the menu action.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from PySide6.QtCore import Qt
from PySide6.QtGui import QAction, QGuiApplication
from PySide6.QtWidgets import (
    QCheckBox,
    QComboBox,
    QDialog,
    QDialogButtonBox,
    QFileDialog,
    QFormLayout,
    QHBoxLayout,
    QLineEdit,
    QMessageBox,
    QPlainTextEdit,
    QPushButton,
    QWidget,
)

from viewer.core.errors import RadLensError
from viewer.ui import shortcuts
from viewer.ui.errors import show_error

PAPERS = {"A4": "a4", "Letter": "letter"}


@dataclass(frozen=True)
class ReportChoices:
    out: Path
    impression: str = ""
    paper: str = "a4"
    anonymize: bool = False
    dicom: bool = False  # also write the AI result as DICOM SC + SR beside the PDF


@dataclass(frozen=True)
class ShownImage:
    """What the active viewport shows, and the AI result for it (if any)."""

    series: Any
    frame: int
    window: Any = None
    display: Any = None
    result: Any = None
    model: str | None = None  # the model setting (id or folder) that produced `result`


def export_report(image: ShownImage, choices: ReportChoices) -> list[Path]:
    """Write the PDF (and the DICOM objects if chosen); returns the files written."""
    from viewer.report.compose import Analysis, card_summary_for, compose_report, export_dicom
    from viewer.report.pdf import write_pdf

    analysis = None
    if image.result is not None:
        analysis = Analysis(image.result, card_summary_for(image.result, image.model))
    data = compose_report(
        image.series,
        image.frame,
        analysis,
        window=image.window,
        display=image.display,
        impression=choices.impression,
        anonymize=choices.anonymize,
    )
    written = [write_pdf(data, choices.out, choices.paper)]
    if choices.dicom:
        folder = choices.out.with_name(choices.out.stem + "-dicom")
        exported = export_dicom(image.series, image.frame, data, folder)
        written += [exported.sc_path, exported.sr_path]
    return written


class ReportDialog(QDialog):
    """Impression, paper, anonymise, DICOM and target file; Export asks before overwriting."""

    def __init__(self, image: ShownImage, default_out: Path, parent: QWidget | None = None):
        super().__init__(parent)
        self.setWindowTitle("Export report")
        self.image = image
        self.written: list[Path] = []
        self.impression = QPlainTextEdit()
        self.impression.setPlaceholderText("Reader's impression (printed in the report)")
        self.paper = QComboBox()
        self.paper.addItems(list(PAPERS))
        self.anonymize = QCheckBox("Anonymise (leave out patient and study identifiers)")
        self.dicom = QCheckBox("Also save the AI result as DICOM (Secondary Capture + SR)")
        self.dicom.setEnabled(image.result is not None)
        self.out = QLineEdit(str(default_out))
        self._build_layout()

    def _build_layout(self) -> None:
        browse = QPushButton("Browse…")
        browse.clicked.connect(self._browse)
        target = QHBoxLayout()
        target.addWidget(self.out, 1)
        target.addWidget(browse)
        buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Cancel)
        buttons.addButton("Export", QDialogButtonBox.ButtonRole.AcceptRole)
        buttons.accepted.connect(self.export)
        buttons.rejected.connect(self.reject)
        form = QFormLayout(self)
        form.addRow("Impression", self.impression)
        form.addRow("Paper", self.paper)
        form.addRow("", self.anonymize)
        form.addRow("", self.dicom)
        form.addRow("Save as", target)
        form.addRow(buttons)

    def choices(self) -> ReportChoices:
        return ReportChoices(
            out=Path(self.out.text().strip()).expanduser(),
            impression=self.impression.toPlainText(),
            paper=PAPERS[self.paper.currentText()],
            anonymize=self.anonymize.isChecked(),
            dicom=self.dicom.isChecked() and self.dicom.isEnabled(),
        )

    def _browse(self) -> None:
        path, _ = QFileDialog.getSaveFileName(self, "Save report", self.out.text(), "PDF (*.pdf)")
        if path:
            self.out.setText(path if path.lower().endswith(".pdf") else f"{path}.pdf")

    def confirm_overwrite(self, path: Path) -> bool:
        if not path.exists():
            return True
        answer = QMessageBox.question(
            self, "Replace file?", f"{path.name} already exists. Replace it?"
        )
        return answer == QMessageBox.StandardButton.Yes

    def export(self) -> None:
        """The Export button: validate, ask before overwriting, write, close on success."""
        choices = self.choices()
        if not choices.out.name or choices.out.is_dir():
            show_error(self, "Export report", "Choose a file name for the report.")
            return
        if not self.confirm_overwrite(choices.out):
            return
        QGuiApplication.setOverrideCursor(Qt.CursorShape.WaitCursor)
        try:
            self.written = export_report(self.image, choices)
        except (RadLensError, OSError, ValueError) as exc:
            show_error(self, "Export report", f"The report was not written: {exc}")
            return
        finally:
            QGuiApplication.restoreOverrideCursor()
        self.accept()


def shown_image(main_window) -> ShownImage | None:
    """The active viewport's image, window and on-screen pixels, with the AI result for it."""
    viewport = main_window.active_viewport()
    series = main_window.current_series()
    if series is None:
        return None
    ai = getattr(main_window, "ai", None)
    result = ai.controller.shown_result() if ai is not None else None
    return ShownImage(
        series=series,
        frame=main_window.current_frame_index(),
        window=getattr(viewport.state, "window", None),
        display=viewport.displayed_image(),
        result=result if result is not None and result.findings else None,
        model=getattr(main_window.settings, "model_name", None) or None,
    )


def default_report_path(main_window) -> Path:
    folder = Path(getattr(main_window.settings, "last_folder", "") or Path.home())
    return folder / "radlens-report.pdf"


def open_report_dialog(main_window) -> ReportDialog | None:
    image = shown_image(main_window)
    if image is None:
        main_window.statusBar().showMessage("Open an image first.", 5000)
        return None
    dialog = ReportDialog(image, default_report_path(main_window), main_window)
    dialog.accepted.connect(
        lambda: main_window.statusBar().showMessage(
            "Wrote " + ", ".join(p.name for p in dialog.written), 8000
        )
    )
    dialog.open()
    return dialog


def install_report_action(main_window) -> QAction:
    """Add File → Export report… (before Quit) to the main window; once only."""
    existing = getattr(main_window, "report_action", None)
    if existing is not None:
        return existing
    action = QAction("Export report…", main_window)
    action.setShortcut(shortcuts.key_for("export_report"))
    action.triggered.connect(lambda: open_report_dialog(main_window))
    quit_action = getattr(main_window, "actions_by_name", {}).get("quit")
    main_window.menu("File").insertAction(quit_action, action)  # appended when there is no Quit
    main_window.report_action = action
    return action
