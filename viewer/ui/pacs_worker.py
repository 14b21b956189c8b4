"""Runs PACS jobs (search, retrieve, send, echo) on one background QThread.

A job is a plain callable `job(progress, cancel) -> result` built from `viewer.core.pacs`; it
never touches a widget. `PacsRunner.start(job)` cancels the job running, gives the new one an
id and a `threading.Event`; results tagged with an older id are dropped. Signals reach the UI
thread queued: `progress(done, total)`, `finished(result)`, `failed(message)`, `cancelled(message)`.
"""

from __future__ import annotations

import threading

from PySide6.QtCore import QCoreApplication, QObject, QThread, Signal, Slot

from viewer.core.errors import RadLensError
from viewer.core.pacs.servers import PacsCancelled
from viewer.ui.errors import log_exception


class _PacsWorker(QObject):
    progress = Signal(int, int, int)
    finished = Signal(int, object)
    failed = Signal(int, str)
    cancelled = Signal(int, str)

    @Slot(int, object, object)
    def run(self, request_id: int, job, cancel: threading.Event) -> None:
        try:
            result = job(
                lambda done, total: self.progress.emit(request_id, done, total), cancel.is_set
            )
        except PacsCancelled as exc:
            self.cancelled.emit(request_id, str(exc))
        except RadLensError as exc:
            self.failed.emit(request_id, str(exc))
        except Exception as exc:  # noqa: BLE001 - a crash becomes a message, not a dead thread
            log_exception(exc, "PACS job failed")
            self.failed.emit(request_id, f"unexpected {type(exc).__name__}")
        else:
            self.finished.emit(request_id, result)


class PacsRunner(QObject):
    progress = Signal(int, int)
    finished = Signal(object)
    failed = Signal(str)
    cancelled = Signal(str)
    busyChanged = Signal(bool)
    _requested = Signal(int, object, object)

    def __init__(self, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self._request_id = 0
        self._cancel = threading.Event()
        self._busy = False
        self._thread = QThread()
        self._thread.setObjectName("radlens-pacs")
        self._worker = _PacsWorker()
        self._worker.moveToThread(self._thread)
        self._requested.connect(self._worker.run)
        self._worker.progress.connect(self._on_progress)
        self._worker.finished.connect(self._on_finished)
        self._worker.failed.connect(self._on_failed)
        self._worker.cancelled.connect(self._on_cancelled)
        self._thread.start()
        app = QCoreApplication.instance()
        if app is not None:
            app.aboutToQuit.connect(self.shutdown)

    def start(self, job) -> int:
        self._cancel.set()
        self._request_id += 1
        self._cancel = threading.Event()
        self._set_busy(True)
        self._requested.emit(self._request_id, job, self._cancel)
        return self._request_id

    def cancel(self) -> None:
        self._cancel.set()

    def is_busy(self) -> bool:
        return self._busy

    def thread_running(self) -> bool:
        return self._thread.isRunning()

    def shutdown(self) -> None:
        self._cancel.set()
        self._request_id += 1
        if self._thread.isRunning():
            self._thread.quit()
            self._thread.wait()
        self._set_busy(False)

    def _set_busy(self, busy: bool) -> None:
        if busy != self._busy:
            self._busy = busy
            self.busyChanged.emit(busy)

    @Slot(int, int, int)
    def _on_progress(self, request_id: int, done: int, total: int) -> None:
        if request_id == self._request_id:
            self.progress.emit(done, total)

    @Slot(int, object)
    def _on_finished(self, request_id: int, result) -> None:
        if request_id == self._request_id:
            self._set_busy(False)
            self.finished.emit(result)

    @Slot(int, str)
    def _on_failed(self, request_id: int, message: str) -> None:
        if request_id == self._request_id:
            self._set_busy(False)
            self.failed.emit(message)

    @Slot(int, str)
    def _on_cancelled(self, request_id: int, message: str) -> None:
        if request_id == self._request_id:
            self._set_busy(False)
            self.cancelled.emit(message)
