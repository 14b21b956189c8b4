"""Frames the viewport asks for before the loader reaches them, decoded off the UI thread.

While a series loads, a frame ahead of the loader is not decoded yet, and one JPEG 2000 frame
takes ~100 ms: too long for the UI thread. `FrameFetcher.fetch(series, frame)` hands it to one
pool thread, which decodes it through `Series.modality_frame` (so the series caches it), and
`frameReady(series, frame)` comes back by signal. Only the newest request is wanted: older
ones still queued are skipped before they decode, and their results are dropped if they come
back anyway. `shutdown()` drops the queue and waits for the one running (at most one frame).
"""

from __future__ import annotations

from PySide6.QtCore import QObject, QRunnable, QThreadPool, Signal, Slot

from viewer.ui.errors import log_exception, user_message


class _Results(QObject):
    """Lives in the UI thread; the pool thread emits on it, so Qt queues the calls across."""

    done = Signal(int, object, int, str)  # request id, series, frame, error ("" on success)


class _FetchTask(QRunnable):
    def __init__(self, fetcher: FrameFetcher, request_id: int, series, frame: int) -> None:
        super().__init__()
        self._fetcher, self._request_id = fetcher, request_id
        self._series, self._frame = series, frame

    def run(self) -> None:
        if not self._fetcher.wants(self._request_id):
            return  # superseded while queued: never decoded
        try:
            self._series.modality_frame(self._frame)
            self._series.header(self._frame)  # cached for the geometry the viewport then reads
            error = ""
        except Exception as exc:  # noqa: BLE001 - a bad frame is reported, the thread lives on
            log_exception(exc)
            error = user_message(exc)
        self._fetcher.results.done.emit(self._request_id, self._series, self._frame, error)


class FrameFetcher(QObject):
    """UI-side handle: one background decode at a time, the newest request wins."""

    frameReady = Signal(object, int)  # series, frame: now decoded and cached by the series
    frameFailed = Signal(object, int, str)  # series, frame, user message

    def __init__(self, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self._request_id = 0
        self._pending: tuple[object, int] | None = None
        self._pool = QThreadPool(self)
        self._pool.setMaxThreadCount(1)
        self.results = _Results(self)
        self.results.done.connect(self._on_done)

    def wants(self, request_id: int) -> bool:
        """Called from the pool thread: is this request still the newest?"""
        return request_id == self._request_id

    def fetch(self, series, frame: int) -> int:
        """Decode `frame` of `series` in the background; a repeat of the pending one is merged."""
        if self._pending is not None and self._pending[0] is series and self._pending[1] == frame:
            return self._request_id
        self._request_id += 1
        self._pending = (series, frame)
        self._pool.start(_FetchTask(self, self._request_id, series, frame))
        return self._request_id

    def cancel(self) -> None:
        """Nothing asked for so far is wanted any more."""
        self._request_id += 1
        self._pending = None

    def is_pending(self) -> bool:
        return self._pending is not None

    def shutdown(self) -> None:
        """Drop queued requests and wait for the running decode; safe to call twice."""
        self.cancel()
        self._pool.clear()
        self._pool.waitForDone()

    @Slot(int, object, int, str)
    def _on_done(self, request_id: int, series, frame: int, error: str) -> None:
        if request_id != self._request_id:
            return
        self._pending = None
        if error:
            self.frameFailed.emit(series, frame, error)
        else:
            self.frameReady.emit(series, frame)
