"""Measurement tools on the viewport: length, angle, ellipse and rectangle ROIs.

The ROIs are children of the image item (they follow zoom, pan, rotate and flip); every
reading comes from `viewer.core.measurements` on the modality values, and every change is kept
per image in the core's `MeasurementStore` sidecar (the DICOM files are never written).

Coordinates: the core uses (row, column) with pixel centres on integers; an ImageItem draws
pixel (r, c) over x in [c, c + 1], y in [r, r + 1]. `to_pixel` / `to_item` convert.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

import numpy as np
import pyqtgraph as pg
from PySide6.QtCore import QObject, QPointF, Qt, Signal
from PySide6.QtGui import QAction, QPainter, QPainterPath
from PySide6.QtWidgets import QToolBar

from viewer.core import measurements as core
from viewer.core.errors import RadLensError
from viewer.core.session import ViewIdentity
from viewer.ui import shortcuts
from viewer.ui.addons import MEASUREMENTS

log = logging.getLogger(__name__)

KINDS = tuple(core.KINDS)  # the tools, in the core's order
KIND_TITLES = {
    core.LENGTH: "Length",
    core.ANGLE: "Angle",
    core.ELLIPSE: "Ellipse ROI",
    core.RECTANGLE: "Rectangle ROI",
}
ROI_PEN = pg.mkPen((255, 220, 0), width=2)
ROI_HOVER_PEN = pg.mkPen((255, 255, 255), width=2)
SELECTED_PEN = pg.mkPen((0, 220, 255), width=2)
MEASUREMENT_Z = 20  # above the image and the heatmap
LABEL_MARGIN = 4  # screen pixels kept between a reading and the edge of the view


def to_pixel(point: QPointF) -> core.Point:
    """Image-item coordinates → core (row, column) with pixel centres on integers."""
    return (point.y() - 0.5, point.x() - 0.5)


def to_item(point: core.Point) -> QPointF:
    return QPointF(point[1] + 0.5, point[0] + 0.5)


@dataclass(frozen=True)
class ImageContext:
    """The image measurements belong to: where they are stored and what they are measured on."""

    study_uid: str
    sop_uid: str
    frame: int
    values: np.ndarray  # modality values on the pixel grid (HU for CT)
    spacing: core.Spacing | None  # (row, column) mm; None → readings in pixels
    view: ViewIdentity | None = None  # a reformat's view: its measurements are stored by it
    # the study's derived keys of RadLens ≤ 0.3.0 → today's, to move its old sidecar on first load
    legacy_keys: Mapping[str, str] = field(default_factory=dict, compare=False, repr=False)

    @property
    def stored_as(self) -> tuple[core.MeasuredImage, int]:
        """What the store keys this image's measurements by (`measurements.measured_image`)."""
        return (self.view if self.view is not None else self.sop_uid), self.frame


def reading(measurement: core.Measurement, context: ImageContext) -> str:
    """The text shown beside a measurement (ROI stats only on single-channel values)."""
    is_region = core.is_region(measurement.kind)
    values = context.values if is_region and context.values.ndim == 2 else None
    try:
        return core.describe(measurement, context.spacing, values)
    except ValueError as exc:
        return str(exc)


class PolylineROI(pg.ROI):
    """An open polyline through free handles (the angle tool); segments do not add points."""

    def __init__(self, positions: Sequence[QPointF], **kwargs):
        super().__init__((0, 0), (1, 1), **kwargs)
        for position in positions:
            self.addFreeHandle(position)

    def points(self) -> list[QPointF]:
        return [handle.pos() for handle in self.getHandles()]

    def paint(self, painter: QPainter, *args) -> None:
        painter.setRenderHint(QPainter.RenderHint.Antialiasing, self._antialias)
        painter.setPen(self.currentPen)
        points = self.points()
        for start, end in zip(points, points[1:], strict=False):
            painter.drawLine(start, end)

    def boundingRect(self):
        return self.shape().boundingRect()

    def shape(self) -> QPainterPath:
        path = QPainterPath()
        points = self.points()
        for start, end in zip(points, points[1:], strict=False):
            direction = end - start
            if direction.manhattanLength() == 0:
                continue
            normal = self.pixelVectors(pg.Point(direction))[1]
            if normal is None:
                continue
            normal = QPointF(normal.x() * 4, normal.y() * 4)
            path.addPolygon([start + normal, end + normal, end - normal, start - normal])
        return path


class BoxEllipseROI(pg.EllipseROI):
    """An axis-aligned ellipse (the core's ellipse is inscribed in an unrotated box)."""

    def _addHandles(self) -> None:
        self.addScaleHandle([1, 1], [0, 0])
        self.addScaleHandle([0, 0], [1, 1])


def _box_roi(kind: str, points: Sequence[core.Point]) -> pg.ROI:
    top_left, bottom_right = (to_item(p) for p in points)
    size = bottom_right - top_left
    options = {"pen": ROI_PEN, "hoverPen": ROI_HOVER_PEN, "rotatable": False, "removable": True}
    if core.KINDS[kind].outline == "ellipse":
        return BoxEllipseROI(top_left, size, **options)
    roi = pg.RectROI(top_left, size, **options)
    roi.addScaleHandle([0, 0], [1, 1])
    return roi


def build_roi(measurement: core.Measurement) -> pg.ROI:
    """The pyqtgraph ROI that draws and edits `measurement` (in image-item coordinates)."""
    if core.is_region(measurement.kind):
        return _box_roi(measurement.kind, measurement.points)
    positions = [to_item(p) for p in measurement.points]
    options = {"pen": ROI_PEN, "hoverPen": ROI_HOVER_PEN, "removable": True}
    if measurement.kind == core.LENGTH:
        return pg.LineSegmentROI(positions, **options)
    return PolylineROI(positions, **options)


def roi_points(kind: str, roi: pg.ROI) -> list[core.Point]:
    """The measurement's points read back from an edited ROI (in the ROI's parent coordinates)."""
    if core.is_region(kind):
        corner = roi.pos()
        return [to_pixel(corner), to_pixel(corner + roi.size())]
    return [to_pixel(roi.mapToParent(handle.pos())) for handle in roi.getHandles()]


class MeasurementGraphic:
    """One measurement on screen: its ROI and its reading label."""

    def __init__(self, measurement: core.Measurement, parent_item: pg.GraphicsObject):
        self.measurement = measurement
        self.roi = build_roi(measurement)
        self.roi.setParentItem(parent_item)
        self.roi.setZValue(MEASUREMENT_Z)
        self.roi.setAcceptedMouseButtons(Qt.MouseButton.LeftButton)
        self.label = pg.TextItem(color=(255, 220, 0), anchor=(0, 1), fill=(0, 0, 0, 140))
        self.label.setParentItem(parent_item)
        self.label.setZValue(MEASUREMENT_Z + 1)

    def sync_points(self) -> None:
        self.measurement.points = roi_points(self.measurement.kind, self.roi)

    def show_reading(self, text: str) -> None:
        self.label.setText(text)
        anchor_point = max(self.measurement.points, key=lambda p: (-p[0], p[1]))
        self.label.setPos(to_item(anchor_point))
        self.keep_label_inside()

    def keep_label_inside(self) -> None:
        """Put the label on the side of its point where it fits in the view (right/above
        first); a label wider than the view wraps to its width."""
        view_box = self.label.getViewBox()
        if view_box is None or not hasattr(view_box, "sceneBoundingRect"):
            return
        area = view_box.sceneBoundingRect().adjusted(
            LABEL_MARGIN, LABEL_MARGIN, -LABEL_MARGIN, -LABEL_MARGIN
        )
        self.label.setTextWidth(-1)
        if self.label.textItem.boundingRect().width() > area.width() > 0:
            self.label.setTextWidth(area.width())
        self.label.setAnchor((0, 1))
        self.label.updateTransform(force=True)
        rect = self.label.sceneBoundingRect()
        anchor_x = (
            1 if rect.right() > area.right() and rect.left() - rect.width() >= area.left() else 0
        )
        anchor_y = 0 if rect.top() < area.top() else 1
        if (anchor_x, anchor_y) != (0, 1):
            self.label.setAnchor((anchor_x, anchor_y))

    def text(self) -> str:
        return self.label.toPlainText()

    def set_selected(self, selected: bool) -> None:
        self.roi.setPen(SELECTED_PEN if selected else ROI_PEN)

    def remove_from_scene(self) -> None:
        for item in (self.roi, self.label):
            scene = item.scene()
            item.setParentItem(None)
            if scene is not None:
                scene.removeItem(item)


class MeasurementLayer(QObject):
    """Measurements of the image on screen: placement by clicks, editing, deleting, persistence."""

    measurementsChanged = Signal()
    edited = Signal()  # a measurement was added, moved or removed (and saved)
    placementChanged = Signal(str)  # kind being placed, "" when none
    error = Signal(str)

    def __init__(
        self,
        image_item: pg.ImageItem,
        parent: QObject | None = None,
        stores: dict[str, core.MeasurementStore] | None = None,
    ):
        super().__init__(parent)
        self._image_item = image_item
        self._context: ImageContext | None = None
        # Shared by the layers of all viewports: one store object per study, or their saves
        # would overwrite each other's measurements.
        self._stores = {} if stores is None else stores
        self._graphics: dict[str, MeasurementGraphic] = {}
        self._selected = ""
        self._placing = ""
        self._clicks: list[core.Point] = []
        self._preview = pg.ScatterPlotItem(size=7, brush=pg.mkBrush(255, 220, 0), pen=None)
        self._preview.setParentItem(image_item)
        self._preview.setZValue(MEASUREMENT_Z)
        self._rubber_band = pg.PlotCurveItem(pen=ROI_PEN)
        self._rubber_band.setParentItem(image_item)
        self._rubber_band.setZValue(MEASUREMENT_Z)
        self._scene_connected = None
        view_box = image_item.getViewBox()
        if view_box is not None:  # zoom, pan and resize move the readings back into view
            view_box.sigRangeChanged.connect(self._keep_labels_inside)
            view_box.sigResized.connect(self._keep_labels_inside)

    def _keep_labels_inside(self, *_args) -> None:
        for graphic in self._graphics.values():
            graphic.keep_label_inside()

    # --- image ---------------------------------------------------------------------------------

    def set_image(self, context: ImageContext | None) -> None:
        """Show the stored measurements of the image now on screen (none when None)."""
        if _same_image(context, self._context):
            self._context = context  # e.g. a new window: same pixels, keep the ROIs as they are
            return
        self.cancel_placement()
        self._clear_graphics()
        self._context = context
        self._draw_stored()
        self.measurementsChanged.emit()

    def context(self) -> ImageContext | None:
        return self._context

    def reload(self) -> None:
        """Redraw from the store (another viewport changed this image's measurements)."""
        self._clear_graphics()
        self._draw_stored()

    def _store(self) -> core.MeasurementStore | None:
        if self._context is None:
            return None
        study = self._context.study_uid
        if study not in self._stores:
            self._stores[study] = self._load_store(study, self._context.legacy_keys)
        return self._stores[study]

    def _load_store(self, study_uid: str, legacy_keys: Mapping[str, str]) -> core.MeasurementStore:
        store = core.MeasurementStore(study_uid, legacy_keys=legacy_keys)
        try:
            return store.load()
        except RadLensError as exc:
            self.error.emit(str(exc))
            return store

    def _draw_stored(self) -> None:
        store = self._store()
        if store is None:
            return
        for measurement in store.get(*self._context.stored_as):
            self._draw(measurement)

    # --- editing -------------------------------------------------------------------------------

    def add(self, measurement: core.Measurement) -> MeasurementGraphic | None:
        store = self._store()
        if store is None:
            return None
        store.add(*self._context.stored_as, measurement)
        graphic = self._draw(measurement)
        self._save()
        return graphic

    def remove(self, measurement_id: str) -> None:
        graphic = self._graphics.pop(measurement_id, None)
        store = self._store()
        if graphic is None or store is None:
            return
        graphic.remove_from_scene()
        store.remove(*self._context.stored_as, measurement_id)
        if self._selected == measurement_id:
            self._selected = ""
        self._save()

    def remove_selected(self) -> None:
        if self._selected:
            self.remove(self._selected)

    def clear_image(self) -> None:
        for measurement_id in list(self._graphics):
            self.remove(measurement_id)

    def graphics(self) -> list[MeasurementGraphic]:
        return list(self._graphics.values())

    def readings(self) -> dict[str, str]:
        return {key: graphic.text() for key, graphic in self._graphics.items()}

    def select(self, measurement_id: str) -> None:
        self._selected = measurement_id if measurement_id in self._graphics else ""
        for key, graphic in self._graphics.items():
            graphic.set_selected(key == self._selected)

    def selected(self) -> str:
        return self._selected

    def _draw(self, measurement: core.Measurement) -> MeasurementGraphic:
        graphic = MeasurementGraphic(measurement, self._image_item)
        graphic.show_reading(reading(measurement, self._context))
        key = measurement.id
        graphic.roi.sigRegionChanged.connect(lambda _roi, k=key: self._on_roi_moved(k, False))
        graphic.roi.sigRegionChangeFinished.connect(lambda _roi, k=key: self._on_roi_moved(k, True))
        graphic.roi.sigRemoveRequested.connect(lambda _roi, k=key: self.remove(k))
        graphic.roi.sigClicked.connect(lambda _roi, _ev, k=key: self.select(k))
        self._graphics[key] = graphic
        return graphic

    def _on_roi_moved(self, measurement_id: str, finished: bool) -> None:
        graphic = self._graphics.get(measurement_id)
        if graphic is None or self._context is None:
            return
        graphic.sync_points()
        graphic.show_reading(reading(graphic.measurement, self._context))
        if finished:
            self._save()

    def _save(self) -> None:
        store = self._store()
        try:
            store.save()
        except (OSError, RadLensError) as exc:
            self.error.emit(f"{store.path.name}: measurements not saved ({exc})")
        self.measurementsChanged.emit()
        self.edited.emit()

    def _clear_graphics(self) -> None:
        for graphic in self._graphics.values():
            graphic.remove_from_scene()
        self._graphics.clear()
        self._selected = ""

    # --- placement by clicks -------------------------------------------------------------------

    def begin_placement(self, kind: str) -> None:
        """The next clicks on the image place a `kind` (2 points, or 3 for an angle)."""
        if kind not in KINDS:
            raise ValueError(f"unknown measurement kind {kind!r}")
        self.cancel_placement()
        if self._context is None:
            return
        self._placing = kind
        self._connect_scene()
        view_box = self._image_item.getViewBox()
        if view_box is not None and hasattr(view_box, "left_drag_handler"):
            view_box.left_drag_handler = self.drag  # a left drag draws instead of panning
        self._set_cursor(Qt.CursorShape.CrossCursor)
        self.placementChanged.emit(kind)

    def _set_cursor(self, shape) -> None:
        """A cross over the image while a tool is active (the usual cursor otherwise)."""
        scene = self._image_item.scene()
        for view in scene.views() if scene is not None else ():
            if shape is None:
                view.viewport().unsetCursor()
            else:
                view.viewport().setCursor(shape)

    def cancel_placement(self) -> None:
        was_placing = bool(self._placing)
        self._placing, self._clicks = "", []
        self._preview.setData([])
        self._rubber_band.setData([], [])
        view_box = self._image_item.getViewBox()
        if view_box is not None and getattr(view_box, "left_drag_handler", None) == self.drag:
            view_box.left_drag_handler = None
        self._set_cursor(None)
        if was_placing:
            self.placementChanged.emit("")

    def placing(self) -> str:
        return self._placing

    def place_point(self, point: core.Point) -> MeasurementGraphic | None:
        """One click of the placement at (row, column); adds the measurement on its last click."""
        if not self._placing:
            return None
        self._clicks.append((float(point[0]), float(point[1])))
        positions = [to_item(p) for p in self._clicks]
        self._preview.setData([p.x() for p in positions], [p.y() for p in positions])
        if len(self._clicks) < core.POINTS_NEEDED[self._placing]:
            return None
        kind, clicks = self._placing, self._clicks
        self.cancel_placement()
        return self.add(core.Measurement(kind, _ordered(kind, clicks)))

    def drag(self, event) -> bool:
        """A left drag while placing: press = first point, release = next point (a length or
        a box in one drag; an angle's first arm, then a click for its third point)."""
        if not self._placing:
            return False
        event.accept()
        if event.isStart() and not self._clicks:
            self.place_point(self._pixel_at(event.buttonDownScenePos()))
        end = self._pixel_at(event.scenePos())
        if event.isFinish():
            self._rubber_band.setData([], [])
            self.place_point(end)
        else:
            self._show_rubber_band(end)
        return True

    def _pixel_at(self, scene_pos) -> core.Point:
        return to_pixel(self._image_item.mapFromScene(scene_pos))

    def _show_rubber_band(self, point: core.Point) -> None:
        """The shape being drawn, from the points so far to the mouse."""
        points = [*self._clicks, point]
        if self._placing in (core.ELLIPSE, core.RECTANGLE) and len(points) == 2:
            (r0, c0), (r1, c1) = points
            points = [(r0, c0), (r0, c1), (r1, c1), (r1, c0), (r0, c0)]
        positions = [to_item(p) for p in points]
        self._rubber_band.setData([p.x() for p in positions], [p.y() for p in positions])

    def _connect_scene(self) -> None:
        scene = self._image_item.scene()
        if scene is None or scene is self._scene_connected:
            return
        scene.sigMouseClicked.connect(self._on_scene_clicked)
        self._scene_connected = scene

    def _on_scene_clicked(self, event) -> None:
        if not self._placing or event.button() != Qt.MouseButton.LeftButton:
            return
        event.accept()
        self.place_point(to_pixel(self._image_item.mapFromScene(event.scenePos())))


def _same_image(a: ImageContext | None, b: ImageContext | None) -> bool:
    if a is None or b is None:
        return False
    return (a.study_uid, a.stored_as) == (b.study_uid, b.stored_as)


def _ordered(kind: str, points: list[core.Point]) -> list[core.Point]:
    """Boxes keep (top-left, bottom-right) so the ROI has a positive size."""
    if not core.is_region(kind):
        return points
    (r0, c0), (r1, c1) = points
    return [(min(r0, r1), min(c0, c1)), (max(r0, r1), max(c0, c1))]


# --- assembly into the main window ------------------------------------------------------------

# The shortcut command (viewer/ui/shortcuts.py) of each tool; a tool's command is its kind.
DELETE_COMMAND = "delete_measurement"


def image_context(viewport) -> ImageContext | None:
    """The measurement context of what a viewport shows (None when it shows nothing)."""
    series = viewport.series()
    if series is None:
        return None
    frame = viewport.frame_index()
    image, stored_frame = core.measured_image(series, frame)
    return ImageContext(
        study_uid=series.info.study.study_instance_uid,
        sop_uid=series.info.frames[frame].sop_instance_uid,
        frame=stored_frame,
        values=series.modality_frame(frame),
        spacing=viewport.pixel_spacing(),
        view=image if isinstance(image, ViewIdentity) else None,
        legacy_keys=series.info.study.legacy_keys,
    )


class MeasurementInstallation(QObject):
    """One MeasurementLayer per viewport (made when it first shows an image), and the actions."""

    def __init__(self, main_window):
        super().__init__(main_window)
        self.main_window = main_window
        self.layers: dict[int, MeasurementLayer] = {}
        self.stores: dict[str, core.MeasurementStore] = {}
        self.actions: dict[str, QAction] = {}

    def layer_for(self, viewport) -> MeasurementLayer:
        key = id(viewport)
        if key not in self.layers:
            layer = MeasurementLayer(viewport.image_item, self, self.stores)
            layer.error.connect(lambda text: self.main_window.statusBar().showMessage(text, 8000))
            layer.edited.connect(lambda source=layer: self._sync_others(source))
            layer.placementChanged.connect(self._show_placement)
            viewport.imageChanged.connect(lambda *_: layer.set_image(image_context(viewport)))
            self.layers[key] = layer
            layer.set_image(image_context(viewport))
        return self.layers[key]

    def _sync_others(self, source: MeasurementLayer) -> None:
        for layer in self.layers.values():
            if layer is not source and _same_image(layer.context(), source.context()):
                layer.reload()

    def follow_active(self, *_args: object) -> None:
        self.layer_for(self.main_window.active_viewport())

    def active_layer(self) -> MeasurementLayer:
        return self.layer_for(self.main_window.active_viewport())

    def begin(self, kind: str) -> None:
        """Make `kind` the active tool (choosing the active tool again puts it away)."""
        layer = self.active_layer()
        if layer.context() is None:
            self._show_placement("")
            self.main_window.statusBar().showMessage("Open an image to measure on it.", 5000)
            return
        if layer.placing() == kind:
            layer.cancel_placement()
            return
        layer.begin_placement(kind)

    def _show_placement(self, kind: str) -> None:
        """The active tool: its action checked, and how to use it in the status bar."""
        for name, action in self.actions.items():
            if name in KINDS:
                action.setChecked(name == kind)
        if kind:
            self.main_window.statusBar().showMessage(placement_hint(kind))
        else:
            self.main_window.statusBar().clearMessage()


def placement_hint(kind: str) -> str:
    """What the status bar says while a tool is active."""
    how = (
        "drag the first arm, then click the third point"
        if kind == core.ANGLE
        else "drag on the image (or click its two ends)"
    )
    return f"{KIND_TITLES[kind]} tool: {how}; choose the tool again to put it away"


def install_tools(main_window) -> MeasurementInstallation:
    """Measurement actions in Tools (and a toolbar), the tag browser dock; follow the images."""
    from viewer.ui.tag_browser import install_tag_browser

    installed = MeasurementInstallation(main_window)
    menu = main_window.menu("Tools")
    toolbar = QToolBar("Measure", main_window)
    toolbar.setObjectName("MeasureToolbar")
    for kind in KINDS:
        action = _action(main_window, KIND_TITLES[kind], kind)
        action.setCheckable(True)  # checked while the tool is active
        action.triggered.connect(lambda _=False, k=kind: installed.begin(k))
        menu.addAction(action)
        toolbar.addAction(action)
        installed.actions[kind] = action
    delete = _action(main_window, "Delete selected measurement", DELETE_COMMAND)
    delete.triggered.connect(lambda: installed.active_layer().remove_selected())
    clear = _action(main_window, "Clear measurements on this image", "")
    clear.triggered.connect(lambda: installed.active_layer().clear_image())
    for name, action in (("delete", delete), ("clear", clear)):
        menu.addAction(action)
        installed.actions[name] = action
    main_window.add_toolbar(toolbar)
    main_window.imageChanged.connect(installed.follow_active)
    installed.tag_browser = install_tag_browser(main_window)
    main_window.addons.register(MEASUREMENTS, installed)
    if main_window.current_series() is not None:
        installed.follow_active()
    return installed


def _action(parent, text: str, command: str) -> QAction:
    """An action with the shortcut of `command` in the shortcut table ("" for none)."""
    action = QAction(text, parent)
    if command:
        action.setShortcut(shortcuts.key_for(command))
    return action
