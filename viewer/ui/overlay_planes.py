"""Overlay planes on the viewports: the file's own graphics (DICOM 60xx), drawn over the image
in every viewport, with View → Show overlay planes (Shift+O) to hide them.

The masks come from `viewer.core.overlay_planes`; each viewport gets one RGBA image item, a
child of its image item, so the planes follow zoom, pan, rotation and flips like the pixels.
"""

from __future__ import annotations

import logging

import pyqtgraph as pg
from PySide6.QtCore import QObject

from viewer.core.errors import RadLensError
from viewer.core.overlay_planes import frame_overlay, overlay_rgba
from viewer.ui.toggles import Toggle, add_toggle

log = logging.getLogger(__name__)

PLANES_Z = 15  # above the image and the heatmap, below measurements


class OverlayPlanes(QObject):
    """One overlay-plane layer per viewport and the View menu toggle."""

    def __init__(self, main_window) -> None:
        super().__init__(main_window)
        self.main_window = main_window
        toggle = Toggle("Show overlay planes", "overlay_planes", None, self.refresh, checked=True)
        self.action = add_toggle(main_window.menu("View"), toggle)
        self.items: dict[int, pg.ImageItem] = {}
        for viewport in main_window.grid.viewports:
            viewport.imageChanged.connect(lambda *_a, vp=viewport: self.update(vp))

    def shown(self) -> bool:
        return self.action.isChecked()

    def refresh(self) -> None:
        for viewport in self.main_window.grid.viewports:
            self.update(viewport)

    def update(self, viewport) -> None:
        """Draw the planes of the frame `viewport` shows (hide the layer when there are none)."""
        item = self._item(viewport)
        mask = self._mask(viewport) if self.shown() else None
        if mask is None:
            item.setVisible(False)
            return
        item.setImage(overlay_rgba(mask), autoLevels=False, levels=(0, 255))
        item.setVisible(True)

    def _mask(self, viewport):
        series = viewport.series()
        if series is None:
            return None
        try:
            return frame_overlay(series, viewport.frame_index())
        except RadLensError as exc:  # the reason is the file's; the image itself still shows
            log.warning("overlay planes not shown: %s", exc)
            return None

    def _item(self, viewport) -> pg.ImageItem:
        key = id(viewport)
        if key not in self.items:
            item = pg.ImageItem(axisOrder="row-major")
            item.setZValue(PLANES_Z)
            item.setVisible(False)
            viewport.add_image_overlay(item)
            self.items[key] = item
        return self.items[key]
