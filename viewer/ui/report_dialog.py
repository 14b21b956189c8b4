"""File → Export report…: a small dialog that gathers the reader's choices and runs the export.

The dialog only collects inputs (institution, clinical indication, impression, status, reader,
paper, anonymise, model card appendix, DICOM, target file) on the UI thread, asks before
overwriting, and hands an immutable `ExportJob` to the window's `ReportExporter`: its
`TaskRunner` thread (`viewer/ui/tasks.py`) runs the Qt-free `viewer.report`
calls and answers by signal, so the window keeps repainting during the ~2 s export. Closing the
window waits for a running or queued export to finish.
`install_report_action(main_window)` adds the menu action.

The report goes by default into the user's documents folder (or the folder last used for a
report), never into the installation or the study's own folder; institution, reader, paper and
folder are remembered in the settings after each export.
"""

from __future__ import annotations

import sys
from collections.abc import Callable, Iterable
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import numpy as np
from PySide6.QtCore import QObject, QStandardPaths, Signal, Slot
from PySide6.QtGui import QAction
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

import viewer
from viewer.core.atomic import OutputTargetError, check_output_file, check_output_folder
from viewer.core.errors import RadLensError
from viewer.ui import shortcuts
from viewer.ui.addons import ANALYSIS, REPORT_ACTION, REPORT_EXPORTER
from viewer.ui.errors import log_exception, show_error
from viewer.ui.tasks import TaskRunner

PAPERS = {"A4": "a4", "Letter": "letter"}
STATUSES = {"Preliminary": "preliminary", "Final": "final"}
REPORT_NAME = "radlens-report"


@dataclass(frozen=True)
class ReportChoices:
    out: Path
    impression: str = ""
    paper: str = "a4"
    anonymize: bool = False
    dicom: bool = False  # also write the AI result as DICOM SC + SR beside the PDF
    indication: str = ""
    institution: str = ""
    reader: str = ""
    status: str = "preliminary"
    appendix: bool = False  # the full model card on an appendix page


@dataclass(frozen=True)
class ShownImage:
    """What the active viewport shows, and the AI result for it (if any)."""

    series: Any
    frame: int
    window: Any = None
    display: Any = None
    result: Any = None
    model: str | None = None  # the model setting (id or folder) that produced `result`
    overlay_planes: bool = True  # the file's overlay planes drawn, as View → Show overlay planes


@dataclass(frozen=True)
class ExportJob:
    """Everything one export needs, gathered on the UI thread; the worker reads nothing else."""

    image: ShownImage
    choices: ReportChoices


def _ignore(*_args: object) -> None:
    pass


def export_report(
    image: ShownImage, choices: ReportChoices, progress: Callable[[str], None] = _ignore
) -> list[Path]:
    """Write the PDF (and the DICOM objects if chosen); returns the files written. Qt-free."""
    from viewer.core.atomic import write_all_or_nothing
    from viewer.report.compose import Analysis, card_summary_for, compose_report, report_parts
    from viewer.report.report_data import report_header

    header = report_header(choices.institution, choices.indication, choices.status, choices.reader)
    check_output_file(choices.out)  # before any work: a bad target fails first, named
    if choices.dicom:
        check_output_folder(dicom_folder(choices.out))
    progress("Composing the report…")
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
        overlay_planes=image.overlay_planes,
        header=header,
        appendix=choices.appendix,
    )
    dicom_dir = dicom_folder(choices.out) if choices.dicom else None
    parts = report_parts(
        image.series, image.frame, data, choices.out, choices.paper, dicom_dir, image.result
    )
    progress(f"Writing {choices.out.name}" + (" and its DICOM objects…" if dicom_dir else "…"))
    return write_all_or_nothing(parts)  # the PDF and the DICOM objects, all or none


def dicom_folder(out: Path) -> Path:
    """Where the DICOM SC + SR go: a folder beside the PDF, named after it."""
    return out.with_name(out.stem + "-dicom")


def failure_message(out: Path, exc: BaseException) -> str:
    """`file: reason` for the dialog; no traceback."""
    if isinstance(exc, OutputTargetError):
        reason = exc.reason if exc.target == str(out) else str(exc)
    elif isinstance(exc, OSError) and exc.strerror:
        named_other = exc.filename is not None and str(exc.filename) != str(out)
        reason = f"{exc.strerror} ({exc.filename})" if named_other else exc.strerror
    elif isinstance(exc, (RadLensError, OSError, ValueError)):
        reason = str(exc)
    else:
        reason = f"unexpected {type(exc).__name__}: {exc}"
    return f"The report was not written to {out}: {reason}"


def warm_up_report_code() -> None:
    """Import the report code and parse highdicom's standard tables ahead of the first export.

    highdicom parses its JSON tables (22 MB) once per process in C, holding the GIL for
    0.4–0.8 s, and the imports take 1–2 s more. Done on the export thread when the report
    dialog first opens (while the user reads it), not at start-up or after a load, where it
    would pause the first image and the first analysis; a session that exports nothing never
    pays it.
    """
    from highdicom import _standard_utils as tables  # private; if renamed, the first export pays

    import viewer.report.compose
    import viewer.report.pdf  # noqa: F401

    for name in (
        "get_sop_class_iod_map",
        "get_iod_module_map",
        "get_module_attribute_map",
        "get_anatomic_region_map",
    ):
        getattr(tables, name, _ignore)()


def warm_up_quietly(_context) -> None:
    try:
        warm_up_report_code()
    except Exception as exc:  # noqa: BLE001 - only a head start; the export reports errors
        log_exception(exc, "report warm-up failed")


def export_failed(job: ExportJob, exc: BaseException) -> str:
    log_exception(exc, "report export failed")  # type and code lines, no paths or names
    return failure_message(job.choices.out, exc)


class ReportExporter(QObject):
    """UI side: one export at a time on the window's `TaskRunner` thread, results by signal."""

    progress = Signal(object, str)
    finished = Signal(object, object)
    failed = Signal(object, str)
    busyChanged = Signal(bool)

    def __init__(self, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self._job: ExportJob | None = None
        self._closed = False
        self._warming = False
        self.runner = TaskRunner("report", self)

    def warm_up(self) -> None:
        """Queue the report code's warm-up on the export thread (once; see warm_up_report_code)."""
        if not (self._warming or self._closed):
            self._warming = True
            self.runner.submit(warm_up_quietly)

    def start(self, job: ExportJob) -> bool:
        """Queue `job` on the export thread; False when one is running or the window closed."""
        if self._job is not None or self._closed:
            return False
        self._job = job
        self.busyChanged.emit(True)
        self.runner.submit(
            lambda context: tuple(export_report(job.image, job.choices, context.post)),
            on_post=lambda text: self.progress.emit(job, text),
            on_done=lambda written: self._finish(job, written),
            on_failed=lambda exc: self._fail(job, exc),
        )
        return True

    def is_busy(self) -> bool:
        return self._job is not None

    def thread_running(self) -> bool:
        return self.runner.is_running()

    def shutdown(self) -> None:
        """Let a running or queued export finish (never leave half a report), then stop;
        safe twice."""
        self._closed = True
        self.runner.shutdown(finish_queued=True)

    def _finish(self, job: ExportJob, written: tuple[Path, ...]) -> None:
        if self._settle(job):
            self.finished.emit(job, written)

    def _fail(self, job: ExportJob, exc: BaseException) -> None:
        if self._settle(job):
            self.failed.emit(job, export_failed(job, exc))

    def _settle(self, job: ExportJob) -> bool:
        if job is not self._job:
            return False
        self._job = None
        self.busyChanged.emit(False)
        return True


class ReportDialog(QDialog):
    """The report's header fields, impression, paper, anonymise, appendix, DICOM and target
    file; Export asks before overwriting and refuses a final report without a reader."""

    exported = Signal(object)  # tuple[Path, ...] written
    exportFailed = Signal(str)  # the message shown (file + reason)

    def __init__(
        self,
        image: ShownImage,
        default_out: Path,
        exporter: ReportExporter,
        parent: QWidget | None = None,
        settings: Any = None,
    ):
        super().__init__(parent)
        self.setWindowTitle("Export report")
        self.image = image
        self.exporter = exporter
        # the window's settings by default: institution, reader, paper and folder come from there
        self.settings = settings if settings is not None else getattr(parent, "settings", None)
        settings = self.settings
        self.job: ExportJob | None = None
        self.written: list[Path] = []
        self.institution = QLineEdit(getattr(settings, "report_institution", ""))
        self.institution.setPlaceholderText("Printed at the top (default: the study's)")
        self.indication = QLineEdit()
        self.indication.setPlaceholderText("Why the exam was asked, e.g. fever and cough")
        self.impression = QPlainTextEdit()
        self.impression.setPlaceholderText("Reader's impression (printed in the report)")
        self.status = QComboBox()
        self.status.addItems(list(STATUSES))
        self.reader = QLineEdit(getattr(settings, "report_reader", ""))
        self.reader.setPlaceholderText("Your name, printed on the signature line")
        self.paper = QComboBox()
        self.paper.addItems(list(PAPERS))
        paper = getattr(settings, "report_paper", "a4")
        self.paper.setCurrentText(next((k for k, v in PAPERS.items() if v == paper), "A4"))
        self.anonymize = QCheckBox("Anonymise (no names, IDs, dates or institution)")
        self.appendix = QCheckBox("Include the full model card (appendix page)")
        self.appendix.setEnabled(image.result is not None)
        self.dicom = QCheckBox(
            "Also save the AI result as DICOM (Secondary Capture, SR, heatmap SEG)"
        )
        self.dicom.setEnabled(image.result is not None)
        self.out = QLineEdit(str(default_out))
        self._build_layout()

    def _build_layout(self) -> None:
        browse = QPushButton("Browse…")
        browse.clicked.connect(self._browse)
        target = QHBoxLayout()
        target.addWidget(self.out, 1)
        target.addWidget(browse)
        self.buttons = buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Cancel)
        buttons.addButton("Export", QDialogButtonBox.ButtonRole.AcceptRole)
        buttons.accepted.connect(self.export)
        buttons.rejected.connect(self.reject)
        form = QFormLayout(self)
        form.addRow("Institution", self.institution)
        form.addRow("Clinical indication", self.indication)
        form.addRow("Impression", self.impression)
        form.addRow("Status", self.status)
        form.addRow("Reader", self.reader)
        form.addRow("Paper", self.paper)
        form.addRow("", self.anonymize)
        form.addRow("", self.appendix)
        form.addRow("", self.dicom)
        form.addRow("Save as", target)
        form.addRow(buttons)

    def choices(self) -> ReportChoices:
        with_result = self.image.result is not None
        return ReportChoices(
            out=Path(self.out.text().strip()).expanduser(),
            impression=self.impression.toPlainText(),
            paper=PAPERS[self.paper.currentText()],
            anonymize=self.anonymize.isChecked(),
            dicom=self.dicom.isChecked() and with_result,
            indication=self.indication.text(),
            institution=self.institution.text(),
            reader=self.reader.text(),
            status=STATUSES[self.status.currentText()],
            appendix=self.appendix.isChecked() and with_result,
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
        """The Export button: validate, ask before overwriting, then start the background export."""
        if self.job is not None:
            return
        choices = self.choices()
        if not choices.out.name or choices.out.is_dir():
            show_error(self, "Export report", "Choose a file name for the report.")
            return
        if choices.status == "final" and not choices.reader.strip():
            show_error(self, "Export report", "A final report needs the reader's name.")
            self.reader.setFocus()
            return
        if not self.confirm_overwrite(choices.out):
            return
        job = ExportJob(frozen_copy(self.image), choices)
        if not self.exporter.start(job):
            show_error(self, "Export report", "Another report is still being written; try again.")
            return
        self.job = job
        self.exporter.finished.connect(self._on_finished)
        self.exporter.failed.connect(self._on_failed)
        self._set_inputs_enabled(False)

    def reject(self) -> None:
        if self.job is None:  # the export cannot be stopped halfway; the dialog waits for it
            super().reject()

    def _set_inputs_enabled(self, enabled: bool) -> None:
        inputs = (self.institution, self.indication, self.impression, self.status, self.reader)
        for widget in (*inputs, self.paper, self.anonymize, self.out, self.buttons):
            widget.setEnabled(enabled)
        self.dicom.setEnabled(enabled and self.image.result is not None)
        self.appendix.setEnabled(enabled and self.image.result is not None)

    @Slot(object, object)
    def _on_finished(self, job: ExportJob, written: tuple[Path, ...]) -> None:
        if self._settle(job):
            self.written = list(written)
            remember_choices(self.settings, job.choices)
            self.exported.emit(written)
            self.accept()

    @Slot(object, str)
    def _on_failed(self, job: ExportJob, message: str) -> None:
        if self._settle(job):
            self._set_inputs_enabled(True)
            show_error(self, "Export report", message)
            self.exportFailed.emit(message)

    def _settle(self, job: ExportJob) -> bool:
        if job is not self.job:
            return False
        self.job = None
        self.exporter.finished.disconnect(self._on_finished)
        self.exporter.failed.disconnect(self._on_failed)
        return True


def frozen_copy(image: ShownImage) -> ShownImage:
    """The on-screen pixels copied, so the viewport can move on while the worker reads them."""
    display = None if image.display is None else np.array(image.display, copy=True)
    return replace(image, display=display)


def shown_image(main_window) -> ShownImage | None:
    """The active viewport's image, window and on-screen pixels, with the AI result for it."""
    viewport = main_window.active_viewport()
    series = main_window.current_series()
    if series is None:
        return None
    analysis = main_window.addons.get(ANALYSIS)
    result = analysis.shown_result() if analysis is not None else None
    return ShownImage(
        series=series,
        frame=main_window.current_frame_index(),
        window=getattr(viewport.state, "window", None),
        display=viewport.displayed_image(),
        result=result if result is not None and result.findings else None,
        model=getattr(main_window.settings, "model_name", None) or None,
        overlay_planes=main_window.overlay_planes.shown(),
    )


def remember_choices(settings: Any, choices: ReportChoices) -> None:
    """Institution, reader, paper and folder for the next report (saved with the settings)."""
    if settings is None:
        return
    settings.report_institution = choices.institution.strip()
    settings.report_reader = choices.reader.strip()
    settings.report_paper = choices.paper
    settings.report_folder = str(choices.out.parent)


def documents_folder() -> Path:
    """The user's documents folder (Qt's answer for this platform), else the home folder."""
    location = QStandardPaths.writableLocation(QStandardPaths.StandardLocation.DocumentsLocation)
    folder = Path(location) if location else Path.home()
    return folder if folder.is_dir() else Path.home()


def installation_folders() -> list[Path]:
    """Where RadLens and its Python live: never a place for a report."""
    package = Path(viewer.__file__).resolve().parent
    return [package.parent, Path(sys.prefix).resolve(), Path(sys.executable).resolve().parent]


def study_folders(series: Any) -> list[Path]:
    """The folders the shown series was read from."""
    frames = getattr(getattr(series, "info", None), "frames", ()) or ()
    return sorted({Path(frame.path).resolve().parent for frame in frames})


def is_inside(folder: Path, others: Iterable[Path]) -> bool:
    folder = folder.resolve()
    return any(folder == other or other in folder.parents for other in others)


def report_folder(settings: Any, series: Any) -> Path:
    """The folder last used for a report, if it still exists and is neither in the study's
    own folder nor in the installation; else the documents folder."""
    remembered = getattr(settings, "report_folder", "") or ""
    forbidden = [*study_folders(series), *installation_folders()]
    if remembered and Path(remembered).is_dir() and not is_inside(Path(remembered), forbidden):
        return Path(remembered)
    return documents_folder()


def free_report_path(folder: Path) -> Path:
    """radlens-report.pdf, else radlens-report-2.pdf, … (no patient data in the name)."""
    candidate, number = folder / f"{REPORT_NAME}.pdf", 2
    while candidate.exists():
        candidate, number = folder / f"{REPORT_NAME}-{number}.pdf", number + 1
    return candidate


def default_report_path(main_window) -> Path:
    settings = getattr(main_window, "settings", None)
    return free_report_path(report_folder(settings, main_window.current_series()))


def report_exporter(main_window) -> ReportExporter:
    """The window's export thread: progress in the status bar, stopped when the window closes."""
    exporter = main_window.addons.get(REPORT_EXPORTER)
    if exporter is None:
        exporter = ReportExporter(main_window)
        status = main_window.statusBar()
        exporter.progress.connect(lambda _job, text: status.showMessage(text))
        exporter.finished.connect(
            lambda _job, written: status.showMessage(wrote_message(written), 8000)
        )
        exporter.failed.connect(
            lambda _job, _message: status.showMessage("Report not written.", 8000)
        )
        main_window.aboutToClose.connect(exporter.shutdown)
        main_window.addons.register(REPORT_EXPORTER, exporter)
    return exporter


def wrote_message(written: tuple[Path, ...]) -> str:
    return "Wrote " + ", ".join(str(p) for p in written)


def open_report_dialog(main_window) -> ReportDialog | None:
    image = shown_image(main_window)
    if image is None:
        main_window.statusBar().showMessage("Open an image first.", 5000)
        return None
    exporter = report_exporter(main_window)
    exporter.warm_up()  # once per window, on the export thread
    dialog = ReportDialog(image, default_report_path(main_window), exporter, main_window)
    dialog.anonymize.setChecked(bool(main_window.settings.anonymise))  # as on screen, to start
    dialog.open()
    return dialog


def install_report_action(main_window) -> QAction:
    """Add File → Export report… (before Quit) to the main window; once only."""
    existing = main_window.addons.get(REPORT_ACTION)
    if existing is not None:
        return existing
    action = QAction("Export report…", main_window)
    action.setShortcut(shortcuts.key_for("export_report"))
    action.triggered.connect(lambda: open_report_dialog(main_window))
    quit_action = getattr(main_window, "actions_by_name", {}).get("quit")
    main_window.menu("File").insertAction(quit_action, action)  # appended when there is no Quit
    report_exporter(main_window)
    main_window.addons.register(REPORT_ACTION, action)
    return action
