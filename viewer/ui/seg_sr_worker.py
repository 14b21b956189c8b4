"""SEG/SR work off the UI thread: reading objects (a SEG's pixels decoded at once) and, for each
image a viewport shows, painting its segments and placing the SR graphics that lie on it.

One pool thread does both, in order. `load(items)` (path, kind pairs from the index) and
`load_paths(paths)` (files or folders, scanned there) answer `loaded(list of (path, object or
None, error))`; `paint(key, (series, frame), styles, reports)` answers `painted(key, rgba or
None, graphics)`, where only the newest request per key (a viewport) counts: older ones still
queued are skipped before they run, and their results are dropped if they come back anyway.
"""

from __future__ import annotations

from PySide6.QtCore import QObject, QRunnable, QThreadPool, Signal, Slot

from viewer.core.errors import RadLensError
from viewer.core.index import build_index
from viewer.core.seg import overlay_rgba, read_segmentation, target_image
from viewer.core.sr import graphics_on_image, read_report
from viewer.core.study_objects import SEG, SR
from viewer.ui.errors import log_exception, user_message


class _Results(QObject):
    """Lives in the UI thread; the pool thread emits on it, so Qt queues the calls across."""

    loaded = Signal(object)  # list[(path, Segmentation | StructuredReport | None, error)]
    painted = Signal(str, int, object, object)  # key, request id, rgba | None, graphics


def read_object(path: str, kind: str):
    """A SEG (pixels decoded now, so painting never waits on a decoder) or an SR."""
    if kind == SEG:
        seg = read_segmentation(path)
        seg.pixels()
        return seg
    if kind == SR:
        return read_report(path)
    raise RadLensError(f"{path}: not a segmentation or structured report")


def objects_in(paths: list[str]) -> tuple[list[tuple[str, str]], list[tuple[str, None, str]]]:
    """The SEG/SR objects among `paths` (files or folders), and why the rest was skipped."""
    index = build_index(paths)
    items = [(o.path, o.kind) for o in index.all_objects() if o.kind in (SEG, SR)]
    problems = [(s.path, None, f"{s.path}: {s.reason}") for s in index.skipped]
    if not items and not problems:
        problems.append((paths[0], None, "no segmentation or structured report found"))
    return items, problems


class _LoadTask(QRunnable):
    def __init__(self, results: _Results, items=None, paths=None) -> None:
        super().__init__()
        self._results, self._items, self._paths = results, items or [], paths or []

    def run(self) -> None:
        out = []
        if self._paths:
            try:
                self._items, out = objects_in(self._paths)
            except Exception as exc:  # noqa: BLE001 - reported in the status bar
                log_exception(exc)
                out = [(self._paths[0], None, user_message(exc))]
        for path, kind in self._items:
            try:
                out.append((path, read_object(path, kind), ""))
            except Exception as exc:  # noqa: BLE001 - one bad object is reported, others load
                log_exception(exc)
                out.append((path, None, user_message(exc)))
        self._results.loaded.emit(out)


class _PaintTask(QRunnable):
    def __init__(self, worker: SegSrWorker, key: str, request_id: int, job: tuple) -> None:
        super().__init__()
        self._worker, self._key, self._request_id, self._job = worker, key, request_id, job

    def run(self) -> None:
        if not self._worker.wants(self._key, self._request_id):
            self._worker.results.painted.emit(self._key, self._request_id, None, [])
            return  # superseded while queued: nothing painted, the answer is dropped
        (series, frame), styles, reports = self._job
        try:
            target = target_image(series, frame)
            rgba = overlay_rgba(styles, target)
            graphics = [
                placed for report in reports for placed in graphics_on_image(report, target)
            ]
        except Exception as exc:  # noqa: BLE001 - a broken object must not kill the thread
            log_exception(exc)
            rgba, graphics = None, []
        self._worker.results.painted.emit(self._key, self._request_id, rgba, graphics)


class SegSrWorker(QObject):
    loaded = Signal(object)
    painted = Signal(str, object, object)  # key, rgba | None, [(Graphic, points)]

    def __init__(self, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self._newest: dict[str, int] = {}
        self._busy = 0
        self._pool = QThreadPool(self)
        self._pool.setMaxThreadCount(1)
        self.results = _Results(self)
        self.results.loaded.connect(self._on_loaded)
        self.results.painted.connect(self._on_painted)

    def wants(self, key: str, request_id: int) -> bool:
        return self._newest.get(key) == request_id

    def is_busy(self) -> bool:
        return self._busy > 0

    def load(self, items: list[tuple[str, str]]) -> None:
        self._busy += 1
        self._pool.start(_LoadTask(self.results, items=items))

    def load_paths(self, paths: list[str]) -> None:
        self._busy += 1
        self._pool.start(_LoadTask(self.results, paths=paths))

    def paint(self, key: str, image: tuple, styles, reports) -> None:
        """Paint `image` = (series, frame) for viewport `key`; the newest request wins."""
        self._busy += 1
        self._pool.start(_PaintTask(self, key, self.cancel(key), (image, styles, reports)))

    def cancel(self, key: str) -> int:
        """Nothing asked for `key` so far is wanted; returns the next request id."""
        self._newest[key] = self._newest.get(key, 0) + 1
        return self._newest[key]

    def shutdown(self) -> None:
        self._newest.clear()
        self._pool.clear()
        self._pool.waitForDone()

    @Slot(object)
    def _on_loaded(self, items) -> None:
        self._busy -= 1
        self.loaded.emit(items)

    @Slot(str, int, object, object)
    def _on_painted(self, key: str, request_id: int, rgba, graphics) -> None:
        self._busy -= 1
        if self.wants(key, request_id):
            self.painted.emit(key, rgba, graphics)
