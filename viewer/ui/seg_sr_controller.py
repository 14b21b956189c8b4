"""DICOM SEG and SR in the viewer: docks, File menu entries, and the overlay in every viewport.

Segmentations and reports stay open across studies: a SEG opened before its images, or from
another folder, shows as soon as an image it lies on is shown (matched by Frame of Reference
and position, see `viewer.core.seg`). Objects in an opened study come from the index; File →
"Open segmentation or report…" adds more without closing the images. Reading, decoding and
painting run on `SegSrWorker`'s thread; this module only binds results to items.

Per viewport: one RGBA `pg.ImageItem` (the visible segments in their colours) and the SR's
SCOORD/SCOORD3D graphics that lie on the shown image, both children of the image item so they
follow zoom, rotation and flips.
"""

from __future__ import annotations

import math

import pyqtgraph as pg
from PySide6.QtCore import QObject, QPointF, Qt
from PySide6.QtGui import QAction, QPainterPath, QPen
from PySide6.QtWidgets import (
    QDockWidget,
    QFileDialog,
    QGraphicsEllipseItem,
    QGraphicsPathItem,
)

from viewer.core.seg import Segmentation
from viewer.core.study_objects import SEG, SR
from viewer.ui.addons import SEG_SR
from viewer.ui.seg_sr_panels import ReportPanel, SegmentPanel
from viewer.ui.seg_sr_worker import SegSrWorker

SEGMENT_Z = 9  # under the AI heatmap (10) and the measurement ROIs
GRAPHIC_COLOUR = "#ffd400"
POINT_RADIUS = 3.0


class ViewportOverlay:
    """The segment picture and SR graphics of one viewport."""

    def __init__(self, viewport) -> None:
        self.viewport = viewport
        self.item = pg.ImageItem(axisOrder="row-major")
        self.item.setZValue(SEGMENT_Z)
        self.item.setVisible(False)
        viewport.add_image_overlay(self.item)
        self.graphics: list = []
        self.identity = None  # the ViewIdentity the overlay was painted for (None: nothing)

    def show(self, rgba, graphics) -> None:
        if rgba is None:
            self.item.setVisible(False)
        else:
            self.item.setImage(rgba, autoLevels=False, levels=(0, 255))
            self.item.setVisible(True)
        self._clear_graphics()
        for graphic, points in graphics:
            item = graphic_item(graphic.graphic_type, points)
            item.setToolTip(graphic.label or graphic.graphic_type)
            item.setZValue(SEGMENT_Z + 2)
            self.viewport.add_image_overlay(item)
            self.graphics.append(item)

    def clear(self) -> None:
        self.show(None, [])
        self.identity = None

    def _clear_graphics(self) -> None:
        for item in self.graphics:
            scene = item.scene()
            if scene is not None:
                scene.removeItem(item)
        self.graphics = []


def graphic_item(graphic_type: str, points):
    """A Qt item for an SCOORD graphic; `points` are (row, col) with pixel centres on integers,
    drawn in image item coordinates (x = col + 0.5, y = row + 0.5)."""
    xy = [QPointF(c + 0.5, r + 0.5) for r, c in points]
    pen = QPen(pg.mkColor(GRAPHIC_COLOUR))
    pen.setCosmetic(True)
    pen.setWidthF(2.0)
    if graphic_type == "CIRCLE" and len(xy) >= 2:
        item = QGraphicsEllipseItem(*_circle_box(xy[0], xy[1]))
    elif graphic_type == "ELLIPSE" and len(xy) >= 4:
        item = _ellipse_item(xy)
    else:
        item = QGraphicsPathItem(_path(graphic_type, xy))
    item.setPen(pen)
    return item


def _circle_box(centre: QPointF, edge: QPointF) -> tuple[float, float, float, float]:
    radius = math.hypot(edge.x() - centre.x(), edge.y() - centre.y())
    return centre.x() - radius, centre.y() - radius, 2 * radius, 2 * radius


def _ellipse_item(xy: list[QPointF]) -> QGraphicsEllipseItem:
    (a0, a1, b0, b1) = xy[:4]
    centre = QPointF((a0.x() + a1.x()) / 2, (a0.y() + a1.y()) / 2)
    major = math.hypot(a1.x() - a0.x(), a1.y() - a0.y()) / 2
    minor = math.hypot(b1.x() - b0.x(), b1.y() - b0.y()) / 2
    item = QGraphicsEllipseItem(-major, -minor, 2 * major, 2 * minor)
    item.setPos(centre)
    item.setRotation(math.degrees(math.atan2(a1.y() - a0.y(), a1.x() - a0.x())))
    return item


def _path(graphic_type: str, xy: list[QPointF]) -> QPainterPath:
    path = QPainterPath()
    if graphic_type in ("POINT", "MULTIPOINT"):
        for point in xy:
            path.addEllipse(point, POINT_RADIUS, POINT_RADIUS)
        return path
    if xy:
        path.moveTo(xy[0])
        for point in xy[1:]:
            path.lineTo(point)
        if graphic_type == "POLYGON":
            path.closeSubpath()
    return path


class SegSrController(QObject):
    def __init__(self, main_window) -> None:
        super().__init__(main_window)
        self.main_window = main_window
        self.worker = SegSrWorker(self)
        self.segments = SegmentPanel()
        self.reports = ReportPanel()
        self.overlays: dict[str, ViewportOverlay] = {}
        self._painting: dict[str, object] = {}  # viewport key → ViewIdentity being painted
        self._requested: set[str] = set()  # paths read (or being read): each read once
        self.segment_dock = self._dock("Segmentations", "SegmentationsDock", self.segments)
        self.report_dock = self._dock("Reports", "ReportsDock", self.reports)
        main_window.tabifyDockWidget(self.segment_dock, self.report_dock)
        self.segment_dock.raise_()
        self.worker.loaded.connect(self._on_loaded)
        self.worker.painted.connect(self._on_painted)
        self.segments.styleChanged.connect(self.repaint_all)
        main_window.indexLoaded.connect(self.open_index_objects)
        main_window.aboutToClose.connect(self.worker.shutdown)
        self.reports.set_anonymise(main_window.settings.anonymise)
        main_window.anonymiseChanged.connect(self.reports.set_anonymise)
        for viewport in main_window.grid.viewports:
            self.overlays[_key(viewport)] = ViewportOverlay(viewport)
            viewport.imageChanged.connect(lambda *_, v=viewport: self.repaint(v))

    def _dock(self, title: str, name: str, widget) -> QDockWidget:
        dock = QDockWidget(title, self.main_window)
        dock.setObjectName(name)
        dock.setWidget(widget)
        self.main_window.add_dock(dock, Qt.DockWidgetArea.RightDockWidgetArea)
        return dock

    # --- opening -------------------------------------------------------------------------------

    def open_index_objects(self, index) -> None:
        items = [
            (o.path, o.kind)
            for o in index.all_objects()
            if o.kind in (SEG, SR) and o.path not in self._requested
        ]
        if items:
            self._requested.update(path for path, _ in items)
            self.worker.load(items)

    def open_paths(self, paths) -> None:
        """SEG/SR files or folders, added to what is open (images stay)."""
        self.worker.load_paths([str(p) for p in paths])

    def choose_files(self) -> None:
        paths, _ = QFileDialog.getOpenFileNames(
            self.main_window,
            "Open segmentation or structured report",
            self.main_window.settings.last_folder,
            "DICOM SEG / SR (*.dcm *.seg *);;All files (*)",
        )
        if paths:
            self.open_paths(paths)

    def close_all(self) -> None:
        self._requested.clear()
        self.segments.clear()
        self.reports.clear()
        self.repaint_all()

    def is_busy(self) -> bool:
        return self.worker.is_busy()

    def _on_loaded(self, results) -> None:
        problems = []
        for _path, found, error in results:
            if error:
                problems.append(error)
            elif isinstance(found, Segmentation):
                self.segments.add_segmentation(found)
                self.segment_dock.raise_()
            elif found is not None:
                self.reports.add_report(found)
                if not self.segments.segmentations():
                    self.report_dock.raise_()
        if problems:
            self.main_window.statusBar().showMessage("; ".join(problems), 15000)
        self.repaint_all()

    # --- painting ------------------------------------------------------------------------------

    def repaint_all(self) -> None:
        for viewport in self.main_window.grid.viewports:
            self.repaint(viewport)

    def repaint(self, viewport) -> None:
        overlay = self.overlays[_key(viewport)]
        series = viewport.series()
        styles, reports = self.segments.styles(), self.reports.reports()
        if series is None or viewport.frame_index() < 0 or not (styles or reports):
            self.worker.cancel(_key(viewport))
            overlay.clear()
            return
        self._painting[_key(viewport)] = self.main_window.shown_view(viewport)
        self.worker.paint(_key(viewport), (series, viewport.frame_index()), styles, reports)

    def _on_painted(self, key: str, rgba, graphics) -> None:
        """Show the picture only on the view identity it was painted for."""
        overlay = self.overlays.get(key)
        identity = self._painting.pop(key, None)
        if overlay is not None and identity == self.main_window.shown_view(overlay.viewport):
            overlay.show(rgba, graphics)
            overlay.identity = identity


def _key(viewport) -> str:
    return str(id(viewport))


def install_seg_sr(main_window) -> SegSrController:
    """Segment list and report docks, File menu entries, overlays in every viewport."""
    controller = SegSrController(main_window)
    menu = main_window.menu("File")
    open_action = QAction("Open segmentation or report…", menu)
    open_action.triggered.connect(lambda _=False: controller.choose_files())
    close_action = QAction("Close segmentations and reports", menu)
    close_action.triggered.connect(lambda _=False: controller.close_all())
    actions = menu.actions()  # after File → Recent, with the other ways to open
    recent = actions.index(main_window.recent_menu.menuAction())
    menu.insertActions(
        actions[recent + 1] if recent + 1 < len(actions) else None, [open_action, close_action]
    )
    main_window.addons.register(SEG_SR, controller)
    if main_window.index is not None:
        controller.open_index_objects(main_window.index)
    return controller
