"""AI analysis off the UI thread: jobs on the one task runner (`viewer/ui/tasks.py`), requests
tagged with ids.

The runner (UI thread) hands out request ids and forwards the answers only for requests that
are still wanted: a cancelled or superseded request's result is dropped here, and the
controller drops a result for an image that is no longer on screen. torch is imported
only on the runner's thread, when the first analysis (or the preload) builds the analyzer.
"""

from __future__ import annotations

import gc
import itertools
import logging
import sys
from collections.abc import Callable, Hashable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from PySide6.QtCore import QElapsedTimer, QObject, QTimer, Signal

from inference.errors import InferenceError
from inference.types import AnalysisInput
from viewer.core.errors import RadLensError
from viewer.ui.errors import log_exception
from viewer.ui.tasks import TaskRunner

if TYPE_CHECKING:
    from inference.engine import Analyzer

log = logging.getLogger(__name__)

AnalyzerFactory = Callable[[], "Analyzer"]
LANE = "analysis"


@dataclass(frozen=True)
class InferenceRequest:
    """One analysis asked for: the image it belongs to and the engine's (torch-free) input."""

    request_id: int
    image_key: Hashable  # what identifies the image on screen, e.g. (series key, frame)
    # The input, or a callable (with a `source` attribute) that builds it on the worker.
    analysis_input: AnalysisInput | Callable[[], AnalysisInput]
    force: bool = False  # run even outside the model's intended use
    heatmaps_for_negatives: bool = False  # draw a clear negative's map too (AI menu)


def import_engine() -> None:
    """Import torch (through `inference.torch_setup`: threading set, native libraries loaded
    without the GIL) and the engine on the calling thread: the runner's, through the analyzer
    factory, at the preload after a load or the first analysis.

    The import creates millions of objects, and the full garbage collections it triggers hold
    the GIL 0.2–0.3 s each (the UI thread stalls): collections wait until it is done, and what
    it created is then frozen (`gc.freeze`: left out of every later collection, so no full
    collection in the session walks torch's objects again)."""
    if "inference.engine" in sys.modules:
        return
    from inference.torch_setup import configure_torch

    collecting = gc.isenabled()
    gc.disable()
    try:
        configure_torch()
        import inference.engine  # noqa: F401
    finally:
        gc.freeze()
        if collecting:  # as it was: a load may hold collection off too (load_task)
            gc.enable()


def default_analyzer_factory(model: str | None = None, device: str = "auto") -> AnalyzerFactory:
    """A factory that imports the engine (and torch) only when the worker first calls it.
    Whether a clear negative's map is drawn comes with each request, not the model."""

    def build() -> Analyzer:
        import_engine()
        from inference.engine import Analyzer

        return Analyzer(model=model, device=device)

    return build


class Model:
    """The analyzer, built by its factory on the runner's thread when first needed (torch is
    imported there). Only the runner's one thread touches it, one job at a time."""

    def __init__(self, factory: AnalyzerFactory) -> None:
        self._factory = factory
        self._analyzer: Analyzer | None = None

    def analyzer(self, loading: Callable[[], None]) -> Analyzer:
        if self._analyzer is None:
            loading()
            self._analyzer = self._factory()
        return self._analyzer

    def preload(self, _context=None) -> None:
        """Import the engine and load the model now, so the first analysis does not wait."""
        try:
            self.analyzer(lambda: None)
        except Exception as exc:  # the first analysis reports it to the user
            log.warning(
                "model preload failed (%s); the first analysis will say why", type(exc).__name__
            )

    def switch(self, factory: AnalyzerFactory) -> None:
        """Another model: the next analysis builds a new analyzer (on this thread)."""
        self._factory, self._analyzer = factory, None

    def analyze(self, request: InferenceRequest, context) -> Any:
        context.post(("started", ""))
        analyzer = self.analyzer(lambda: context.post(("progress", "Loading model…")))
        context.post(("progress", "Analysing…"))
        analysis_input = request.analysis_input
        if callable(analysis_input):
            analysis_input = analysis_input()  # header read and decode here, not on the UI thread
        analyzer.heatmaps_for_negatives = request.heatmaps_for_negatives  # part of its cache key
        return analyzer.analyze(analysis_input, force=request.force)


def _describe_failure(request: InferenceRequest, exc: BaseException) -> str:
    source = Path(getattr(request.analysis_input, "source", "") or "").name or "image"
    return f"{source}: analysis failed ({type(exc).__name__}: {exc})"


def failure_message(request: InferenceRequest, exc: BaseException) -> str:
    if isinstance(exc, (RadLensError, InferenceError)):
        return str(exc)
    log_exception(exc, f"analysis of request {request.request_id} failed")
    return _describe_failure(request, exc)  # the UI boundary: a message, never a traceback


class InferenceRunner(QObject):
    """UI-thread front of the analyses on a one-thread `TaskRunner` (`viewer/ui/tasks.py`)
    that keeps its thread (the model stays loaded): submits, cancels, supersedes, shuts down.

    Its signals carry (request_id, ...) and fire only for requests still live; `cancelled`
    fires at once when the UI cancels, and the late result for that id is dropped.
    """

    started = Signal(int)
    progress = Signal(int, str)
    result = Signal(int, object)
    error = Signal(int, str)
    cancelled = Signal(int)
    busyChanged = Signal(bool)
    settled = Signal(int)  # the worker is done with this id (result, error or cancel), live or not

    def __init__(self, analyzer_factory: AnalyzerFactory, parent: QObject | None = None):
        super().__init__(parent)
        self._ids = itertools.count(1)
        self._live: dict[int, InferenceRequest] = {}
        self._model = Model(analyzer_factory)
        self.runner = TaskRunner("inference", self, keep_threads=True)

    def submit(
        self,
        image_key: Hashable,
        analysis_input: AnalysisInput,
        force: bool = False,
        heatmaps_for_negatives: bool = False,
    ) -> int:
        """Queue an analysis; any earlier request still pending is superseded (cancelled)."""
        self.cancel_all()
        request = InferenceRequest(
            next(self._ids), image_key, analysis_input, force, heatmaps_for_negatives
        )
        rid = request.request_id
        self._live[rid] = request
        self.runner.submit(
            lambda context: self._model.analyze(request, context),
            LANE,
            on_post=lambda message: self._on_message(rid, *message),
            on_done=lambda outcome: self._end(rid, self.result, outcome),
            on_failed=lambda exc: self._end(rid, self.error, failure_message(request, exc)),
            on_settled=lambda: self.settled.emit(rid),
        )
        self.busyChanged.emit(True)
        return rid

    def preload(self) -> None:
        """Load the model on the worker thread ahead of the first request."""
        self.runner.submit(self._model.preload)

    def cancel(self, request_id: int) -> None:
        if self._live.pop(request_id, None) is None:
            return
        self.runner.cancel(LANE)
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
        self.runner.submit(lambda _context: self._model.switch(analyzer_factory))

    def shutdown(self, timeout_ms: int = 30_000) -> bool:
        """Cancel everything, then wait for the running analysis. True when it stopped in time."""
        self.cancel_all()
        return self.runner.shutdown(timeout_ms=timeout_ms)

    def is_running(self) -> bool:
        return self.runner.is_running()

    def _on_message(self, request_id: int, kind: str, text: str) -> None:
        if kind == "started":
            self.started.emit(request_id)
        else:
            self.progress.emit(request_id, text)

    def _end(self, request_id: int, signal, value) -> None:
        if self._live.pop(request_id, None) is not None:
            signal.emit(request_id, value)
        self._emit_busy()

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
