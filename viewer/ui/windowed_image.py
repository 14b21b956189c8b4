"""The viewport's image item: modality values in, VOI rendered per paint at screen resolution.

`WindowedImageItem` is a pyqtgraph `ImageItem` whose coordinates stay the frame's own pixels
(x = column, y = row; children such as measurements and heatmaps follow it, and
`image_item.image` is the modality frame, so its shape is the frame's). Only what the paint
needs is rendered: the visible part of the frame, sampled at most about one source pixel per
screen pixel (`visible_region`), through `viewer.core.render.render_argb32` in one pass, and
drawn as an RGB32 `QImage` (Qt's fast path; pyqtgraph's own path renders the whole frame, maps
levels again and hands Qt a grey image it scales slowly).

Exactness: each screen pixel shows the standard's VOI output (`render_array`) of one source
pixel inside that screen pixel's footprint — what Qt's nearest-neighbour scaling of the whole
rendered frame shows too. Zoomed in (one source pixel per screen pixel or more) the visible
pixels are rendered one to one.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import pyqtgraph as pg
from PySide6.QtCore import QRectF
from PySide6.QtGui import QImage, QTransform

from viewer.core.render import render_argb32, render_array
from viewer.core.voi import Voi, full_range_window


@dataclass(frozen=True)
class Region:
    """Rows r0..r1 and columns c0..c1 (end exclusive) sampled every `step_r` / `step_c`."""

    r0: int
    r1: int
    c0: int
    c1: int
    step_r: int
    step_c: int

    def sample(self, values: np.ndarray) -> np.ndarray:
        return values[self.r0 : self.r1 : self.step_r, self.c0 : self.c1 : self.step_c]

    def target(self, rows: int, cols: int) -> QRectF:
        """Where a sample of `rows` × `cols` pixels is drawn, in frame pixel coordinates."""
        return QRectF(self.c0, self.r0, cols * self.step_c, rows * self.step_r)


def visible_region(
    item_to_device: QTransform, device: QRectF, shape: tuple[int, int], pixel_ratio: float = 1.0
) -> Region | None:
    """The part of a rows × cols frame that `device` shows, and the sampling step per axis.

    The step is the whole number of source pixels per device pixel (1 when zoomed in), so the
    sample holds at most about one source pixel per device pixel.
    """
    inverse, invertible = item_to_device.inverted()
    if not invertible:
        return None
    seen = inverse.mapRect(device)
    rows, cols = shape
    r0, r1 = max(0, math.floor(seen.top())), min(rows, math.ceil(seen.bottom()))
    c0, c1 = max(0, math.floor(seen.left())), min(cols, math.ceil(seen.right()))
    if r0 >= r1 or c0 >= c1:
        return None
    t = item_to_device
    step_c = _step(math.hypot(t.m11(), t.m12()) * pixel_ratio)
    step_r = _step(math.hypot(t.m21(), t.m22()) * pixel_ratio)
    return Region(r0, r1, c0, c1, step_r, step_c)


def _step(device_pixels_per_source_pixel: float) -> int:
    if device_pixels_per_source_pixel <= 0:
        return 1
    return max(1, int(1.0 / device_pixels_per_source_pixel + 1e-9))


class WindowedImageItem(pg.ImageItem):
    """An ImageItem showing a frame of modality values through a VOI (see module docstring)."""

    def __init__(self) -> None:
        super().__init__(axisOrder="row-major")
        self._voi: Voi | None = None
        self._photometric = "MONOCHROME2"
        self._invert = False
        self._generation = 0
        self._shown: tuple | None = None  # (key, pixels, QImage) of the last paint
        self.renders = 0  # paints that had to render (a repaint of the same view reuses it)

    def show_values(self, values: np.ndarray, voi: Voi | None, photometric: str, invert: bool):
        """Show `values` (HxW modality values or HxWx3 colour) through `voi`; no pixel work
        happens here, only at the next paint."""
        if voi is None and values.ndim == 2:
            voi = full_range_window(values)  # of the whole frame, not of the part on screen
        reshaped = self.image is None or self.image.shape[:2] != values.shape[:2]
        if reshaped:
            self.prepareGeometryChange()
        self.image = values
        self._voi, self._photometric, self._invert = voi, photometric, bool(invert)
        self._generation += 1
        self._shown = None
        if reshaped:
            self.informViewBoundsChanged()
        self.update()
        self.sigImageChanged.emit()

    def clear(self) -> None:
        self._shown = None
        super().clear()

    def rendered_frame(self) -> np.ndarray | None:
        """The whole frame as displayed, uint8 (HxW grey or HxWx3), computed on request."""
        if self.image is None:
            return None
        return render_array(self.image, self._voi, self._photometric, invert=self._invert)

    def rendered_shape(self) -> tuple[int, ...] | None:
        """Shape of the pixels the last paint rendered (the visible part, screen-sized)."""
        return None if self._shown is None else self._shown[1].shape

    def render(self, *args, **kwargs) -> None:  # noqa: ARG002 - pyqtgraph's full-frame path
        """pyqtgraph's whole-frame rendering is never used; `paint` renders what is seen."""

    def paint(self, painter, *args) -> None:  # noqa: ARG002 - Qt API
        if self.image is None:
            return
        region = visible_region(
            painter.transform(),
            QRectF(painter.viewport()),
            self.image.shape[:2],
            painter.device().devicePixelRatioF(),
        )
        if region is None:
            return
        pixels, qimage = self._region_image(region)
        painter.save()
        painter.setClipRect(self.boundingRect())
        painter.drawImage(region.target(*pixels.shape[:2]), qimage)
        painter.restore()

    def _region_image(self, region: Region) -> tuple[np.ndarray, QImage]:
        key = (self._generation, region)
        if self._shown is None or self._shown[0] != key:
            pixels = render_argb32(
                region.sample(self.image), self._voi, self._photometric, invert=self._invert
            )
            qimage = pg.functions.ndarray_to_qimage(pixels, QImage.Format.Format_RGB32)
            self._shown = (key, pixels, qimage)
            self.renders += 1
        return self._shown[1], self._shown[2]
