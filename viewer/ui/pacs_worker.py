"""Runs PACS jobs (search, retrieve, send, echo) on the one task runner, one at a time.

A job is a plain callable `job(progress, cancel) -> result` built from `viewer.core.pacs`; it
never touches a widget. `PacsRunner.start(job)` submits it on the runner's one lane (the job
running is cancelled and its answers dropped); `cancel()` asks the current job to stop and
still answers. Signals reach the UI thread queued: `progress(done, total)`, `finished(result)`,
`failed(message)`, `cancelled(message)`.
"""

from __future__ import annotations

from PySide6.QtCore import QObject, Signal

from viewer.core.errors import RadLensError
from viewer.core.pacs.servers import PacsCancelled
from viewer.core.tasks import Ticket
from viewer.ui.errors import log_exception
from viewer.ui.tasks import TaskRunner

LANE = "pacs"


def failure_message(exc: BaseException) -> str:
    if isinstance(exc, RadLensError):
        return str(exc)
    log_exception(exc, "PACS job failed")  # a crash becomes a message, not a dead thread
    return f"unexpected {type(exc).__name__}"


class PacsRunner(QObject):
    progress = Signal(int, int)
    finished = Signal(object)
    failed = Signal(str)
    cancelled = Signal(str)
    busyChanged = Signal(bool)

    def __init__(self, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self._ticket: Ticket | None = None
        self._busy = False
        self.runner = TaskRunner("pacs", self, cancel_errors=(PacsCancelled,))

    def start(self, job) -> int:
        self._set_busy(True)
        self._ticket = self.runner.submit(
            lambda context: job(context.progress, context.cancelled),
            LANE,
            on_progress=self.progress.emit,
            on_done=lambda result: self._end(self.finished, result),
            on_failed=lambda exc: self._end(self.failed, failure_message(exc)),
            on_cancelled=lambda exc: self._end(self.cancelled, str(exc)),
        )
        return self._ticket.request_id

    def cancel(self) -> None:
        if self._ticket is not None:
            self._ticket.stop()

    def is_busy(self) -> bool:
        return self._busy

    def shutdown(self) -> None:
        self.runner.shutdown()
        self._set_busy(False)

    def _end(self, signal, value) -> None:
        self._set_busy(False)
        signal.emit(value)

    def _set_busy(self, busy: bool) -> None:
        if busy != self._busy:
            self._busy = busy
            self.busyChanged.emit(busy)
