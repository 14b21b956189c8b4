"""The one task runner: background work off the UI thread, results back by signal.

A feature hands `TaskRunner.submit` a plain callable `job(context) -> result` (no widgets in
it) and the callbacks that take its answer on the UI thread. The runner owns the threads (a
`QThreadPool`), the request ids and cancel flags (`viewer.core.tasks.Requests`), stale-result
dropping, the busy state and shutdown:

* `lane`: only the newest request of a lane is wanted. Submitting cancels the lane's previous
  request (its `context.cancelled()` turns true); a request superseded while still queued is
  skipped before it runs; answers of a superseded request are dropped. `lane=None`: an
  independent request, answered unless the runner shuts down.
* `context.progress(done, total)` and `context.post(payload)` reach `on_progress` /
  `on_post` in order, then exactly one of `on_done(result)`, `on_cancelled(exc)` (the job
  raised one of `cancel_errors`) or `on_failed(exc)`; all on the UI thread, all only while the
  request is current; `on_settled()` follows every job's end, current or not.
* `is_busy()`: something submitted has not answered yet; `busyChanged(bool)` when that flips.
* `shutdown()` (also on application quit): every request cancelled, the queue dropped, the
  running job waited for; safe to call twice.

Users: the frame fetcher (`frame_fetcher.py`), the SEG/SR worker (`seg_sr_worker.py`), the PACS
runner (`pacs_worker.py`), the MPR volume builder (`mpr_view.py`), the report exporter
(`report_dialog.py`), the inference runner (`inference_worker.py`, `keep_threads`: the model
stays on its thread), the study loader (`load_task.py`, `thread_setup`: a lower OS priority).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from PySide6.QtCore import QCoreApplication, QObject, QRunnable, QThreadPool, Signal, Slot

from viewer.core.tasks import Requests, TaskCancelled, TaskContext, Ticket
from viewer.ui.errors import log_exception

TERMINAL = ("done", "failed", "cancelled", "skipped")


def _ignore(*_) -> None:
    pass


@dataclass(frozen=True)
class Callbacks:
    """Where a request's answers go (UI thread); a missing one ignores that answer."""

    on_done: Callable[[object], None] = _ignore
    on_failed: Callable[[BaseException], None] = log_exception
    on_cancelled: Callable[[BaseException], None] = _ignore
    on_progress: Callable[[int, int], None] = _ignore
    on_post: Callable[[object], None] = _ignore
    on_skipped: Callable[[], None] = _ignore
    on_settled: Callable[[], None] = (
        _ignore  # the job is over (answered or skipped), current or not
    )

    def deliver(self, kind: str, payload) -> None:
        if kind == "progress":
            self.on_progress(*payload)
        elif kind == "skipped":
            self.on_skipped()
        else:
            handlers = {
                "post": self.on_post,
                "done": self.on_done,
                "failed": self.on_failed,
                "cancelled": self.on_cancelled,
            }
            handlers[kind](payload)


class _Relay(QObject):
    """Lives in the UI thread; pool threads emit on it, so Qt queues every answer across."""

    message = Signal(object, str, object)  # Ticket, kind, payload


class _Task(QRunnable):
    def __init__(self, runner: TaskRunner, ticket: Ticket, job, skip_if_stale: bool) -> None:
        super().__init__()
        self._runner, self._ticket, self._job = runner, ticket, job
        self._skip_if_stale = skip_if_stale

    def run(self) -> None:
        runner, ticket = self._runner, self._ticket
        emit = runner.relay.message.emit
        if runner.thread_setup is not None:
            runner.thread_setup()
        if self._skip_if_stale and not runner.requests.is_current(ticket):
            emit(ticket, "skipped", None)  # superseded while queued: never ran
            return
        context = TaskContext(ticket, lambda kind, payload: emit(ticket, kind, payload))
        try:
            result = self._job(context)
        except runner.cancel_errors as exc:
            emit(ticket, "cancelled", exc)
        except Exception as exc:  # noqa: BLE001 - a crash becomes an answer, not a dead thread
            emit(ticket, "failed", exc)
        else:
            emit(ticket, "done", result)


class TaskRunner(QObject):
    """Runs submitted jobs on up to `threads` pool threads (see the module docstring)."""

    busyChanged = Signal(bool)

    def __init__(
        self,
        name: str,
        parent: QObject | None = None,
        *,
        threads: int = 1,
        cancel_errors: tuple[type[BaseException], ...] = (TaskCancelled,),
        thread_setup: Callable[[], None] | None = None,
        keep_threads: bool = False,
    ) -> None:
        super().__init__(parent)
        self.setObjectName(f"radlens-{name}")
        self.requests = Requests()
        self.cancel_errors = cancel_errors
        self.thread_setup = thread_setup  # run on the pool thread before each job
        self._callbacks: dict[int, Callbacks] = {}
        self._closed = False
        self._pool = QThreadPool(self)
        self._pool.setMaxThreadCount(threads)
        if keep_threads:  # e.g. a loaded model: its thread stays rather than expiring when idle
            self._pool.setExpiryTimeout(-1)
        self.relay = _Relay(self)
        self.relay.message.connect(self._on_message)
        app = QCoreApplication.instance()
        if app is not None:
            app.aboutToQuit.connect(self.shutdown)

    def submit(
        self, job, lane: str | None = None, *, skip_if_stale: bool = True, **callbacks
    ) -> Ticket:
        """Run `job(context)` in the background; `callbacks` are `Callbacks` fields."""
        ticket = self.requests.issue(lane)
        self._closed = False
        was_busy = self.is_busy()
        self._callbacks[ticket.request_id] = Callbacks(**callbacks)
        if not was_busy:
            self.busyChanged.emit(True)
        self._pool.start(_Task(self, ticket, job, skip_if_stale))
        return ticket

    def is_current(self, ticket: Ticket) -> bool:
        return self.requests.is_current(ticket)

    def cancel(self, lane: str | None) -> None:
        """Nothing asked for on `lane` so far is wanted (running jobs see `cancelled()`)."""
        self.requests.cancel(lane)

    def is_busy(self) -> bool:
        return bool(self._callbacks)

    def is_running(self) -> bool:
        """Open for work or still running a job; False once `shutdown` has returned."""
        return not self._closed or self._pool.activeThreadCount() > 0

    def shutdown(self, finish_queued: bool = False, timeout_ms: int = -1) -> bool:
        """Cancel everything, drop the queue and wait for the running jobs (at most
        `timeout_ms`, -1: as long as they take); safe twice. `finish_queued`: run what was
        submitted to its end first (an export never lost). True when no job is left running."""
        if finish_queued:
            self._pool.waitForDone(timeout_ms)
        self.requests.cancel_all()
        self._pool.clear()
        stopped = self._pool.waitForDone(timeout_ms)
        self._closed = True
        if self._callbacks:
            self._callbacks.clear()
            self.busyChanged.emit(False)
        return stopped

    @Slot(object, str, object)
    def _on_message(self, ticket: Ticket, kind: str, payload) -> None:
        current = self.requests.is_current(ticket)
        if kind in TERMINAL:
            self.requests.retire(ticket)
            callbacks = self._callbacks.pop(ticket.request_id, None)
            if callbacks is not None and not self._callbacks:
                self.busyChanged.emit(False)
        else:
            callbacks = self._callbacks.get(ticket.request_id)
        if callbacks is not None and current:
            callbacks.deliver(kind, payload)
        if callbacks is not None and kind in TERMINAL:
            callbacks.on_settled()
