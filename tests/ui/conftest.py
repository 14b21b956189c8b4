"""GUI fixtures: the main window as `radlens` builds it, with isolated settings, and helpers to load and drop files."""

from __future__ import annotations

import os

import pyqtgraph as pg
import pytest
from PySide6.QtCore import QMimeData, QPoint, QPointF, Qt, QUrl
from PySide6.QtGui import QDragEnterEvent, QDropEvent, QMouseEvent
from PySide6.QtWidgets import QApplication

from viewer.ui.app import build_window, protect_singletons
from viewer.ui.report_dialog import warm_up_report_code
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
    # The window warms the report code up on its export thread when the report dialog first
    # opens; highdicom's table parse holds the interpreter lock ~0.6 s there (once per process).
    # Done here first, so a test that measures the UI thread measures what it is about.
    warm_up_report_code()
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


def send_mouse(widget, kind, pos, button, buttons) -> None:
    """Send a real mouse event of `kind` (press, move, release) at `pos` in widget coordinates."""
    event = QMouseEvent(
        kind, QPointF(pos), QPointF(widget.mapToGlobal(pos)), button, buttons,
        Qt.KeyboardModifier.NoModifier,
    )  # fmt: skip
    QApplication.sendEvent(widget, event)


@pytest.fixture
def ui_thread_work(monkeypatch):
    """Records, per kind, the names of the threads that did work the UI thread must never do:
    `io` opening a file under a folder listed in `.watch`, `header` reading a DICOM header
    (`pydicom.dcmread`), `inflate` (zlib), `decode` (decoding a stored frame). The real
    functions run; they are only observed."""
    import builtins
    import threading
    import zlib

    import pydicom

    import viewer.core.series as series_module

    class Record(dict):
        watch: list[str] = []

        def ui_thread_did(self) -> dict[str, int]:
            main = threading.main_thread().name
            return {kind: names.count(main) for kind, names in self.items() if main in names}

    record = Record(io=[], header=[], inflate=[], decode=[])

    def observed(kind, real, path_of=None):
        def call(*args, **kwargs):
            path = path_of(args) if path_of else None
            if path is None or any(path.startswith(folder) for folder in record.watch):
                record[kind].append(threading.current_thread().name)
            return real(*args, **kwargs)

        return call

    def first_path(args) -> str:
        return str(args[0]) if args and isinstance(args[0], str | os.PathLike) else ""

    monkeypatch.setattr(builtins, "open", observed("io", builtins.open, first_path))
    monkeypatch.setattr(pydicom, "dcmread", observed("header", pydicom.dcmread))
    monkeypatch.setattr(zlib, "decompress", observed("inflate", zlib.decompress))
    monkeypatch.setattr(zlib, "decompressobj", observed("inflate", zlib.decompressobj))
    monkeypatch.setattr(
        series_module, "read_stored_frame", observed("decode", series_module.read_stored_frame)
    )
    return record
