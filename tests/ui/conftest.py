"""GUI fixtures: the main window as `radlens` builds it, with isolated settings, and helpers to load and drop files."""

from __future__ import annotations

import pyqtgraph as pg
import pytest
from PySide6.QtCore import QMimeData, QPoint, QPointF, Qt, QUrl
from PySide6.QtGui import QDragEnterEvent, QDropEvent
from PySide6.QtWidgets import QApplication

from viewer.ui.app import build_window, protect_singletons
from viewer.ui.settings import Settings

# PySide6 6.12.0 drops a reference to True on every signal emit and to None on every void Qt
# call; without this a GUI test run there aborts with "bool_dealloc" / "none_dealloc" (exit
# 134). A no-op on the pinned, leak-free PySide6. See viewer/ui/app.py.
protect_singletons()

LOAD_TIMEOUT_MS = 60_000


@pytest.fixture
def make_window(qtbot):
    """`make_window(settings)`: a shown main window built as `radlens` builds it (every add-on
    installed: tools, tag browser, report export, AI assist). Closed after the test."""
    pg.setConfigOptions(imageAxisOrder="row-major")
    windows = []

    def make(settings: Settings | None = None):
        window = build_window(settings or Settings(auto_run_ai=False))
        windows.append(window)
        qtbot.addWidget(window)
        window.resize(1200, 800)
        window.show()
        qtbot.waitExposed(window)
        return window

    yield make
    for window in windows:
        window.close()
        assert not window.loader.thread_running()
        assert not window.ai.controller.runner.is_running()


@pytest.fixture
def main_window(make_window):
    """The `radlens` window with automatic analysis off (the model loads only when asked)."""
    return make_window()


def load(qtbot, window, paths) -> None:
    with qtbot.waitSignal(window.loader.finished, timeout=LOAD_TIMEOUT_MS):
        window.open_paths([str(p) for p in paths])


def drop_urls(window, paths) -> QDropEvent:
    """Send a real drag-enter and drop carrying file URLs to the window, as a file manager does."""
    mime = QMimeData()
    mime.setUrls([QUrl.fromLocalFile(str(p)) for p in paths])
    return send_drop(window, mime)


def send_drop(widget, mime: QMimeData) -> QDropEvent:
    """Drag-enter then drop `mime` at the widget's centre (Qt only drops on an accepted target)."""
    centre = QPoint(widget.width() // 2, widget.height() // 2)
    common = (
        Qt.DropAction.CopyAction,
        mime,
        Qt.MouseButton.LeftButton,
        Qt.KeyboardModifier.NoModifier,
    )
    enter = QDragEnterEvent(centre, *common)
    QApplication.sendEvent(widget, enter)
    assert enter.isAccepted(), "the widget refused the drag"
    drop = QDropEvent(QPointF(centre), *common)
    QApplication.sendEvent(widget, drop)
    return drop
