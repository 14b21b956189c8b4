"""One image viewport: a pyqtgraph ViewBox + ImageItem bound to a `ViewState`, with overlays.

Accessors for other parts of the UI (AI overlay, measurement tools, tag browser):

* `viewport.state` — the `ViewState` (series, frame, window, invert, transform, overlays).
* `viewport.series()`, `viewport.frame_index()`, `viewport.modality_frame()` — the `Series`
  shown, the frame index and that frame's modality values (HU for CT), or None.
* `viewport.image_item`, `viewport.view_box` — the pyqtgraph items. Items given to
  `viewport.add_image_overlay(item)` become children of the image item and so follow its
  transform (rotation, flips, pixel aspect); their coordinates are image pixels: x = column, y = row, pixel (r, c) covering
  [c, c+1) × [r, r+1).
* `viewport.view_transform()` — `ViewTransform` (rotation, flips); `viewport.zoom()` — screen
  pixels per image column; `viewport.view_matrix()` — image (col, row) → view matrix.
* `viewport.scene_to_pixel(scene_pos)` — (row, col) floats with pixel centres on integers,
  the convention of `viewer.core.measurements`; `viewport.pixel_spacing()` — (row, col) mm.
* Signals: `imageChanged(series_key, frame_index)` after a new frame, series or window is
  shown (`("", -1)` when the viewport is cleared); `probed(Probe | None)` as the mouse moves and
  after each new frame (the probe follows the slice); `activated()` on a click;
  `seriesDropped(key)` when a series is dragged here from the browser.

Mouse: left drag pans (or draws, while a measurement tool is active: `left_drag_handler` of the
view box), Ctrl+wheel zooms, wheel changes slice, right drag sets window/level
(see `view_state.drag_window` for the sensitivity). Display pixels always come from
`viewer.core.render` (through `WindowedImageItem`, which renders the visible part of the frame
at screen resolution on paint); nothing here does pixel maths.

A frame that is not decoded yet (a compressed series still loading) is never decoded on the UI
thread: `self.fetcher` (`FrameFetcher`) decodes it in the background, the previous image stays
with the slice counter already moved on and "loading…" in the corner, and the frame (and
`imageChanged`) follows when it arrives. Decoded and uncompressed frames show at once.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import pyqtgraph as pg
from PySide6.QtCore import QBuffer, QByteArray, QEvent, QIODevice, QPointF, Qt, QTimer, Signal
from PySide6.QtGui import QImage, QTransform
from PySide6.QtWidgets import QSlider, QVBoxLayout, QWidget

from viewer.core.atomic import atomic_write_bytes
from viewer.core.presets import modality_values
from viewer.core.render import initial_voi
from viewer.core.voi import Window, auto_window
from viewer.report.overlay import with_colour_bar, with_notice
from viewer.ui import shortcuts
from viewer.ui.frame_fetcher import FrameFetcher
from viewer.ui.heatmap_overlay import HEATMAP_Z
from viewer.ui.overlays import OverlayLayer, overlay_text
from viewer.ui.view_state import (
    ViewState,
    drag_window,
    image_to_view_matrix,
    pixel_aspect,
)
from viewer.ui.windowed_image import WindowedImageItem

SERIES_MIME = "application/x-radlens-series-key"
LOADING_TEXT = "loading…"


@dataclass(frozen=True)
class Probe:
    """The modality value under the mouse and where that pixel is in the patient."""

    row: int
    col: int
    value: object  # float, or an RGB tuple
    unit: str
    position_mm: tuple[float, float, float] | None

    def text(self) -> str:
        value = self.value
        shown = f"{value:.6g}" if isinstance(value, float | int) else str(value)
        parts = [f"({self.col}, {self.row})", f"{shown} {self.unit}".strip()]
        if self.position_mm is not None:
            parts.append("({:.1f}, {:.1f}, {:.1f}) mm".format(*self.position_mm))
        return "  ".join(parts)


def probe_pixel(series, frame: int, row: int, col: int) -> Probe | None:
    """Value and patient position of one pixel, from the core (None outside the image)."""
    values = series.modality_frame(frame)
    if not (0 <= row < values.shape[0] and 0 <= col < values.shape[1]):
        return None
    raw = values[row, col]
    value = tuple(int(v) for v in raw) if np.ndim(raw) else float(raw)
    unit = modality_values(series.info.modality).unit
    try:
        position = series.geometry(frame).pixel_to_patient(row, col)
        position = tuple(float(v) for v in position)
    except Exception:  # noqa: BLE001 - frames without geometry (secondary capture) just omit it
        position = None
    return Probe(row, col, value, unit, position)


def frame_spacing(series, frame: int) -> tuple[float, float] | None:
    """(row, column) spacing in mm from the core geometry, or None when unknown."""
    try:
        spacing = series.geometry(frame).spacing
    except Exception:  # noqa: BLE001 - no geometry: show square pixels
        return None
    return tuple(float(v) for v in spacing[:2]) if spacing is not None else None


def png_bytes(image: QImage) -> bytes:
    data = QByteArray()
    buffer = QBuffer(data)
    buffer.open(QIODevice.OpenModeFlag.WriteOnly)
    if not image.save(buffer, "PNG"):
        raise OSError("could not encode the view as PNG")
    buffer.close()
    return bytes(data)


def export_view_png(viewport: Viewport, path, with_overlays: bool = True):
    """Save what `viewport` shows as a PNG, atomically (temp file + rename). With an AI
    heatmap on screen, the colour bar and the research-use line are burned in beside it."""
    image = viewport.export_image(with_overlays)
    if viewport.heatmap_shown():
        image = annotated_heatmap_view(image)
    return atomic_write_bytes(path, png_bytes(image))


def annotated_heatmap_view(image: QImage) -> QImage:
    rgb = image.convertToFormat(QImage.Format.Format_RGB888)
    rows = np.frombuffer(rgb.constBits(), np.uint8).reshape(rgb.height(), rgb.bytesPerLine())
    pixels = rows[:, : rgb.width() * 3].reshape(rgb.height(), rgb.width(), 3)
    out = np.ascontiguousarray(with_notice(with_colour_bar(pixels)))
    height, width = out.shape[:2]
    return QImage(out.data, width, height, 3 * width, QImage.Format.Format_RGB888).copy()


class _ImageViewBox(pg.ViewBox):
    """ViewBox whose right drag sets window/level and whose plain wheel steps slices."""

    windowDragged = Signal(float, float)
    wheelStepped = Signal(int)

    def __init__(self) -> None:
        super().__init__(lockAspect=True, invertY=True, enableMenu=False)
        # A tool that draws by dragging (a measurement being placed) takes the left drag:
        # `left_drag_handler(ev)` returns True when it used the event, else the view pans.
        self.left_drag_handler = None

    def mouseDragEvent(self, ev, axis=None):  # noqa: N802 - pyqtgraph API
        handler = self.left_drag_handler
        if ev.button() == Qt.MouseButton.LeftButton and handler is not None and handler(ev):
            return
        if ev.button() == Qt.MouseButton.RightButton:
            ev.accept()
            delta = ev.screenPos() - ev.lastScreenPos()
            self.windowDragged.emit(float(delta.x()), float(delta.y()))
            return
        super().mouseDragEvent(ev, axis)

    def wheelEvent(self, ev, axis=None):  # noqa: N802 - pyqtgraph API
        if ev.modifiers() & Qt.KeyboardModifier.ControlModifier:
            super().wheelEvent(ev, axis)
            return
        delta = ev.delta() if hasattr(ev, "delta") else ev.angleDelta().y()
        if delta:
            self.wheelStepped.emit(-1 if delta > 0 else 1)
        ev.accept()


class Viewport(QWidget):
    """Shows one frame of one series. State lives in `self.state`; this class only binds it."""

    imageChanged = Signal(str, int)
    probed = Signal(object)
    activated = Signal()
    seriesDropped = Signal(str)

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.state = ViewState(self)
        self.view_box = _ImageViewBox()
        self.image_item = WindowedImageItem()
        self.view_box.addItem(self.image_item)
        self.graphics = pg.GraphicsView(self)
        self.graphics.setCentralItem(self.view_box)
        self.graphics.setBackground("k")
        self.graphics.setAcceptDrops(False)  # drops land on this widget or the main window
        self.overlay = OverlayLayer(self.graphics)
        self.slider = QSlider(Qt.Orientation.Horizontal, self)
        self.slider.setEnabled(False)
        self.slider.setVisible(False)
        self._cine = QTimer(self)
        # Corner text is rebuilt once per event-loop pass, however many changes came in it.
        self._overlay_timer = QTimer(self)
        self._overlay_timer.setSingleShot(True)
        self._overlay_timer.setInterval(0)
        self._overlay_timer.timeout.connect(self._refresh_overlay)
        self._matrix = np.eye(3)
        self._probe_pos: QPointF | None = None  # scene position of the mouse over the image
        self.fetcher = FrameFetcher(self)
        self._build_layout()
        self._connect()
        self.set_cine_fps(10)
        self.setAcceptDrops(True)
        self.setFocusPolicy(Qt.FocusPolicy.StrongFocus)

    def _build_layout(self) -> None:
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.setSpacing(0)
        layout.addWidget(self.graphics, 1)
        layout.addWidget(self.slider)

    def _connect(self) -> None:
        self.state.changed.connect(self._on_state_changed)
        self.view_box.windowDragged.connect(self._on_window_drag)
        self.view_box.wheelStepped.connect(lambda step: self.state.step_frame(step))
        self.view_box.sigRangeChanged.connect(lambda *_: self._overlay_timer.start())
        self.graphics.scene().sigMouseMoved.connect(self._on_mouse_moved)
        self.graphics.viewport().installEventFilter(self)
        self.graphics.installEventFilter(self)
        self.slider.valueChanged.connect(self.state.set_frame)
        self._cine.timeout.connect(lambda: self.state.step_frame(1, wrap=True))
        self.fetcher.frameReady.connect(self._on_frame_fetched)
        self.fetcher.frameFailed.connect(self._on_frame_failed)

    # --- accessors ------------------------------------------------------------------------

    def series(self):
        return self.state.series

    def frame_index(self) -> int:
        return self.state.frame

    def modality_frame(self) -> np.ndarray | None:
        if self.state.series is None:
            return None
        return self.state.series.modality_frame(self.state.frame)

    def view_matrix(self) -> np.ndarray:
        return self._matrix.copy()

    def zoom(self) -> float:
        """Screen pixels per image column (1.0 = 1:1)."""
        size = self.view_box.viewPixelSize()[0]
        return 1.0 / size if size else 1.0

    def pixel_spacing(self) -> tuple[float, float] | None:
        if self.state.series is None:
            return None
        return frame_spacing(self.state.series, self.state.frame)

    def scene_to_pixel(self, scene_pos: QPointF) -> tuple[float, float]:
        point = self.image_item.mapFromScene(scene_pos)
        return point.y() - 0.5, point.x() - 0.5

    def add_image_overlay(self, item) -> None:
        """Add a graphics item drawn in image pixel coordinates (follows rotate/flip/aspect)."""
        item.setParentItem(self.image_item)

    def has_image(self) -> bool:
        """Whether a frame is shown (no rendering; `displayed_image` renders the whole frame)."""
        return self.image_item.image is not None

    def displayed_image(self) -> np.ndarray | None:
        """The uint8 frame as shown, whole (equal to `render_frame(series, frame, window,
        invert)`); rendered on request: the screen shows the visible part of it."""
        return self.image_item.rendered_frame()

    # --- commands -------------------------------------------------------------------------

    def set_series(self, series, frame: int | None = None) -> None:
        self.state.set_series(series, frame)

    def fit(self) -> None:
        if self.state.series is not None:
            self.view_box.autoRange(padding=0.0)

    def actual_size(self) -> None:
        """One image column per screen pixel, about the current centre."""
        self.set_zoom(1.0)

    def set_zoom(self, zoom: float) -> None:
        centre = self.view_box.viewRect().center()
        half_w = self.view_box.width() / zoom / 2.0
        half_h = self.view_box.height() / zoom / 2.0
        self.view_box.setRange(
            xRange=(centre.x() - half_w, centre.x() + half_w),
            yRange=(centre.y() - half_h, centre.y() + half_h),
            padding=0.0,
        )

    def auto_window(self) -> None:
        window = self._automatic_window()
        if window is not None:
            self.state.set_window(window)

    def _automatic_window(self) -> Window | None:
        """The automatic window of the frame on screen; PixelPaddingValue pixels never count."""
        values = self.modality_frame()
        if values is None or values.ndim != 2:
            return None
        return auto_window(values, self.state.series.pixel_padding)

    def reset(self) -> None:
        series = self.state.series
        if series is not None:
            self.state.set_series(series, self.state.frame)

    def set_cine_fps(self, fps: int) -> None:
        self._cine.setInterval(max(1, round(1000 / max(1, fps))))

    def toggle_cine(self, play: bool | None = None) -> bool:
        play = not self._cine.isActive() if play is None else play
        if play and self.state.frame_count > 1:
            self._cine.start()
        else:
            self._cine.stop()
        return self._cine.isActive()

    def is_waiting_for_frame(self) -> bool:
        """True while the frame in `state` is being decoded in the background."""
        return self.fetcher.is_pending()

    def shutdown(self) -> None:
        """Stop cine and the background decoder (the window calls this on close)."""
        self._cine.stop()
        self.fetcher.shutdown()

    def heatmap_shown(self) -> bool:
        """Whether an AI heatmap is drawn on this view's image now."""
        return any(
            isinstance(item, pg.ImageItem)
            and item.zValue() == HEATMAP_Z
            and item.isVisible()
            and item.image is not None
            and item.image.size > 0
            for item in self.image_item.childItems()
        )

    def export_image(self, with_overlays: bool = True) -> QImage:
        """The view as shown (graphics items included), with or without the corner text."""
        shown = self.overlay.isVisible()
        self.overlay.setVisible(with_overlays and self.state.show_overlays)
        image = self.graphics.grab().toImage()
        self.overlay.setVisible(shown)
        return image

    # --- state → widgets ------------------------------------------------------------------

    def _on_state_changed(self, aspect: str) -> None:
        if aspect == "series":
            self._show_series()
        elif aspect in ("frame", "window"):
            self._render()
        elif aspect == "transform":
            self._apply_transform()
            self.fit()
        self.overlay.setVisible(self.state.show_overlays)
        self._overlay_timer.start()

    def _show_series(self) -> None:
        self._cine.stop()
        count = self.state.frame_count
        self.slider.blockSignals(True)
        self.slider.setRange(0, max(count - 1, 0))
        self.slider.setValue(self.state.frame)
        self.slider.blockSignals(False)
        self.slider.setVisible(count > 1)
        self.slider.setEnabled(count > 1)
        if self.state.series is None:
            self.image_item.clear()
            self.imageChanged.emit("", -1)
            return
        self._render()
        self._apply_transform()
        self.fit()

    def _render(self) -> None:
        state = self.state
        if state.series is None:
            return
        self.slider.blockSignals(True)
        self.slider.setValue(state.frame)
        self.slider.blockSignals(False)
        if not state.series.frame_ready(state.frame):
            self.fetcher.fetch(state.series, state.frame)  # shown by _on_frame_fetched
            return
        self.fetcher.cancel()
        self._show_frame()

    def _show_frame(self) -> None:
        state = self.state
        values = state.series.modality_frame(state.frame)
        window = state.window
        if window is None and not state.series.is_color:
            window = initial_voi(state.series, state.frame, values)
        self.image_item.show_values(values, window, state.series.photometric, state.invert)
        self.imageChanged.emit(state.series_key, state.frame)
        self._probe()

    def _on_frame_fetched(self, series, frame: int) -> None:
        if series is self.state.series and frame == self.state.frame:
            self._show_frame()  # decoded and cached by the series in the background
            self._overlay_timer.start()

    def _on_frame_failed(self, series, frame: int, message: str) -> None:
        if series is self.state.series and frame == self.state.frame:
            self.image_item.clear()  # the reason is logged; the slice counter says which frame
            self._overlay_timer.start()

    def _apply_transform(self) -> None:
        series = self.state.series
        rows, cols = series.info.rows, series.info.columns
        aspect = pixel_aspect(frame_spacing(series, self.state.frame))
        self._matrix = image_to_view_matrix(rows, cols, aspect, self.state.transform)
        m = self._matrix
        self.image_item.setTransform(
            QTransform(m[0, 0], m[1, 0], m[0, 1], m[1, 1], m[0, 2], m[1, 2])
        )

    def _refresh_overlay(self) -> None:
        self.overlay.setVisible(self.state.show_overlays)
        if self.state.show_overlays:
            pending = self.fetcher.is_pending()  # no edge letters until its header is read
            text = overlay_text(self.state, None if pending else self._matrix, self.zoom())
            if pending:
                text.bottom_left.append(LOADING_TEXT)
            self.overlay.set_text(text)

    # --- events ---------------------------------------------------------------------------

    def _on_window_drag(self, dx: float, dy: float) -> None:
        window = self.state.window
        if self.state.series is None or self.state.series.is_color:
            return
        if not isinstance(window, Window):  # a VOI LUT table: start from the automatic window
            window = self._automatic_window()
        self.state.set_window(drag_window(window, dx, dy))

    def _on_mouse_moved(self, scene_pos) -> None:
        self._probe_pos = QPointF(scene_pos)
        self._probe()

    def _probe(self) -> None:
        """The value under the mouse, again after each new frame: the probe follows the slice
        even while the mouse stands still."""
        if self.state.series is None or self._probe_pos is None:
            return
        if not self.state.series.frame_ready(self.state.frame):
            self.probed.emit(None)  # no value to show until the frame arrives
            return
        row, col = self.scene_to_pixel(self._probe_pos)
        self.probed.emit(
            probe_pixel(
                self.state.series, self.state.frame, math.floor(row + 0.5), math.floor(col + 0.5)
            )
        )

    def keyPressEvent(self, event) -> None:  # noqa: N802 - Qt API
        command = shortcuts.NAVIGATION_KEYS.get(event.key())
        if command is None or self.state.series is None:
            super().keyPressEvent(event)
            return
        steps = {
            "next": 1,
            "previous": -1,
            "page_down": shortcuts.PAGE_STEP,
            "page_up": -shortcuts.PAGE_STEP,
            "first": -self.state.frame_count,
            "last": self.state.frame_count,
        }
        self.state.step_frame(steps[command])
        event.accept()

    def eventFilter(self, watched, event) -> bool:  # noqa: N802 - Qt API
        if watched is self.graphics and event.type() == QEvent.Type.Resize:
            self.overlay.setGeometry(self.graphics.rect())
        elif event.type() == QEvent.Type.Leave:
            self._probe_pos = None
        elif event.type() == QEvent.Type.MouseButtonPress:
            self.setFocus()
            self.activated.emit()
        return False

    def dragEnterEvent(self, event) -> None:  # noqa: N802 - Qt API
        if event.mimeData().hasFormat(SERIES_MIME):
            event.acceptProposedAction()
        else:
            event.ignore()  # file URLs go on to the main window

    def dropEvent(self, event) -> None:  # noqa: N802 - Qt API
        if not event.mimeData().hasFormat(SERIES_MIME):
            event.ignore()
            return
        key = bytes(event.mimeData().data(SERIES_MIME)).decode("utf-8")
        event.acceptProposedAction()
        self.activated.emit()
        self.seriesDropped.emit(key)
