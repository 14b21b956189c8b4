"""Background study loading on the one task runner (`viewer/ui/tasks.py`), results by signal.

`StudyLoader` (UI side) submits each request as a job on its own `TaskRunner` (one pool thread
at a lower OS priority, one lane): a new request cancels the one running and its answers are
dropped by the runner, so the window only ever sees the current load. The job (`LoadJob`)
never touches a widget: it posts the `StudyIndex`, opened `Series` objects (first frame
decoded), thumbnails (uint8 arrays) and progress as `context.post((kind, *values))`, which
`StudyLoader` re-emits as its signals. `shutdown()` cancels and waits for the running job.

Sequence for `load(paths)`: the first file of a folder (or of several inputs) opened on its own
and its frame decoded (`previewReady` with that one-file series, shown before any other header
is read: `viewer.core.preview`) → index (header scan) → first series (the one holding the
previewed file, if it opens) opened and its first frame decoded (`seriesReady`, replacing the
preview) → one thumbnail per series → every file's
header of the first series read into its cache (`Series.header`, up to `HEADER_CACHE_FILES`), so
scrolling (geometry, corner text, tools, AI) never reads a file on the UI thread → the rest of
the first series' frames decoded by the core's `Series.load_all` (`progress`; frames that fail
to decode come back in `framesSkipped`) → `finished`. Frames slow to decode (JPEG 2000,
JPEG-LS, ≥ 1 Mpixel) shown before the volume load — first image, thumbnails — are decoded by
the loader's worker processes (`viewer.core.preview.frame_for_display`): those decoders hold the
interpreter lock. Only a first image with nothing on screen yet is decoded on this thread,
and only when the workers are not running yet.
"""

from __future__ import annotations

import contextlib
import gc
import os
import threading
import time
from collections.abc import Callable

import numpy as np
from PySide6.QtCore import QCoreApplication, QObject, Signal

from viewer.core.errors import DicomReadError, LoadCancelled
from viewer.core.index import build_index
from viewer.core.preview import frame_for_display, preview_series
from viewer.core.render import render_frame
from viewer.core.scan import SkippedFile
from viewer.core.series import HEADER_CACHE_FILES, open_series
from viewer.core.tasks import TaskCancelled, TaskContext, Ticket
from viewer.ui.errors import details_text, log_exception, user_message
from viewer.ui.tasks import TaskRunner

THUMBNAIL_SIZE = 96
PROGRESS_INTERVAL_S = 0.1
# The loader thread runs at a lower OS priority (Linux threads have their own nice value), so
# on a busy machine the scheduler prefers the UI thread; see docs/PERFORMANCE.md ("Viewer: UI
# responsiveness while loading") for what it buys and costs.
LOADER_NICE = 10
LANE = "load"


class _Throttle:
    """Calls `emit(done, total)` at most every PROGRESS_INTERVAL_S seconds, plus the last step;
    stops the job (`TaskCancelled`) once its request is cancelled."""

    def __init__(self, emit: Callable[[int, int], None], context: TaskContext) -> None:
        self._emit, self._context, self._last = emit, context, 0.0

    def __call__(self, done: int, total: int, *_) -> None:
        self._context.check()
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


def thumbnail(series, frame: int, cancel=None) -> np.ndarray:
    """A small uint8 picture of one frame, as rendered by the core, decimated to fit (a frame
    slow to decode is decoded in a worker process)."""
    frame_for_display(series, frame, cancel=cancel)
    image = render_frame(series, frame)
    step = max(1, int(np.ceil(max(image.shape[:2]) / THUMBNAIL_SIZE)))
    return np.ascontiguousarray(image[::step, ::step])


class LoadJob:
    """One request, run on the loader's pool thread; everything it finds goes out as
    `context.post((kind, *values))` (kinds: `StudyLoader._signal_for`)."""

    def __init__(self, context: TaskContext) -> None:
        self.context = context

    def _post(self, kind: str, *values) -> None:
        self.context.post((kind, *values))

    def _progress(self, stage: str) -> _Throttle:
        return _Throttle(lambda d, t: self._post("progress", stage, d, t), self.context)

    def load(self, paths: list) -> None:
        self.context.check()
        preview = self._preview(paths)
        index = build_index(
            [str(p) for p in paths],
            progress=self._progress("Reading headers"),
            cancel=self.context.cancelled,
        )
        self.context.check()
        self._post("index", index)
        infos = [info for info in index.all_series() if info.frames]
        opened = [open_series(info) for info in infos]
        if preview is not None:  # the series already on screen comes first, with its frame
            holding = {id(s) for s in opened if s.adopt_frames(preview)}
            opened.sort(key=lambda s: id(s) not in holding)  # stable: the rest keep their order
        first = None
        try:
            first = self._first_displayable(opened, first_image=preview is None)
            if first is None:
                return
            self._post("series", first)
            for series in opened:
                self.context.check()
                self._post_thumbnail(series)
                if series is not first:  # only its thumbnail leaves here: release its files
                    series.close()
        finally:  # failed, or left by a cancel: no one else holds them (`first` is the UI's)
            for series in opened:
                if series is not first:
                    series.close()
        self._decode_all(first)

    def open(self, series) -> None:
        self.context.check()
        frame_for_display(series, 0, first_image=True, cancel=self.context.cancelled)
        self._post("series", series)
        self._post_thumbnail(series)  # in case the load that made it was cut short
        self._decode_all(series)

    def _preview(self, paths: list):
        """Show the first file's frame before the header scan; None when there is nothing to
        gain (a single file: the scan is that file) or it does not open (the scan reports it)."""
        if len(paths) == 1 and not os.path.isdir(paths[0]):
            return None
        try:
            series = preview_series(paths)
            if series is not None:
                frame_for_display(series, 0, first_image=True, cancel=self.context.cancelled)
        except LoadCancelled:
            raise  # not a failure to log: the load stops
        except (DicomReadError, OSError):
            return None  # the header scan reports this file
        except Exception as exc:  # noqa: BLE001 - a crash here must not stop the load
            log_exception(exc)
            return None
        if series is not None:
            self._post("preview", series)
        return series

    def _first_displayable(self, opened: list, first_image: bool):
        """The first series whose first frame decodes; the ones before it are reported.
        `first_image`: nothing is on screen yet (no preview)."""
        failed = []
        for series in opened:
            try:
                frame_for_display(series, 0, first_image=first_image, cancel=self.context.cancelled)
            except DicomReadError as exc:
                failed.append(SkippedFile(exc.path, exc.reason))
                continue
            break
        else:
            series = None
        if failed:
            self._post("skipped", failed)
        return series

    def _post_thumbnail(self, series) -> None:
        try:
            picture = thumbnail(series, len(series) // 2, cancel=self.context.cancelled)
        except LoadCancelled:
            raise
        except Exception as exc:  # noqa: BLE001 - a bad frame costs its thumbnail, not the load
            log_exception(exc)
            return
        self._post("thumbnail", series.info.key, picture)

    def _read_headers(self, series) -> None:
        """Every file's header into the series' cache (one read per file), here rather than
        on the UI thread when a frame of that file is first shown."""
        first_frame_of = {}
        for i, ref in enumerate(series.info.frames):
            first_frame_of.setdefault(ref.path, i)
        frames = list(first_frame_of.values())[:HEADER_CACHE_FILES]
        report = self._progress("Reading headers")
        for done, frame in enumerate(frames, start=1):
            with contextlib.suppress(DicomReadError):  # reported when that frame is decoded
                series.header(frame)
            report(done, len(frames))

    def _decode_all(self, series) -> None:
        self._read_headers(series)
        skipped = series.load_all(
            progress=self._progress("Loading images"), cancel=self.context.cancelled
        )
        if skipped:
            self._post("skipped", list(skipped))


class StudyLoader(QObject):
    """UI-side handle: starts, cancels and stops background loads on its `TaskRunner`."""

    indexReady = Signal(object)
    previewReady = Signal(object)  # shown until `seriesReady`; not a series of the index
    seriesReady = Signal(object)
    thumbnailReady = Signal(str, object)
    progress = Signal(str, int, int)
    framesSkipped = Signal(object)
    finished = Signal()
    failed = Signal(str, str)
    cancelled = Signal()
    busyChanged = Signal(bool)

    def __init__(self, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self._ticket: Ticket | None = None
        self._busy = False
        self.runner = TaskRunner(
            "loader",
            self,
            cancel_errors=(TaskCancelled, LoadCancelled),
            thread_setup=lower_thread_priority,
        )
        self._signal_for = {  # what a job posts → the signal that carries it on
            "index": self.indexReady,
            "preview": self.previewReady,
            "series": self.seriesReady,
            "thumbnail": self.thumbnailReady,
            "progress": self.progress,
            "skipped": self.framesSkipped,
        }
        app = QCoreApplication.instance()
        if app is not None:  # also stop when the app quits without closing the window
            app.aboutToQuit.connect(self.shutdown)

    def is_busy(self) -> bool:
        return self._busy

    def load(self, paths: list) -> int:
        paths = list(paths)
        return self._submit(lambda context: LoadJob(context).load(paths))

    def prefetch(self, series) -> int:
        """Decode the first frame of `series` (then `seriesReady`), then all of them, in the
        background; frames asked for before that are decoded on demand."""
        return self._submit(lambda context: LoadJob(context).open(series))

    def cancel(self) -> None:
        """Ask the current request to stop; it answers `cancelled`."""
        if self._ticket is not None:
            self._ticket.stop()

    def shutdown(self) -> None:
        """Cancel every request, drop the queue and wait for the running job; safe twice."""
        self.runner.shutdown()
        self._set_busy(False)

    def thread_running(self) -> bool:
        return self.runner.is_running()

    def _submit(self, job: Callable[[TaskContext], None]) -> int:
        self._set_busy(True)
        self._ticket = self.runner.submit(
            job,
            LANE,
            on_post=self._on_post,
            on_done=lambda _: self._end(self.finished),
            on_failed=self._on_failed,
            on_cancelled=lambda _: self._end(self.cancelled),
        )
        return self._ticket.request_id

    def _on_post(self, message) -> None:
        kind, *values = message
        self._signal_for[kind].emit(*values)

    def _on_failed(self, exc: BaseException) -> None:
        log_exception(exc)  # every crash becomes a dialog, the runner's thread lives on
        self._end(self.failed, user_message(exc), details_text(exc))

    def _end(self, signal, *values) -> None:
        self._set_busy(False)
        signal.emit(*values)

    def _set_busy(self, busy: bool) -> None:
        if busy != self._busy:
            self._busy = busy
            hold_garbage_collection(busy)
            self.busyChanged.emit(busy)
