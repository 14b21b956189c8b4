"""Background study loading: a worker QObject on its own QThread, results by signal.

`StudyLoader` (UI side) owns one `QThread` and one `LoadWorker`. Each request gets an id and a
`threading.Event` for cancel; a new request cancels the one running, and results tagged with
an older id are dropped here, so the window only ever sees the current load. The worker never
touches a widget: it emits the `StudyIndex`, opened `Series` objects (first frame decoded),
thumbnails (uint8 arrays) and progress. `shutdown()` cancels, quits and waits for the thread.

Sequence for `load(paths)`: index (header scan) → first series opened and its first frame
decoded (`seriesReady`, the window shows it at once) → one thumbnail per series → every file's
header of the first series read into its cache (`Series.header`, up to `HEADER_CACHE_FILES`), so
scrolling (geometry, corner text, tools, AI) never reads a file on the UI thread → the rest of
the first series' frames decoded by the core's `Series.load_all` (`progress`; frames that fail
to decode come back in `framesSkipped`) → `finished`.
"""

from __future__ import annotations

import contextlib
import gc
import os
import threading
import time
from collections.abc import Callable

import numpy as np
from PySide6.QtCore import QCoreApplication, QObject, QThread, Signal, Slot

from viewer.core.errors import DicomReadError, LoadCancelled
from viewer.core.index import build_index
from viewer.core.render import render_frame
from viewer.core.scan import SkippedFile
from viewer.core.series import HEADER_CACHE_FILES, open_series
from viewer.ui.errors import details_text, log_exception, user_message

THUMBNAIL_SIZE = 96
PROGRESS_INTERVAL_S = 0.1
# The loader thread runs at a lower OS priority (Linux threads have their own nice value), so
# on a busy machine the scheduler prefers the UI thread; see docs/PERFORMANCE.md ("Viewer: UI
# responsiveness while loading") for what it buys and costs.
LOADER_NICE = 10


class Cancelled(Exception):
    """Raised inside the worker when the request's cancel event is set."""


class _Throttle:
    """Calls `emit(done, total)` at most every PROGRESS_INTERVAL_S seconds, plus the last step."""

    def __init__(self, emit: Callable[[int, int], None], cancel: threading.Event) -> None:
        self._emit, self._cancel, self._last = emit, cancel, 0.0

    def __call__(self, done: int, total: int, *_) -> None:
        if self._cancel.is_set():
            raise Cancelled
        time.sleep(0)  # hand the interpreter lock to the UI thread if it is waiting for it
        now = time.monotonic()
        if done >= total or now - self._last >= PROGRESS_INTERVAL_S:
            self._last = now
            self._emit(done, total)


def lower_thread_priority() -> None:
    """Give the calling thread a higher nice value (Linux; a no-op where unsupported)."""
    try:
        thread_id = threading.get_native_id()
        if os.getpriority(os.PRIO_PROCESS, thread_id) < LOADER_NICE:
            os.setpriority(os.PRIO_PROCESS, thread_id, LOADER_NICE)
    except (AttributeError, OSError):
        pass


LOAD_FULL_GC_THRESHOLD = 1 << 30  # generation-2 threshold while loading: never reached


def hold_garbage_collection(loading: bool) -> None:
    """Only young collections while a study loads; afterwards, freeze what survived.

    A full (generation-2) collection scans every tracked object (pydicom headers, index, Qt
    wrappers, torch once the model is loaded) with the interpreter lock held, and was measured
    stalling the UI thread for 40-80 ms in the middle of a load, so loading raises the
    generation-2 threshold out of reach. Young collections keep running (each scans at most a
    few thousand objects, on whichever thread allocates, mostly the loader), which frees the
    load's short-lived cycles as it goes. Turning the collector off instead left every object
    the load made (230,000 on a first load, with the modules it imports) in generation 0, and
    the first collection after it scanned them all on the UI thread: a 100-260 ms stall at the
    end of the load.

    After the load, `gc.freeze()` (constant time, no scan) moves the survivors out of later
    collections, so those stay short (CPython docs, `gc.freeze`). The cost: reference cycles
    among frozen objects are never freed; the index of a closed study is such a cycle
    (kilobytes); pixel volumes are not part of cycles and are freed by refcount.
    """
    young, middle, full = gc.get_threshold()
    if loading:
        _saved_full_threshold.append(full)
        gc.set_threshold(young, middle, LOAD_FULL_GC_THRESHOLD)
    else:
        gc.freeze()
        restored = _saved_full_threshold.pop() if _saved_full_threshold else full
        gc.set_threshold(young, middle, restored)


_saved_full_threshold: list[int] = []  # the generation-2 threshold to restore after a load


def thumbnail(series, frame: int) -> np.ndarray:
    """A small uint8 picture of one frame, as rendered by the core, decimated to fit."""
    image = render_frame(series, frame)
    step = max(1, int(np.ceil(max(image.shape[:2]) / THUMBNAIL_SIZE)))
    return np.ascontiguousarray(image[::step, ::step])


class LoadWorker(QObject):
    """Runs in the loader thread. Every signal carries the request id first."""

    indexReady = Signal(int, object)  # StudyIndex
    seriesReady = Signal(int, object)  # Series, first frame decoded
    thumbnailReady = Signal(int, str, object)  # series key, uint8 array
    progress = Signal(int, str, int, int)  # stage, done, total
    framesSkipped = Signal(int, object)  # list[SkippedFile] of frames that failed to decode
    finished = Signal(int)
    failed = Signal(int, str, str)  # user message, details
    cancelled = Signal(int)

    @Slot(int, object, object)
    def load(self, request_id: int, paths: list, cancel: threading.Event) -> None:
        self._guarded(request_id, cancel, lambda: self._load(request_id, paths, cancel))

    @Slot(int, object, object)
    def prefetch(self, request_id: int, series, cancel: threading.Event) -> None:
        self._guarded(request_id, cancel, lambda: self._open(request_id, series, cancel))

    def _open(self, request_id: int, series, cancel: threading.Event) -> None:
        series.modality_frame(0)  # a JPEG 2000 radiograph takes ~100 ms: not on the UI thread
        self.seriesReady.emit(request_id, series)
        self._emit_thumbnail(request_id, series)  # in case the load that made it was cut short
        self._decode_all(request_id, series, cancel)

    def _guarded(self, request_id: int, cancel: threading.Event, task: Callable[[], None]) -> None:
        lower_thread_priority()
        if cancel.is_set():
            self.cancelled.emit(request_id)
            return
        try:
            task()
        except (Cancelled, LoadCancelled):
            self.cancelled.emit(request_id)
            return
        except Exception as exc:  # noqa: BLE001 - every crash becomes a dialog, not a dead thread
            log_exception(exc)
            self.failed.emit(request_id, user_message(exc), details_text(exc))
            return
        self.finished.emit(request_id)

    def _load(self, request_id: int, paths: list, cancel: threading.Event) -> None:
        scan_progress = _Throttle(
            lambda d, t: self.progress.emit(request_id, "Reading headers", d, t), cancel
        )
        index = build_index([str(p) for p in paths], progress=scan_progress, cancel=cancel)
        if cancel.is_set():
            raise Cancelled
        self.indexReady.emit(request_id, index)
        infos = [info for info in index.all_series() if info.frames]
        opened = [open_series(info) for info in infos]
        first = self._first_displayable(request_id, opened)
        if first is None:
            return
        self.seriesReady.emit(request_id, first)
        for series in opened:
            if cancel.is_set():
                raise Cancelled
            self._emit_thumbnail(request_id, series)
        self._decode_all(request_id, first, cancel)

    def _first_displayable(self, request_id: int, opened: list):
        """The first series whose first frame decodes; the ones before it are reported."""
        failed = []
        for series in opened:
            try:
                series.modality_frame(0)
            except DicomReadError as exc:
                failed.append(SkippedFile(exc.path, exc.reason))
                continue
            break
        else:
            series = None
        if failed:
            self.framesSkipped.emit(request_id, failed)
        return series

    def _emit_thumbnail(self, request_id: int, series) -> None:
        try:
            picture = thumbnail(series, len(series) // 2)
        except Exception as exc:  # noqa: BLE001 - a bad frame costs its thumbnail, not the load
            log_exception(exc)
            return
        self.thumbnailReady.emit(request_id, series.info.key, picture)

    def _read_headers(self, request_id: int, series, cancel: threading.Event) -> None:
        """Every file's header into the series' cache (one read per file), here rather than
        on the UI thread when a frame of that file is first shown."""
        first_frame_of = {}
        for i, ref in enumerate(series.info.frames):
            first_frame_of.setdefault(ref.path, i)
        frames = list(first_frame_of.values())[:HEADER_CACHE_FILES]
        report = _Throttle(
            lambda d, t: self.progress.emit(request_id, "Reading headers", d, t), cancel
        )
        for done, frame in enumerate(frames, start=1):
            with contextlib.suppress(DicomReadError):  # reported when that frame is decoded
                series.header(frame)
            report(done, len(frames))

    def _decode_all(self, request_id: int, series, cancel: threading.Event) -> None:
        self._read_headers(request_id, series, cancel)
        report = _Throttle(
            lambda d, t: self.progress.emit(request_id, "Loading images", d, t), cancel
        )
        skipped = series.load_all(progress=report, cancel=cancel)
        if skipped:
            self.framesSkipped.emit(request_id, list(skipped))


class StudyLoader(QObject):
    """UI-side handle: starts, cancels and stops background loads; drops stale results."""

    indexReady = Signal(object)
    seriesReady = Signal(object)
    thumbnailReady = Signal(str, object)
    progress = Signal(str, int, int)
    framesSkipped = Signal(object)
    finished = Signal()
    failed = Signal(str, str)
    cancelled = Signal()
    busyChanged = Signal(bool)

    _loadRequested = Signal(int, object, object)
    _prefetchRequested = Signal(int, object, object)

    def __init__(self, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self._request_id = 0
        self._cancel = threading.Event()
        self._busy = False
        self._thread = QThread()
        self._thread.setObjectName("radlens-loader")
        self._worker = LoadWorker()
        self._worker.moveToThread(self._thread)
        self._loadRequested.connect(self._worker.load)
        self._prefetchRequested.connect(self._worker.prefetch)
        self._connect_results()
        self._thread.start()
        app = QCoreApplication.instance()
        if app is not None:  # also stop when the app quits without closing the window
            app.aboutToQuit.connect(self.shutdown)

    def _connect_results(self) -> None:
        # Bound slots of this UI-thread object, so Qt queues every call into the UI thread.
        w = self._worker
        w.indexReady.connect(self._on_index)
        w.seriesReady.connect(self._on_series)
        w.thumbnailReady.connect(self._on_thumbnail)
        w.progress.connect(self._on_progress)
        w.framesSkipped.connect(self._on_frames_skipped)
        w.finished.connect(self._on_finished)
        w.failed.connect(self._on_failed)
        w.cancelled.connect(self._on_cancelled)

    @Slot(int, object)
    def _on_index(self, request_id: int, index) -> None:
        if request_id == self._request_id:
            self.indexReady.emit(index)

    @Slot(int, object)
    def _on_series(self, request_id: int, series) -> None:
        if request_id == self._request_id:
            self.seriesReady.emit(series)

    @Slot(int, str, object)
    def _on_thumbnail(self, request_id: int, key: str, picture) -> None:
        if request_id == self._request_id:
            self.thumbnailReady.emit(key, picture)

    @Slot(int, str, int, int)
    def _on_progress(self, request_id: int, stage: str, done: int, total: int) -> None:
        if request_id == self._request_id:
            self.progress.emit(stage, done, total)

    @Slot(int, object)
    def _on_frames_skipped(self, request_id: int, skipped) -> None:
        if request_id == self._request_id:
            self.framesSkipped.emit(skipped)

    @Slot(int)
    def _on_finished(self, request_id: int) -> None:
        if self._end(request_id):
            self.finished.emit()

    @Slot(int, str, str)
    def _on_failed(self, request_id: int, message: str, details: str) -> None:
        if self._end(request_id):
            self.failed.emit(message, details)

    @Slot(int)
    def _on_cancelled(self, request_id: int) -> None:
        if self._end(request_id):
            self.cancelled.emit()

    def _end(self, request_id: int) -> bool:
        if request_id != self._request_id:
            return False
        self._set_busy(False)
        return True

    def _set_busy(self, busy: bool) -> None:
        if busy != self._busy:
            self._busy = busy
            hold_garbage_collection(busy)
            self.busyChanged.emit(busy)

    def _next_request(self) -> tuple[int, threading.Event]:
        self._cancel.set()
        self._request_id += 1
        self._cancel = threading.Event()
        self._set_busy(True)
        return self._request_id, self._cancel

    def is_busy(self) -> bool:
        return self._busy

    def load(self, paths: list) -> int:
        request_id, cancel = self._next_request()
        self._loadRequested.emit(request_id, list(paths), cancel)
        return request_id

    def prefetch(self, series) -> int:
        """Decode the first frame of `series` (then `seriesReady`), then all of them, in the
        background; frames asked for before that are decoded on demand."""
        request_id, cancel = self._next_request()
        self._prefetchRequested.emit(request_id, series, cancel)
        return request_id

    def cancel(self) -> None:
        self._cancel.set()

    def shutdown(self) -> None:
        """Cancel the running request and stop the thread; safe to call twice."""
        self._cancel.set()
        self._request_id += 1  # drop anything still queued
        if self._thread.isRunning():
            self._thread.quit()
            self._thread.wait()
        self._set_busy(False)

    def thread_running(self) -> bool:
        return self._thread.isRunning()
