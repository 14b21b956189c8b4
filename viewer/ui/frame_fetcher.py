"""Frames the viewport asks for before the loader reaches them, decoded off the UI thread.

While a series loads, a frame ahead of the loader is not decoded yet, and one JPEG 2000 frame
takes ~100 ms: too long for the UI thread. `FrameFetcher.fetch(series, frame)` hands it to the
viewport's `TaskRunner` (one pool thread, `viewer/ui/tasks.py`), which decodes it through
`Series.modality_frame` (so the series caches it), and `frameReady(series, frame)` comes back by
signal. Only the newest request is wanted (one lane): older ones still queued are skipped
before they decode, and their results are dropped if they come back anyway. `shutdown()` drops
the queue and waits for the one running (at most one frame).
"""

from __future__ import annotations

from PySide6.QtCore import QObject, Signal

from viewer.ui.errors import log_exception, user_message
from viewer.ui.tasks import TaskRunner

LANE = "frame"


def decode_frame(series, frame: int) -> None:
    """Runs on the pool thread: the frame's header, then the frame, into the series' caches.
    Header first: once the frame is decoded the UI thread may show it (`frame_ready`) and read
    the geometry at once, which must then come from the cache."""
    series.header(frame)
    series.modality_frame(frame)


class FrameFetcher(QObject):
    """UI-side handle: one background decode at a time, the newest request wins."""

    frameReady = Signal(object, int)  # series, frame: now decoded and cached by the series
    frameFailed = Signal(object, int, str)  # series, frame, user message

    def __init__(self, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self._pending: tuple[object, int] | None = None
        self.runner = TaskRunner("frames", self)

    def fetch(self, series, frame: int) -> None:
        """Decode `frame` of `series` in the background; a repeat of the pending one is merged."""
        if self._pending is not None and self._pending[0] is series and self._pending[1] == frame:
            return
        self._pending = (series, frame)
        self.runner.submit(
            lambda _context: decode_frame(series, frame),
            LANE,
            on_done=lambda _: self._answer(series, frame, ""),
            on_failed=lambda exc: self._failed(series, frame, exc),
        )

    def cancel(self) -> None:
        """Nothing asked for so far is wanted any more."""
        self.runner.cancel(LANE)
        self._pending = None

    def is_pending(self) -> bool:
        return self._pending is not None

    def shutdown(self) -> None:
        """Drop queued requests and wait for the running decode; safe to call twice."""
        self._pending = None
        self.runner.shutdown()

    def _failed(self, series, frame: int, exc: BaseException) -> None:
        log_exception(exc)  # a bad frame is reported, the thread lives on
        self._answer(series, frame, user_message(exc))

    def _answer(self, series, frame: int, error: str) -> None:
        self._pending = None
        if error:
            self.frameFailed.emit(series, frame, error)
        else:
            self.frameReady.emit(series, frame)
