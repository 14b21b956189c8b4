"""The panel shown while nothing is open: open folder / files / sample, drop here, recent."""

from __future__ import annotations

from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import (
    QLabel,
    QListWidget,
    QListWidgetItem,
    QPushButton,
    QVBoxLayout,
    QWidget,
)

from viewer import RESEARCH_USE_NOTICE

COLUMN_WIDTH = 480
DROP_HINT = "Drop DICOM files, folders, .zip files or a DICOMDIR anywhere on this window."


def _centred_label(text: str) -> QLabel:
    label = QLabel(text)
    label.setWordWrap(True)
    label.setAlignment(Qt.AlignmentFlag.AlignCenter)
    return label


class WelcomePanel(QWidget):
    openFolderRequested = Signal()
    openFilesRequested = Signal()
    openSampleRequested = Signal()
    openRecentRequested = Signal(str)

    def __init__(self, parent=None) -> None:
        super().__init__(parent)
        self.setObjectName("welcome")
        self.recent = QListWidget()
        self.recent.setMaximumHeight(140)
        self.recent.itemActivated.connect(
            lambda item: self.openRecentRequested.emit(item.data(Qt.ItemDataRole.UserRole))
        )
        column = QWidget()
        column.setFixedWidth(COLUMN_WIDTH)
        inner = QVBoxLayout(column)
        inner.addWidget(_centred_label("<h2>RadLens</h2>"))
        inner.addWidget(_centred_label(DROP_HINT))
        for name, text, signal in (
            ("open_folder", "Open folder…", self.openFolderRequested),
            ("open_files", "Open files…", self.openFilesRequested),
            ("open_sample", "Open the sample study", self.openSampleRequested),
        ):
            button = QPushButton(text)
            button.setObjectName(name)
            button.clicked.connect(signal.emit)
            inner.addWidget(button)
        inner.addWidget(QLabel("Recent:"))
        inner.addWidget(self.recent)
        inner.addWidget(_centred_label(RESEARCH_USE_NOTICE))
        outer = QVBoxLayout(self)
        outer.addStretch(1)
        outer.addWidget(column, 0, Qt.AlignmentFlag.AlignHCenter)
        outer.addStretch(1)

    def set_recent(self, paths: list[str], labels: list[str]) -> None:
        """`labels` are what is shown (folder names can name a patient); `paths` are opened."""
        self.recent.clear()
        for path, label in zip(paths, labels, strict=True):
            item = QListWidgetItem(label)
            item.setData(Qt.ItemDataRole.UserRole, path)
            self.recent.addItem(item)
