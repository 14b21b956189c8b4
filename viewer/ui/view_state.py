"""The state one viewport reads from: series, frame, window, invert and the view transform.

`ViewState` is a small QObject model (napari `components/dims.py` style): setters validate and
emit `changed(aspect)` with aspect one of ``"series"``, ``"frame"``, ``"window"``,
``"transform"`` and ``"overlay"``. Widgets only bind to it. The pure functions below hold the
interaction maths so tests can call them without a window:

* `drag_window` — live right-drag window/level. Sensitivity: per screen pixel the width changes
  by ``dx * max(width, 1) / 256`` (drag right = wider, less contrast) and the centre by
  ``dy * max(width, 1) / 256`` (drag down = higher centre, darker image). Scaling by the
  current width makes the drag feel the same for a 2-wide binary image and a 4000-wide CT.
* `image_to_view_matrix` — image (col, row) → view coordinates for square pixels from the
  pixel spacing, flips and quarter-turn rotations (flip first, then rotate, about the centre).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from PySide6.QtCore import QObject, Signal

from viewer.core.presets import presets_for
from viewer.core.render import initial_voi
from viewer.core.voi import Voi, Window

WL_DRAG_DIVISOR = 256.0
MIN_WINDOW_WIDTH = 1.0


@dataclass(frozen=True)
class ViewTransform:
    """Quarter turns clockwise (0-3) and flips, applied flip first, then rotate."""

    rotation: int = 0
    flip_h: bool = False
    flip_v: bool = False


def drag_window(window: Window, dx: float, dy: float) -> Window:
    """The window after a right-drag of (dx, dy) screen pixels (see module docstring)."""
    step = max(window.width, 1.0) / WL_DRAG_DIVISOR
    width = max(MIN_WINDOW_WIDTH, window.width + dx * step)
    return Window(center=window.center + dy * step, width=width, function=window.function)


def image_to_view_matrix(
    rows: int, cols: int, aspect: float, transform: ViewTransform
) -> np.ndarray:
    """3x3 matrix taking (x=col, y=row, 1) to view coordinates (y down).

    `aspect` is row spacing / column spacing: one column step is one view unit, one row step is
    `aspect` units, so pixels show square in millimetres. The image centre stays at the origin.
    """
    centre = np.array([[1, 0, -cols / 2.0], [0, 1, -rows / 2.0], [0, 0, 1]], dtype=float)
    scale = np.diag([1.0, float(aspect), 1.0])
    flip = np.diag([-1.0 if transform.flip_h else 1.0, -1.0 if transform.flip_v else 1.0, 1.0])
    # With y pointing down, this matrix turns the picture clockwise by 90° per quarter turn.
    quarter = np.array([[0, -1, 0], [1, 0, 0], [0, 0, 1]], dtype=float)
    rotate = np.linalg.matrix_power(quarter, transform.rotation % 4)
    return rotate @ flip @ scale @ centre


def window_choices(
    series, frame: int, user_presets: dict | None = None
) -> list[tuple[str, Window]]:
    """Windows offered on the number keys, in order: the modality's shipped presets, the file's
    windows, then the user's own (settings `presets`, in the order saved), so saving a preset
    never moves the keys of those already there. Empty without a series or for colour."""
    if series is None or series.is_color:
        return []
    modality = series.info.modality.strip().upper()
    shipped = presets_for(modality, series.windows(frame))
    fixed = [(p.label, p.window) for p in shipped if not p.from_file]
    mine = [
        (str(label), Window(float(c), float(w), explanation=str(label)))
        for label, c, w in (user_presets or {}).get(modality, [])
    ]
    own = [(p.label, p.window) for p in shipped if p.from_file]
    return fixed + own + mine


def add_user_preset(presets: dict, modality: str, label: str, window: Window) -> dict:
    """`presets` with `window` saved under `label` for `modality`: appended, or replacing the
    preset of the same label in its place (its number key stays)."""
    key = modality.strip().upper()
    entry = [label, float(window.center), float(window.width)]
    saved = list(presets.get(key, []))
    labels = [p[0] for p in saved]
    if label in labels:
        saved[labels.index(label)] = entry
    else:
        saved.append(entry)
    return {**presets, key: saved}


def pixel_aspect(spacing: tuple[float, float] | None) -> float:
    """Row spacing / column spacing, 1.0 when unknown or invalid."""
    if not spacing:
        return 1.0
    row_spacing, col_spacing = (float(v) for v in spacing)
    if row_spacing <= 0 or col_spacing <= 0:
        return 1.0
    return row_spacing / col_spacing


class ViewState(QObject):
    """What one viewport shows. Attributes are read freely; change them through setters."""

    changed = Signal(str)

    def __init__(self, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.series = None  # viewer.core.series.Series | None
        self.frame = 0
        self.window: Voi | None = None
        self.invert = False
        self.transform = ViewTransform()
        self.show_overlays = True
        self.anonymise = False

    @property
    def frame_count(self) -> int:
        return len(self.series) if self.series is not None else 0

    @property
    def series_key(self) -> str:
        return self.series.info.key if self.series is not None else ""

    def set_series(self, series, frame: int | None = None) -> None:
        self.series = series
        count = self.frame_count
        self.frame = min(max(0, frame or 0), max(count - 1, 0))
        self.window = initial_voi(series, self.frame) if series is not None else None
        self.invert = False
        self.transform = ViewTransform()
        self.changed.emit("series")

    def set_frame(self, index: int) -> None:
        if self.series is None:
            return
        index = min(max(0, int(index)), self.frame_count - 1)
        if index != self.frame:
            self.frame = index
            self.changed.emit("frame")

    def step_frame(self, delta: int, wrap: bool = False) -> None:
        if self.frame_count == 0:
            return
        target = self.frame + delta
        if wrap:
            target %= self.frame_count
        self.set_frame(target)

    def set_window(self, window: Voi | None) -> None:
        if isinstance(window, Window) and window.width < MIN_WINDOW_WIDTH:
            window = Window(window.center, MIN_WINDOW_WIDTH, window.function, window.explanation)
        self.window = window
        self.changed.emit("window")

    def set_invert(self, invert: bool) -> None:
        self.invert = bool(invert)
        self.changed.emit("window")

    def set_transform(self, transform: ViewTransform) -> None:
        self.transform = ViewTransform(transform.rotation % 4, transform.flip_h, transform.flip_v)
        self.changed.emit("transform")

    def rotate(self, quarter_turns: int = 1) -> None:
        t = self.transform
        self.set_transform(ViewTransform(t.rotation + quarter_turns, t.flip_h, t.flip_v))

    def flip(self, horizontal: bool = True) -> None:
        """Flip as seen on screen. After an odd number of quarter turns a screen flip is a flip
        of the other image axis (Fh·R = R·Fv), so the rotation itself never changes."""
        t = self.transform
        image_h = horizontal != bool(t.rotation % 2)
        self.set_transform(
            ViewTransform(t.rotation, t.flip_h != image_h, t.flip_v != (not image_h))
        )

    def set_overlays(self, show: bool | None = None, anonymise: bool | None = None) -> None:
        if show is not None:
            self.show_overlays = bool(show)
        if anonymise is not None:
            self.anonymise = bool(anonymise)
        self.changed.emit("overlay")
