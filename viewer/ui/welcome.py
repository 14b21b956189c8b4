"""The panel shown while nothing is open: open folder / files / sample, drop here, recent."""

from __future__ import annotations

from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import QLabel, QListWidget, QPushButton, QVBoxLayout, QWidget

from viewer import RESEARCH_USE_NOTICE


class WelcomePanel(QWidget):
    openFolderRequested = Signal()
    openFilesRequested = Signal()
    openSampleRequested = Signal()
    openRecentRequested = Signal(str)

    def __init__(self, parent=None) -> None:
        super().__init__(parent)
        self.setObjectName("welcome")
        title = QLabel("<h2>RadLens</h2>")
        hint = QLabel("Drop DICOM files, folders, .zip files or a DICOMDIR anywhere on this window")
        notice = QLabel(RESEARCH_USE_NOTICE)
        notice.setWordWrap(True)
        self.recent = QListWidget()
        self.recent.setMaximumHeight(140)
        self.recent.itemActivated.connect(lambda item: self.openRecentRequested.emit(item.text()))
        layout = QVBoxLayout(self)
        layout.addStretch(1)
        for widget in (title, hint):
            widget.setAlignment(Qt.AlignmentFlag.AlignCenter)
            layout.addWidget(widget)
        for name, text, signal in (
            ("open_folder", "Open folder…", self.openFolderRequested),
            ("open_files", "Open files…", self.openFilesRequested),
            ("open_sample", "Open the sample study", self.openSampleRequested),
        ):
            button = QPushButton(text)
            button.setObjectName(name)
            button.clicked.connect(signal.emit)
            layout.addWidget(button, 0, Qt.AlignmentFlag.AlignHCenter)
        layout.addWidget(QLabel("Recent:"), 0, Qt.AlignmentFlag.AlignHCenter)
        layout.addWidget(self.recent, 0, Qt.AlignmentFlag.AlignHCenter)
        layout.addWidget(notice, 0, Qt.AlignmentFlag.AlignHCenter)
        layout.addStretch(1)

    def set_recent(self, paths: list[str]) -> None:
        self.recent.clear()
        self.recent.addItems(paths)
