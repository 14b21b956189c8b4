"""The AI heatmap drawn over the image: a pyqtgraph ImageItem parented to the image item.

Being a child of the image item, the heatmap shares its transform, so zoom, pan, rotate and
flip move both exactly together; no second transform has to be kept in step. Every image item
(viewport) gets its own heatmap item; following another viewport never re-parents an item into
another scene (that crashes Qt).
"""

from __future__ import annotations

import math

import numpy as np
import pyqtgraph as pg
import shiboken6
from PySide6.QtCore import QObject, Qt, Signal
from PySide6.QtGui import QColor, QImage, QLinearGradient, QPainter, QPixmap, QTransform

HEATMAP_COLORMAP = "inferno"
LUT_SIZE = 256
DEFAULT_OPACITY = 0.5
DEFAULT_CONTOUR_LEVEL = 0.5
HEATMAP_Z = 10  # above the image, below measurement ROIs
CONTOUR_GRID = 256  # the iso-contour is traced on at most this many samples per side


def heatmap_lut(name: str = HEATMAP_COLORMAP, size: int = LUT_SIZE) -> np.ndarray:
    """RGBA lookup table whose alpha rises with the value, so weak activation stays see-through."""
    lut = pg.colormap.get(name).getLookupTable(0.0, 1.0, size, alpha=True)
    lut[:, 3] = np.linspace(0, 255, size).round().astype(np.uint8)
    return lut


def colour_bar_labels(scale: str) -> tuple[str, str, str]:
    """(top label, bottom label, tooltip) of the colour bar for a result's `heatmap_scale`."""
    from viewer.report.overlay import HEATMAP_MEANING

    meaning = HEATMAP_MEANING.get(scale, HEATMAP_MEANING["relative"])
    if scale == "absolute":
        return "1 strong", "0 none", meaning
    return "1", "0", meaning


def colour_bar_pixmap(width: int = 16, height: int = 120, name: str = HEATMAP_COLORMAP) -> QPixmap:
    """A vertical colour bar (1.0 at the top) painted from the same colormap as the overlay."""
    gradient = QLinearGradient(0, height, 0, 0)
    for position, colour in zip(*pg.colormap.get(name).getStops(mode="byte"), strict=True):
        gradient.setColorAt(float(position), QColor(*(int(c) for c in colour)))
    image = QImage(width, height, QImage.Format.Format_ARGB32)
    image.fill(Qt.GlobalColor.transparent)
    painter = QPainter(image)
    painter.fillRect(0, 0, width, height, gradient)
    painter.end()
    return QPixmap.fromImage(image)


class _HeatmapLayer:
    """The heatmap ImageItem and its iso-contour drawn on one image item (created there, never
    moved to another item: re-parenting a pyqtgraph item into another scene crashes Qt)."""

    def __init__(self, image_item: pg.ImageItem | None) -> None:
        self.item = pg.ImageItem(axisOrder="row-major")  # heatmaps are HxW by contract
        self.item.setLookupTable(heatmap_lut())
        self.item.setZValue(HEATMAP_Z)
        self.contour = pg.IsocurveItem(
            level=DEFAULT_CONTOUR_LEVEL, pen=pg.mkPen("c", width=1.5), axisOrder="row-major"
        )
        self.contour.setParentItem(self.item)
        self.contour.setVisible(False)
        if image_item is not None:
            self.item.setParentItem(image_item)

    def draw(self, heatmap: np.ndarray) -> None:
        if heatmap.size:
            self.item.setImage(heatmap, levels=(0.0, 1.0), autoLevels=False)
            self._set_contour_data(heatmap)
        else:
            self.item.clear()
            self.contour.setData(None)

    def hide(self) -> None:
        self.draw(np.zeros((0, 0), dtype=np.float32))
        self.item.setVisible(False)

    def _set_contour_data(self, heatmap: np.ndarray) -> None:
        """Trace on a subsampled grid (heatmaps are smooth; tracing full size stalls the UI)."""
        step = max(1, math.ceil(max(heatmap.shape) / CONTOUR_GRID))
        self.contour.setData(heatmap[::step, ::step])
        self.contour.setTransform(contour_transform(step))


class HeatmapOverlay(QObject):
    """The heatmap and its optional iso-contour over the image item it is attached to.

    Each image item gets its own heatmap item, made on first `attach` and kept there; attaching
    to another image item (another viewport) hides the heatmap on the previous one and draws it
    on the new one. No graphics item ever moves from one scene to another.
    """

    changed = Signal()

    def __init__(self, image_item: pg.ImageItem | None = None, parent: QObject | None = None):
        super().__init__(parent)
        self._heatmap = np.zeros((0, 0), dtype=np.float32)
        self._label = ""
        self._shown = True
        self._opacity = DEFAULT_OPACITY
        self._contour_on = False
        self._contour_level = DEFAULT_CONTOUR_LEVEL
        self._layers: dict[pg.ImageItem, _HeatmapLayer] = {}
        self._layer = _HeatmapLayer(None)  # parented on the first attach
        self._image_item: pg.ImageItem | None = None
        self._apply_display(self._layer)
        if image_item is not None:
            self.attach(image_item)

    @property
    def item(self) -> pg.ImageItem:
        """The heatmap item on the image item attached now."""
        return self._layer.item

    @property
    def contour_item(self) -> pg.IsocurveItem:
        return self._layer.contour

    @property
    def label(self) -> str:
        return self._label

    def heatmap(self) -> np.ndarray:
        return self._heatmap

    def attach(self, image_item: pg.ImageItem) -> None:
        """Draw the heatmap on `image_item` from now on (a child item inherits its transform);
        the one on the previous image item is hidden. A heatmap computed for another grid than
        `image_item` shows is dropped."""
        if image_item is self._image_item:
            return
        previous, self._image_item = self._layer, image_item
        self._forget_deleted_items()
        if not shiboken6.isValid(previous.item):
            pass  # deleted with its image item
        elif previous.item.parentItem() is None:  # the first attach: the item gets its place
            previous.item.setParentItem(image_item)
            self._layers[image_item] = previous
        else:
            previous.hide()
        self._layer = self._layers.get(image_item) or self._new_layer(image_item)
        self._apply_display(self._layer)
        if grid_mismatch(image_grid(image_item), self._heatmap) is None:
            self._layer.draw(self._heatmap)
            self._update_visibility()
        else:
            self.clear()

    def _new_layer(self, image_item: pg.ImageItem) -> _HeatmapLayer:
        layer = _HeatmapLayer(image_item)
        self._layers[image_item] = layer
        return layer

    def _forget_deleted_items(self) -> None:
        """Drop the layers of image items Qt has deleted (their children went with them)."""
        for image_item in [i for i in self._layers if not shiboken6.isValid(i)]:
            del self._layers[image_item]

    def set_heatmap(self, heatmap: np.ndarray | None, label: str = "") -> None:
        """Show `heatmap` (float HxW in [0, 1] on the image's pixel grid); None clears it."""
        if heatmap is None:
            self.clear()
            return
        heatmap = np.asarray(heatmap, dtype=np.float32)
        self._check_grid(heatmap)
        self._heatmap, self._label = heatmap, label
        self._layer.draw(heatmap)
        self._update_visibility()
        self.changed.emit()

    def clear(self) -> None:
        self._heatmap, self._label = np.zeros((0, 0), dtype=np.float32), ""
        self._layer.draw(self._heatmap)
        self._update_visibility()
        self.changed.emit()

    def set_shown(self, shown: bool) -> None:
        self._shown = bool(shown)
        self._update_visibility()

    def set_opacity(self, opacity: float) -> None:
        self._opacity = min(max(float(opacity), 0.0), 1.0)
        self._apply_display(self._layer)

    def opacity(self) -> float:
        return float(self._layer.item.opacity())

    def set_contour(self, enabled: bool, level: float | None = None) -> None:
        if level is not None:
            self._contour_level = float(level)
        self._contour_on = bool(enabled)
        self._apply_display(self._layer)

    def has_heatmap(self) -> bool:
        return self._heatmap.size > 0

    def _apply_display(self, layer: _HeatmapLayer) -> None:
        layer.item.setOpacity(self._opacity)
        layer.contour.setLevel(self._contour_level)
        layer.contour.setVisible(self._contour_on)

    def _update_visibility(self) -> None:
        self._layer.item.setVisible(self._shown and self.has_heatmap())

    def _check_grid(self, heatmap: np.ndarray) -> None:
        """A heatmap is only drawn on the image grid it was computed for."""
        if heatmap.ndim != 2:
            raise ValueError(f"heatmap must be 2-D, got shape {heatmap.shape}")
        problem = grid_mismatch(image_grid(self._image_item), heatmap)
        if problem:
            raise ValueError(problem)


def grid_mismatch(grid: tuple[int, int] | None, heatmap: np.ndarray) -> str | None:
    """Why `heatmap` cannot be drawn on an image of `grid` (rows, columns), or None."""
    if grid is None or not heatmap.size or grid == heatmap.shape:
        return None
    return f"heatmap grid {heatmap.shape} does not match the image on screen {grid}"


def contour_transform(step: int) -> QTransform:
    """Maps the subsampled grid back: sample j sits at j + 0.5 there, at j * step + 0.5 here."""
    offset = 0.5 - 0.5 * step
    return QTransform().translate(offset, offset).scale(step, step)


def image_grid(image_item: pg.ImageItem | None) -> tuple[int, int] | None:
    """(rows, columns) of the image an item shows, whatever its axis order; None when empty."""
    image = None if image_item is None else image_item.image
    if image is None:
        return None
    if image_item.axisOrder == "row-major":
        return int(image.shape[0]), int(image.shape[1])
    return int(image.shape[1]), int(image.shape[0])
