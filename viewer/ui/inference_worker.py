"""AI analysis off the UI thread: a QObject worker moved to a QThread, requests tagged with ids.

The runner (UI thread) hands out request ids and forwards the worker's signals only for
requests that are still wanted: a cancelled or superseded request's result is dropped here,
and the controller drops a result for an image that is no longer on screen. torch is imported
only on the worker thread, when the first analysis builds the analyzer.
"""

from __future__ import annotations

import itertools
import logging
import threading
from collections.abc import Callable, Hashable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from PySide6.QtCore import QElapsedTimer, QObject, QThread, QTimer, Signal, Slot

from inference.errors import InferenceError
from inference.types import AnalysisInput
from viewer.core.errors import RadLensError
from viewer.ui.errors import log_exception

if TYPE_CHECKING:
    from inference.engine import Analyzer

log = logging.getLogger(__name__)

AnalyzerFactory = Callable[[], "Analyzer"]


@dataclass(frozen=True)
class InferenceRequest:
    """One analysis asked for: the image it belongs to and the engine's (torch-free) input."""

    request_id: int
    image_key: Hashable  # what identifies the image on screen, e.g. (series key, frame)
    # The input, or a callable (with a `source` attribute) that builds it on the worker.
    analysis_input: AnalysisInput | Callable[[], AnalysisInput]
    force: bool = False  # run even outside the model's intended use


def import_engine() -> None:
    """Import the engine, and so torch, on the calling thread. The import holds the GIL for
    about half a second or more: `install_ai` calls this on the UI thread before the window
    shows, so the worker's later model load and first analysis leave the UI responsive."""
    import inference.engine  # noqa: F401


def default_analyzer_factory(model: str | None = None, device: str = "auto") -> AnalyzerFactory:
    """A factory that imports the engine (and torch) only when the worker first calls it."""

    def build() -> Analyzer:
        from inference.engine import Analyzer

        return Analyzer(model=model, device=device)

    return build


class CancelledIds:
    """Ids the UI has given up on; read by the worker thread before and after each analysis."""

    def __init__(self) -> None:
        self._ids: set[int] = set()
        self._lock = threading.Lock()

    def add(self, request_id: int) -> None:
        with self._lock:
            self._ids.add(request_id)

    def __contains__(self, request_id: object) -> bool:
        with self._lock:
            return request_id in self._ids

    def discard(self, request_id: int) -> None:
        with self._lock:
            self._ids.discard(request_id)


class InferenceWorker(QObject):
    """Runs on the worker thread; never touches a widget. Results leave as immutable objects."""

    started = Signal(int)
    progress = Signal(int, str)
    result = Signal(int, object)
    error = Signal(int, str)
    cancelled = Signal(int)

    def __init__(self, analyzer_factory: AnalyzerFactory, cancelled_ids: CancelledIds):
        super().__init__()
        self._analyzer_factory = analyzer_factory
        self._analyzer: Analyzer | None = None
        self._cancelled = cancelled_ids

    @Slot(object)
    def run(self, request: InferenceRequest) -> None:
        request_id = request.request_id
        if request_id in self._cancelled:
            self._finish_cancelled(request_id)
            return
        self.started.emit(request_id)
        try:
            outcome = self._analyze(request)
        except (RadLensError, InferenceError) as exc:
            self.error.emit(request_id, str(exc))
            return
        except Exception as exc:  # the UI boundary: a message, never a traceback
            log_exception(exc, f"analysis of request {request_id} failed")
            self.error.emit(request_id, _describe_failure(request, exc))
            return
        if request_id in self._cancelled:
            self._finish_cancelled(request_id)
        else:
            self.result.emit(request_id, outcome)

    @Slot()
    def preload(self) -> None:
        """Import the engine and load the model now, so the first analysis does not wait."""
        if self._analyzer is not None:
            return
        try:
            self._analyzer = self._analyzer_factory()
        except Exception as exc:  # the first analysis reports it to the user
            log.warning(
                "model preload failed (%s); the first analysis will say why", type(exc).__name__
            )

    @Slot(object)
    def set_analyzer_factory(self, analyzer_factory: AnalyzerFactory) -> None:
        """Switch model: the next analysis builds a new analyzer (on this thread)."""
        self._analyzer_factory = analyzer_factory
        self._analyzer = None

    def _analyze(self, request: InferenceRequest) -> Any:
        if self._analyzer is None:
            self.progress.emit(request.request_id, "Loading model…")
            self._analyzer = self._analyzer_factory()
        self.progress.emit(request.request_id, "Analysing…")
        analysis_input = request.analysis_input
        if callable(analysis_input):
            analysis_input = analysis_input()  # header read and decode here, not on the UI thread
        return self._analyzer.analyze(analysis_input, force=request.force)

    def _finish_cancelled(self, request_id: int) -> None:
        self._cancelled.discard(request_id)
        self.cancelled.emit(request_id)


def _describe_failure(request: InferenceRequest, exc: Exception) -> str:
    source = Path(getattr(request.analysis_input, "source", "") or "").name or "image"
    return f"{source}: analysis failed ({type(exc).__name__}: {exc})"


class InferenceRunner(QObject):
    """UI-thread front of the worker: submits, cancels, supersedes, and shuts the thread down.

    Its signals carry (request_id, ...) and fire only for requests still live; `cancelled`
    fires at once when the UI cancels, and the worker's late result for that id is dropped.
    """

    started = Signal(int)
    progress = Signal(int, str)
    result = Signal(int, object)
    error = Signal(int, str)
    cancelled = Signal(int)
    busyChanged = Signal(bool)
    settled = Signal(int)  # the worker is done with this id (result, error or cancel), live or not

    _requested = Signal(object)
    _factoryChanged = Signal(object)
    _preloadRequested = Signal()

    def __init__(self, analyzer_factory: AnalyzerFactory, parent: QObject | None = None):
        super().__init__(parent)
        self._ids = itertools.count(1)
        self._live: dict[int, InferenceRequest] = {}
        self._cancelled = CancelledIds()
        self._thread = QThread(self)
        self._thread.setObjectName("radlens-inference")
        self._worker = InferenceWorker(analyzer_factory, self._cancelled)
        self._worker.moveToThread(self._thread)
        self._connect_worker()
        self._thread.start()

    def _connect_worker(self) -> None:
        self._requested.connect(self._worker.run)
        self._factoryChanged.connect(self._worker.set_analyzer_factory)
        self._preloadRequested.connect(self._worker.preload)
        self._worker.started.connect(self._on_started)
        self._worker.progress.connect(self._on_progress)
        self._worker.result.connect(self._on_result)
        self._worker.error.connect(self._on_error)
        self._worker.cancelled.connect(self._on_worker_cancelled)
        for finished in (self._worker.result, self._worker.error, self._worker.cancelled):
            finished.connect(self._settle)

    def submit(
        self, image_key: Hashable, analysis_input: AnalysisInput, force: bool = False
    ) -> int:
        """Queue an analysis; any earlier request still pending is superseded (cancelled)."""
        self.cancel_all()
        request = InferenceRequest(next(self._ids), image_key, analysis_input, force)
        self._live[request.request_id] = request
        self._requested.emit(request)
        self.busyChanged.emit(True)
        return request.request_id

    def preload(self) -> None:
        """Load the model on the worker thread ahead of the first request."""
        self._preloadRequested.emit()

    def cancel(self, request_id: int) -> None:
        if self._live.pop(request_id, None) is None:
            return
        self._cancelled.add(request_id)
        self.cancelled.emit(request_id)
        self._emit_busy()

    def cancel_all(self) -> None:
        for request_id in list(self._live):
            self.cancel(request_id)

    def request(self, request_id: int) -> InferenceRequest | None:
        return self._live.get(request_id)

    def is_busy(self) -> bool:
        return bool(self._live)

    def set_analyzer_factory(self, analyzer_factory: AnalyzerFactory) -> None:
        self.cancel_all()
        self._factoryChanged.emit(analyzer_factory)

    def shutdown(self, timeout_ms: int = 30_000) -> bool:
        """Cancel everything, then stop the thread (quit + wait). True when it stopped in time."""
        self.cancel_all()
        self._thread.quit()
        return self._thread.wait(timeout_ms)

    def is_running(self) -> bool:
        return self._thread.isRunning()

    @Slot(int)
    def _on_started(self, request_id: int) -> None:
        if request_id in self._live:
            self.started.emit(request_id)

    @Slot(int, str)
    def _on_progress(self, request_id: int, text: str) -> None:
        if request_id in self._live:
            self.progress.emit(request_id, text)

    @Slot(int, object)
    def _on_result(self, request_id: int, outcome: object) -> None:
        self._cancelled.discard(request_id)
        if self._live.pop(request_id, None) is not None:
            self.result.emit(request_id, outcome)
        self._emit_busy()

    @Slot(int, str)
    def _on_error(self, request_id: int, message: str) -> None:
        self._cancelled.discard(request_id)
        if self._live.pop(request_id, None) is not None:
            self.error.emit(request_id, message)
        self._emit_busy()

    @Slot(int)
    def _on_worker_cancelled(self, request_id: int) -> None:
        self._cancelled.discard(request_id)  # already reported when the UI cancelled it

    def _settle(self, request_id: int, *_details: object) -> None:
        self.settled.emit(request_id)

    def _emit_busy(self) -> None:
        self.busyChanged.emit(self.is_busy())


class EventLoopProbe(QObject):
    """Ticks a short timer and records the longest gap between ticks: how long the UI thread's
    event loop was unable to run (the responsiveness test and benchmark read it)."""

    def __init__(self, interval_ms: int = 5, parent: QObject | None = None):
        super().__init__(parent)
        self._timer = QTimer(self)
        self._timer.setInterval(interval_ms)
        self._timer.timeout.connect(self._tick)
        self._clock = QElapsedTimer()
        self._last_ms = 0
        self.ticks = 0
        self.max_gap_ms = 0.0

    def start(self) -> None:
        self.ticks, self.max_gap_ms = 0, 0.0
        self._clock.start()
        self._last_ms = 0
        self._timer.start()

    def stop(self) -> None:
        self._timer.stop()

    def _tick(self) -> None:
        now = self._clock.elapsed()
        self.max_gap_ms = max(self.max_gap_ms, float(now - self._last_ms))
        self._last_ms = now
        self.ticks += 1
