"""Viewport layouts (1×1, 1×2, 1×3, 2×2), the active viewport, and position-synced scrolling.

`ViewportGrid.viewports` always holds four `Viewport`s; the layout decides how many are shown.
When a viewport changes slice, every other shown viewport whose series shares its
FrameOfReferenceUID moves to the frame nearest in patient space (`nearest_frame`). Reformatted
planes (`is_reformat`) are linked by their crosshair instead (`viewer/ui/mpr_view.py`).
"""

from __future__ import annotations

import numpy as np
from PySide6.QtCore import Signal
from PySide6.QtWidgets import QFrame, QGridLayout, QWidget

from viewer.core.geometry import slice_normal
from viewer.ui.viewport import Viewport

LAYOUT_SHAPES = {"1x1": (1, 1), "1x2": (1, 2), "1x3": (1, 3), "2x2": (2, 2)}
ACTIVE_STYLE = "QFrame#viewport_frame { border: 2px solid #3d8ee8; }"
INACTIVE_STYLE = "QFrame#viewport_frame { border: 2px solid #202020; }"


def nearest_frame(point, frames) -> int | None:
    """Index of the frame whose plane lies closest to `point` (mm), or None without geometry."""
    best, best_distance = None, np.inf
    for i, ref in enumerate(frames):
        if ref.position is None or not ref.orientation or len(ref.orientation) != 6:
            continue
        normal = slice_normal(ref.orientation)
        distance = abs(
            float(np.dot(normal, np.asarray(point, float) - np.asarray(ref.position, float)))
        )
        if distance < best_distance:
            best, best_distance = i, distance
    return best


def frame_of_reference(series) -> str:
    try:
        return str(series.header(0).get("FrameOfReferenceUID", "") or "")
    except Exception:  # noqa: BLE001 - unreadable header: no syncing for that series
        return ""


class ViewportGrid(QWidget):
    activeChanged = Signal(object)  # the new active Viewport

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self._grid = QGridLayout(self)
        self._grid.setContentsMargins(0, 0, 0, 0)
        self._grid.setSpacing(2)
        self.viewports = [Viewport() for _ in range(4)]
        self._frames = []
        for viewport in self.viewports:
            frame = QFrame()
            frame.setObjectName("viewport_frame")
            inner = QGridLayout(frame)
            inner.setContentsMargins(2, 2, 2, 2)
            inner.addWidget(viewport)
            self._frames.append(frame)
            viewport.activated.connect(lambda v=viewport: self.set_active(v))
            viewport.imageChanged.connect(lambda _k, _i, v=viewport: self._sync_from(v))
        self._active = self.viewports[0]
        self._layout = ""
        self._syncing = False
        self.set_layout("1x1")

    @property
    def active(self) -> Viewport:
        return self._active

    @property
    def layout_name(self) -> str:
        return self._layout

    def shown(self) -> list[Viewport]:
        rows, cols = LAYOUT_SHAPES[self._layout]
        return self.viewports[: rows * cols]

    def set_layout(self, name: str) -> None:
        rows, cols = LAYOUT_SHAPES[name]
        for frame in self._frames:
            self._grid.removeWidget(frame)
            frame.hide()
        for i, frame in enumerate(self._frames[: rows * cols]):
            self._grid.addWidget(frame, i // cols, i % cols)
            frame.show()
        self._equal_cells(rows, cols)
        self._layout = name
        if self._active not in self.shown():
            self.set_active(self.viewports[0])
        self._restyle()

    def _equal_cells(self, rows: int, cols: int) -> None:
        """Every shown cell the same size, whatever its content asks for (an image and an empty
        drop target would otherwise share the space unevenly)."""
        most_rows = max(r for r, _ in LAYOUT_SHAPES.values())
        most_cols = max(c for _, c in LAYOUT_SHAPES.values())
        for row in range(most_rows):
            self._grid.setRowStretch(row, 1 if row < rows else 0)
        for col in range(most_cols):
            self._grid.setColumnStretch(col, 1 if col < cols else 0)

    def set_active(self, viewport: Viewport) -> None:
        if viewport is not self._active:
            self._active = viewport
            self._restyle()
            self.activeChanged.emit(viewport)

    def _restyle(self) -> None:
        for viewport, frame in zip(self.viewports, self._frames, strict=True):
            frame.setStyleSheet(ACTIVE_STYLE if viewport is self._active else INACTIVE_STYLE)

    def _sync_from(self, source: Viewport) -> None:
        series = source.series()
        if self._syncing or series is None or getattr(series, "is_reformat", False):
            return
        reference = frame_of_reference(series)
        point = series.info.frames[source.frame_index()].position
        if not reference or point is None:
            return
        self._syncing = True
        try:
            for other in self.shown():
                target = other.series()
                if other is source or target is None or getattr(target, "is_reformat", False):
                    continue
                if frame_of_reference(target) != reference:
                    continue
                index = nearest_frame(point, target.info.frames)
                if index is not None:
                    other.state.set_frame(index)
        finally:
            self._syncing = False
