"""The main window's status bar: the probe readout (value under the cursor) on the left, the
loader's progress bar and its Cancel button on the right, shown only while it is busy."""

from __future__ import annotations

from PySide6.QtWidgets import QLabel, QProgressBar, QPushButton

PROGRESS_MAX_WIDTH = 480  # the loading progress bar grows to show its whole text, up to this
PROGRESS_PADDING = 40


class LoadStatus:
    def __init__(self, status_bar) -> None:
        self.probe_label = QLabel("")
        self.progress = QProgressBar()
        self.progress.setMaximumWidth(PROGRESS_MAX_WIDTH)
        self.cancel_button = QPushButton("Cancel")
        status_bar.addWidget(self.probe_label, 1)
        status_bar.addPermanentWidget(self.progress)
        status_bar.addPermanentWidget(self.cancel_button)
        self.show_progress(False)

    def connect(self, loader) -> None:
        loader.progress.connect(self.on_progress)
        loader.busyChanged.connect(self.show_progress)
        self.cancel_button.clicked.connect(loader.cancel)

    def on_probe(self, probe) -> None:
        self.probe_label.setText(probe.text() if probe is not None else "")

    def on_progress(self, stage: str, done: int, total: int) -> None:
        self.progress.setMaximum(max(total, 1))
        self.progress.setValue(done)
        self.progress.setFormat(f"{stage} %v/%m")
        whole = self.progress.fontMetrics().horizontalAdvance(f"{stage} {total}/{total}")
        self.progress.setMinimumWidth(min(whole + PROGRESS_PADDING, PROGRESS_MAX_WIDTH))

    def show_progress(self, busy: bool) -> None:
        self.progress.setVisible(busy)
        self.cancel_button.setVisible(busy)
