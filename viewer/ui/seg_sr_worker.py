"""SEG/SR work off the UI thread: reading objects (a SEG's pixels decoded at once) and, for each
image a viewport shows, painting its segments and placing the SR graphics that lie on it.

One `TaskRunner` thread (`viewer/ui/tasks.py`) does both, in order. `load(items)` (path, kind
pairs from the index) and `load_paths(paths)` (files or folders, scanned there) answer
`loaded(list of (path, object or None, error))`; `paint(key, (series, frame), styles, reports)` answers `painted(key, rgba or
None, graphics)`, where only the newest request per key (a viewport) counts: older ones still
queued are skipped before they run, and their results are dropped if they come back anyway.
"""

from __future__ import annotations

from PySide6.QtCore import QObject, Signal

from viewer.core.errors import RadLensError
from viewer.core.index import build_index
from viewer.core.seg import overlay_rgba, read_segmentation, target_image
from viewer.core.sr import graphics_on_image, read_report
from viewer.core.study_objects import SEG, SR
from viewer.ui.errors import log_exception, user_message
from viewer.ui.tasks import TaskRunner


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


def load_objects(items: list[tuple[str, str]], paths: list[str]) -> list:
    """Runs on the pool thread: every object of `items` (or found under `paths`) read, one
    (path, object or None, error) each; one bad object is reported, the others load."""
    out = []
    if paths:
        try:
            items, out = objects_in(paths)
        except Exception as exc:  # noqa: BLE001 - reported in the status bar
            log_exception(exc)
            out = [(paths[0], None, user_message(exc))]
    for path, kind in items:
        try:
            out.append((path, read_object(path, kind), ""))
        except Exception as exc:  # noqa: BLE001 - one bad object is reported, others load
            log_exception(exc)
            out.append((path, None, user_message(exc)))
    return out


def paint_image(image: tuple, styles, reports) -> tuple:
    """Runs on the pool thread: (rgba or None, graphics) for image = (series, frame)."""
    series, frame = image
    try:
        target = target_image(series, frame)
        rgba = overlay_rgba(styles, target)
        graphics = [placed for report in reports for placed in graphics_on_image(report, target)]
    except Exception as exc:  # noqa: BLE001 - a broken object must not kill the thread
        log_exception(exc)
        return None, []
    return rgba, graphics


class SegSrWorker(QObject):
    """UI-side handle on a one-thread `TaskRunner`: loads are independent requests, paints
    one lane per viewport key (the newest wins)."""

    loaded = Signal(object)
    painted = Signal(str, object, object)  # key, rgba | None, [(Graphic, points)]

    def __init__(self, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.runner = TaskRunner("seg-sr", self)

    def is_busy(self) -> bool:
        return self.runner.is_busy()

    def load(self, items: list[tuple[str, str]]) -> None:
        self.runner.submit(lambda _c: load_objects(items, []), on_done=self.loaded.emit)

    def load_paths(self, paths: list[str]) -> None:
        self.runner.submit(lambda _c: load_objects([], paths), on_done=self.loaded.emit)

    def paint(self, key: str, image: tuple, styles, reports) -> None:
        """Paint `image` = (series, frame) for viewport `key`; the newest request wins."""
        self.runner.submit(
            lambda _c: paint_image(image, styles, reports),
            key,
            on_done=lambda answer: self.painted.emit(key, *answer),
        )

    def cancel(self, key: str) -> None:
        """Nothing asked for `key` so far is wanted."""
        self.runner.cancel(key)

    def shutdown(self) -> None:
        self.runner.shutdown()
