"""The MPR layout: axial, coronal and sagittal views of one volume, linked by a crosshair.

`install_mpr(main_window)` adds View → MPR (three planes side by side, or 2×2 with the
acquired plane in the fourth view) and an "MPR" toolbar (slab thickness in mm, MIP / MinIP /
mean, linked window/level). The views are ordinary `Viewport`s showing `PlaneSeries`
(`viewer.core.plane_series`), so zoom/pan, the probe, measurements in mm, presets and
orientation letters work on every plane exactly as on an acquired image.

* The volume is built by `VolumeBuilder` on the task runner (`viewer/ui/tasks.py`), loading
  the series' frames first if the loader has not; planes are computed by each viewport's `FrameFetcher` off the UI thread,
  so the UI never waits for a plane. A stack that is not a volume says why in the status bar.
* `MprController.cursor` is the crosshair point (mm, LPS). Each plane view shows the other two
  planes as coloured lines through it; dragging a line or Shift+clicking moves the cursor and
  the other views follow; scrolling a view moves the cursor along that view's normal; the
  acquired view shows the frame nearest the cursor and moves it when scrolled.
* Window/level changes in one view are applied to the others while "Link W/L" is on.
"""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pyqtgraph as pg
from PySide6.QtCore import QObject, Qt, Signal
from PySide6.QtWidgets import QCheckBox, QComboBox, QDoubleSpinBox, QLabel, QToolBar

from viewer.core.errors import LoadCancelled, RadLensError
from viewer.core.geometry import FrameGeometry
from viewer.core.mpr import PLANES, plane_trace
from viewer.core.plane_series import MODE_TITLES, PlaneSeries
from viewer.core.volume import build_volume
from viewer.ui.errors import log_exception, user_message
from viewer.ui.layouts import nearest_frame
from viewer.ui.tasks import TaskRunner

PLANE_COLOURS = {"axial": (70, 150, 255), "coronal": (70, 210, 90), "sagittal": (255, 150, 50)}
LINE_Z = 15  # above the image, below measurements
BUSY_TOKEN = "mpr"
MPR_LAYOUTS = {"1x3": "MPR: three planes", "2x2": "MPR: 2×2 with the acquired plane"}
MAX_SLAB_MM = 200.0


def volume_error(exc: BaseException) -> str:
    """The status-bar line for a stack that did not become a volume."""
    if isinstance(exc, RadLensError):
        return str(exc)
    log_exception(exc)  # reported in the status bar, the UI lives on
    return user_message(exc)


class VolumeBuilder(QObject):
    """Builds one `Volume` at a time on the task runner; the newest request wins."""

    built = Signal(object, object)  # series, Volume
    failed = Signal(object, str)  # series, message

    def __init__(self, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.runner = TaskRunner("volume", self, cancel_errors=(LoadCancelled,))
        self._pending = False

    def build(self, series) -> None:
        self._pending = True
        self.runner.submit(
            lambda context: build_volume(series, cancel=context.ticket.cancel_event),
            "volume",
            on_done=lambda volume: self._answer(self.built, series, volume),
            on_failed=lambda exc: self._answer(self.failed, series, volume_error(exc)),
            on_cancelled=lambda _exc: self._answer(None, series, None),
        )

    def is_busy(self) -> bool:
        return self._pending

    def forget(self) -> None:
        """Whatever is being built is not wanted any more (its loading stops early)."""
        self.runner.cancel("volume")
        self._pending = False

    def shutdown(self) -> None:
        self._pending = False
        self.runner.shutdown()

    def _answer(self, signal, series, value) -> None:
        self._pending = False
        if signal is not None:
            signal.emit(series, value)


class Crosshair:
    """The two reference lines on one plane view (children of its image item)."""

    def __init__(self, viewport, on_moved) -> None:
        self.viewport = viewport
        self.vertical = pg.InfiniteLine(angle=90, movable=True)
        self.horizontal = pg.InfiniteLine(angle=0, movable=True)
        for line in (self.vertical, self.horizontal):
            line.setZValue(LINE_Z)
            viewport.add_image_overlay(line)
            line.sigDragged.connect(lambda _line: on_moved(self))
            line.hide()

    def set_colours(self, vertical_rgb, horizontal_rgb) -> None:
        self.vertical.setPen(pg.mkPen(vertical_rgb, width=1))
        self.horizontal.setPen(pg.mkPen(horizontal_rgb, width=1))

    def place(self, row: float, col: float) -> None:
        """Lines through pixel (row, col) (pixel centres on integers)."""
        self.vertical.blockSignals(True)
        self.horizontal.blockSignals(True)
        self.vertical.setValue(col + 0.5)
        self.horizontal.setValue(row + 0.5)
        self.vertical.blockSignals(False)
        self.horizontal.blockSignals(False)

    def pixel(self) -> tuple[float, float]:
        return self.horizontal.value() - 0.5, self.vertical.value() - 0.5

    def set_visible(self, visible: bool) -> None:
        self.vertical.setVisible(visible)
        self.horizontal.setVisible(visible)


class ReferenceLines:
    """Where the three planes cut an acquired view: one fixed line per plane."""

    def __init__(self, viewport) -> None:
        self.lines = {name: pg.InfiniteLine(movable=False) for name in PLANES}
        for name, line in self.lines.items():
            line.setPen(pg.mkPen(PLANE_COLOURS[name], width=1, style=Qt.PenStyle.DashLine))
            line.setZValue(LINE_Z)
            viewport.add_image_overlay(line)
            line.hide()

    def place(self, geometry, cursor, planes: dict) -> None:
        for name, line in self.lines.items():
            trace = plane_trace(geometry, cursor, planes[name].grid.w) if planes else None
            if trace is None:
                line.hide()
                continue
            (row, col), (d_row, d_col) = trace
            line.setPos((col + 0.5, row + 0.5))
            line.setAngle(float(np.degrees(np.arctan2(d_row, d_col))))
            line.show()

    def hide(self) -> None:
        for line in self.lines.values():
            line.hide()


class MprController(QObject):
    """Links the plane views of one volume: crosshair, scrolling, window/level, slab."""

    statusMessage = Signal(str)
    volumeReady = Signal(object)  # Volume

    def __init__(self, grid, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.grid = grid
        self.builder = VolumeBuilder(self)
        self.builder.built.connect(self._on_built)
        self.builder.failed.connect(lambda _s, message: self.statusMessage.emit(message))
        self.planes: dict[str, PlaneSeries] = {}
        self.base = None
        self.cursor: np.ndarray | None = None
        self.link_window = True
        self._layout = "1x3"
        self._linking = False
        self._crosshairs = {id(v): Crosshair(v, self._on_line_moved) for v in grid.viewports}
        self._references = {id(v): ReferenceLines(v) for v in grid.viewports}
        self._unfitted: set[int] = set()  # plane views to fit once their first plane arrives
        for viewport in grid.viewports:
            viewport.imageChanged.connect(lambda _k, _i, v=viewport: self._fit_first(v))
            viewport.state.changed.connect(lambda aspect, v=viewport: self._on_state(v, aspect))
            viewport.graphics.scene().sigMouseClicked.connect(
                lambda event, v=viewport: self._on_click(v, event)
            )

    # --- opening ------------------------------------------------------------------------------

    def open(self, series, layout: str = "1x3") -> bool:
        """Show `series` (or the volume a plane belongs to) in the MPR layout `layout`; True
        when its volume is being built first (`volumeReady` or `builder.failed` follows)."""
        series = getattr(series, "base", series)
        self._layout = layout
        if self.base is series and self.planes:
            self._show()
            return False
        self.statusMessage.emit("Building the volume for MPR…")
        self.builder.build(series)
        return True

    def is_busy(self) -> bool:
        return self.builder.is_busy()

    def clear(self) -> None:
        """Forget the volume and any build (a new study was opened)."""
        self.builder.forget()
        self.planes, self.base, self.cursor = {}, None, None
        for crosshair in self._crosshairs.values():
            crosshair.set_visible(False)

    def _on_built(self, series, volume) -> None:
        self.base = series
        self._base_geometry = series.geometry(0)  # read by the build: the header is cached
        self.planes = {name: PlaneSeries(series, volume, name) for name in PLANES}
        self.cursor = volume.index_to_patient((np.array(volume.shape) - 1) / 2.0)
        notes = "; ".join(volume.warnings) or "axial, coronal and sagittal planes ready"
        self.statusMessage.emit(f"MPR: {notes} (Shift+click or drag a line to move the crosshair)")
        self._show()
        self.volumeReady.emit(volume)

    def _show(self) -> None:
        self._linking = True
        try:
            views = self.grid.viewports
            for viewport, name in zip(views, PLANES, strict=False):
                plane = self.planes[name]
                self._unfitted.add(id(viewport))
                viewport.set_series(plane, plane.grid.nearest_frame(self.cursor))
            if self._layout == "2x2":
                views[3].set_series(self.base, self._acquired_frame())
            self.grid.set_layout(self._layout)
            self.grid.set_active(views[0])
        finally:
            self._linking = False
        self._share_window(views[0])
        self._place_lines()

    def _fit_first(self, viewport) -> None:
        """A plane is computed after `set_series` fitted an empty view: fit when it arrives."""
        if id(viewport) in self._unfitted and viewport.has_image():
            self._unfitted.discard(id(viewport))
            viewport.fit()

    # --- slab ---------------------------------------------------------------------------------

    def set_slab(self, slab_mm: float, mode: str) -> None:
        for viewport, plane in self._plane_views():
            plane.set_slab(slab_mm, mode)
            viewport.state.set_window(viewport.state.window)  # same window: re-render the frame

    # --- linking ------------------------------------------------------------------------------

    def _plane_views(self):
        planes = {id(p): p for p in self.planes.values()}
        for viewport in self.grid.shown():
            plane = planes.get(id(viewport.series()))
            if plane is not None:
                yield viewport, plane

    def _acquired_frame(self) -> int:
        return nearest_frame(self.cursor, self.base.info.frames) or 0

    def _on_state(self, viewport, aspect: str) -> None:
        if self._linking or not self.planes:
            return
        if aspect == "window":
            self._share_window(viewport)
        elif aspect == "frame":
            self._follow_scroll(viewport)
        elif aspect == "series":
            self._place_lines()

    def _follow_scroll(self, viewport) -> None:
        series = viewport.series()
        if series is self.base and self.cursor is not None:
            geometry = self._acquired_geometry(viewport.frame_index())
            self._move_cursor_onto(geometry.origin, geometry.normal)
        elif isinstance(series, PlaneSeries) and series in self.planes.values():
            origin = series.grid.frame_origin(viewport.frame_index())
            self._move_cursor_onto(origin, series.grid.w)

    def _move_cursor_onto(self, origin, normal) -> None:
        normal = np.asarray(normal, float)
        offset = float((np.asarray(origin, float) - self.cursor) @ normal)
        self.set_cursor(self.cursor + offset * normal)

    def set_cursor(self, point) -> None:
        """Move the crosshair to `point` (mm): other views scroll to it, lines follow."""
        self.cursor = np.asarray(point, float)
        self._linking = True
        try:
            for viewport, plane in self._plane_views():
                viewport.state.set_frame(plane.grid.nearest_frame(self.cursor))
            for viewport in self.grid.shown():
                if viewport.series() is self.base:
                    viewport.state.set_frame(self._acquired_frame())
        finally:
            self._linking = False
        self._place_lines()

    def _place_lines(self) -> None:
        shown = dict(self._plane_views())
        for viewport in self.grid.viewports:
            self._place_references(viewport)
            crosshair = self._crosshairs[id(viewport)]
            plane = shown.get(viewport)
            if plane is None or self.cursor is None:
                crosshair.set_visible(False)
                continue
            crosshair.set_colours(*self._line_colours(plane))
            row, col = plane.geometry(viewport.frame_index()).patient_to_pixel(self.cursor)
            crosshair.place(row, col)
            crosshair.set_visible(True)

    def _place_references(self, viewport) -> None:
        """The planes' traces on a view of the acquired series (the 2×2's fourth view)."""
        references = self._references[id(viewport)]
        if viewport.series() is None or viewport.series() is not self.base or self.cursor is None:
            references.hide()
            return
        references.place(self._acquired_geometry(viewport.frame_index()), self.cursor, self.planes)

    def _acquired_geometry(self, frame: int) -> FrameGeometry:
        """Frame `frame` of the acquired series, from the index (no header read here)."""
        ref = self.base.info.frames[frame]
        return replace(self._base_geometry, origin=ref.position)

    def _line_colours(self, plane: PlaneSeries):
        """The colour of the plane each line stands for: the one whose normal is u (vertical
        line) or v (horizontal line) of this view."""

        def owner(direction) -> tuple[int, int, int]:
            for name, other in self.planes.items():
                if abs(float(other.grid.w @ direction)) > 0.99:
                    return PLANE_COLOURS[name]
            return (255, 255, 255)

        return owner(plane.grid.u), owner(plane.grid.v)

    def _on_line_moved(self, crosshair: Crosshair) -> None:
        viewport = crosshair.viewport
        plane = dict(self._plane_views()).get(viewport)
        if plane is None:
            return
        row, col = crosshair.pixel()
        self.set_cursor(plane.geometry(viewport.frame_index()).pixel_to_patient(row, col))

    def _on_click(self, viewport, event) -> None:
        if not event.modifiers() & Qt.KeyboardModifier.ShiftModifier:
            return
        plane = dict(self._plane_views()).get(viewport)
        if plane is None or event.button() != Qt.MouseButton.LeftButton:
            return
        event.accept()
        row, col = viewport.scene_to_pixel(event.scenePos())
        self.set_cursor(plane.geometry(viewport.frame_index()).pixel_to_patient(row, col))

    def _mine(self, viewport) -> bool:
        series = viewport.series()
        return series is not None and (series is self.base or series in self.planes.values())

    def _share_window(self, source) -> None:
        if not self.link_window or not self._mine(source):
            return
        window = source.state.window
        self._linking = True
        try:
            for viewport in self.grid.shown():
                same = viewport.state.window == window
                if viewport is not source and self._mine(viewport) and not same:
                    viewport.state.set_window(window)
        finally:
            self._linking = False


class MprToolbar(QToolBar):
    """Slab thickness (mm), slab mode and the W/L link, for the MPR views."""

    def __init__(self, controller: MprController, parent=None) -> None:
        super().__init__("MPR", parent)
        self.setObjectName("MprToolbar")
        self.controller = controller
        self.addWidget(QLabel(" Slab "))
        self.slab = QDoubleSpinBox()
        self.slab.setRange(0.0, MAX_SLAB_MM)
        self.slab.setSingleStep(1.0)
        self.slab.setDecimals(1)
        self.slab.setSuffix(" mm")
        self.slab.setSpecialValueText("thin")
        self.mode = QComboBox()
        for mode, title in MODE_TITLES.items():
            self.mode.addItem(title, mode)
        self.link = QCheckBox("Link W/L")
        self.link.setChecked(True)
        for widget in (self.slab, self.mode, self.link):
            self.addWidget(widget)
        self.slab.valueChanged.connect(self._apply_slab)
        self.mode.currentIndexChanged.connect(self._apply_slab)
        self.link.toggled.connect(lambda on: setattr(controller, "link_window", bool(on)))

    def _apply_slab(self, *_args) -> None:
        self.controller.set_slab(self.slab.value(), self.mode.currentData())


class MprInstallation(QObject):
    """What `install_mpr` added to the main window."""

    def __init__(self, main_window) -> None:
        super().__init__(main_window)
        self.main_window = main_window
        self.controller = MprController(main_window.grid, self)
        self.toolbar = MprToolbar(self.controller, main_window)
        self.actions = {}
        self._waiting: tuple[object, str] | None = None

    def open(self, layout: str = "1x3") -> None:
        """MPR of the active view's series (after the loader has decoded it, if it is on it)."""
        window = self.main_window
        series = window.current_series()
        if series is None:
            window.statusBar().showMessage("Open a CT or MR series for MPR.", 5000)
            return
        base = getattr(series, "base", series)
        if base.volume is None and window.loader.is_busy():
            self._waiting = (base, layout)
            window.statusBar().showMessage("MPR starts when the series has loaded…")
            return
        self.toolbar.show()
        if self.controller.open(base, layout):
            window.begin_busy(BUSY_TOKEN)
        if layout in window.layout_actions:
            window.layout_actions[layout].setChecked(True)

    def clear(self) -> None:
        self._waiting = None
        self.controller.clear()
        self.main_window.end_busy(BUSY_TOKEN)

    def after_loading(self) -> None:
        if self._waiting is not None:
            base, layout = self._waiting
            self._waiting = None
            if self.main_window.current_series() in (base, *self.controller.planes.values()):
                self.open(layout)

    def is_busy(self) -> bool:
        return self.controller.is_busy()


def install_mpr(main_window) -> MprInstallation:
    """View → MPR entries and the MPR toolbar; the views are the grid's own viewports."""
    installed = MprInstallation(main_window)
    controller = installed.controller
    menu = main_window.menu("View").addMenu("MPR")
    for layout, title in MPR_LAYOUTS.items():
        action = menu.addAction(title)
        action.triggered.connect(lambda _=False, name=layout: installed.open(name))
        installed.actions[layout] = action
    main_window.add_toolbar(installed.toolbar)
    installed.toolbar.hide()
    controller.statusMessage.connect(lambda text: _status(main_window, text))
    controller.volumeReady.connect(lambda _v: main_window.end_busy(BUSY_TOKEN))
    controller.builder.failed.connect(lambda *_: main_window.end_busy(BUSY_TOKEN))
    main_window.indexLoaded.connect(lambda _index: installed.clear())
    main_window.loadingFinished.connect(installed.after_loading)
    main_window.aboutToClose.connect(controller.builder.shutdown)
    return installed


def _status(main_window, text: str) -> None:
    if text:
        main_window.statusBar().showMessage(text, 15000)
