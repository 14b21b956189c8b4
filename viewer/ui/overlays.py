"""Corner overlays: what they say (pure functions) and the transparent widget that draws them.

`overlay_text(...)` builds an `OverlayText` from the series info, the view state and the view
matrix; `OverlayLayer` paints it over a viewport and ignores the mouse. Orientation letters are
derived from the matrix actually applied to the image, so they follow rotation and flips by
construction. With `anonymise` the patient name, ID and dates are replaced on screen.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
from PySide6.QtCore import QRect, Qt
from PySide6.QtGui import QColor, QFont, QPainter
from PySide6.QtWidgets import QWidget

from viewer.core.formatting import description, dicom_date, person_name, sex_age
from viewer.core.geometry import opposite_letters, slice_normal
from viewer.core.voi import Window

ANONYMISED = "Anonymised"
EMPTY_HINT = "Drop a series here from the Studies list"


@dataclass
class OverlayText:
    top_left: list[str] = field(default_factory=list)
    top_right: list[str] = field(default_factory=list)
    bottom_left: list[str] = field(default_factory=list)
    bottom_right: list[str] = field(default_factory=list)
    edges: dict[str, str] = field(default_factory=dict)  # left/right/top/bottom → letters
    centre: str = ""  # a hint in the middle of an empty viewport


def edge_letters(geometry, view_matrix: np.ndarray) -> dict[str, str]:
    """Letters at the screen edges for a frame's `FrameGeometry` under the view matrix.

    The matrix is a signed axis permutation (quarter turns and flips), so each screen direction
    is ± one image axis; the core names the image axes (from ImageOrientationPatient, else
    PatientOrientation): +column → `row_direction_letters`, +row → `column_direction_letters`.
    """
    axis_letters = (geometry.row_direction_letters(), geometry.column_direction_letters())
    if not any(axis_letters):
        return {}
    inverse = np.linalg.inv(view_matrix[:2, :2])

    def letters(screen_step) -> str:
        step = inverse @ np.asarray(screen_step, dtype=float)
        axis = int(np.argmax(np.abs(step)))
        named = axis_letters[axis]
        return named if step[axis] > 0 else opposite_letters(named)

    return {
        "right": letters((1, 0)),
        "left": letters((-1, 0)),
        "bottom": letters((0, 1)),
        "top": letters((0, -1)),
    }


# The corners, the browser and the report write names and dates alike (viewer.core.formatting).
format_person_name = person_name
format_date = dicom_date


def slice_position(frame_ref) -> float | None:
    """Distance of the frame's plane from the origin along its normal, in mm."""
    position = getattr(frame_ref, "position", None)
    orientation = getattr(frame_ref, "orientation", None)
    if position is None or not orientation or len(orientation) != 6:
        return None
    normal = slice_normal(orientation)
    return float(np.dot(normal, np.asarray(position, dtype=float)))


def window_label(window) -> str:
    if isinstance(window, Window):
        return f"W {window.width:.0f}  L {window.center:.0f}"
    return f"VOI LUT {getattr(window, 'explanation', '')}".strip()


def _patient_lines(info, anonymise: bool) -> list[str]:
    patient = info.study.patient
    if anonymise:
        name, pid = ANONYMISED, ""
    else:
        name, pid = format_person_name(patient.name), str(patient.patient_id or "")
    age = sex_age(patient.sex, patient.age, patient.birth_date, info.study.date)
    return [v for v in (name, f"ID: {pid}" if pid else "", age) if v]


def _study_lines(info, anonymise: bool) -> list[str]:
    study = info.study
    date = "" if anonymise else format_date(study.date)
    series = " ".join(
        v
        for v in (
            f"Se {info.number}" if info.number is not None else "",
            description(info.description),
        )
        if v
    )
    return [v for v in (date, description(study.description), series, info.modality) if v]


def overlay_text(state, view_matrix: np.ndarray | None, zoom: float) -> OverlayText:
    """All four corners and edge letters for the state's current series and frame."""
    series = state.series
    if series is None:
        return OverlayText(centre=EMPTY_HINT)
    info = series.info
    frame_ref = info.frames[state.frame] if state.frame < len(info.frames) else None
    slice_lines = [f"Im {state.frame + 1}/{state.frame_count}"]
    position = slice_position(frame_ref)
    if position is not None:
        slice_lines.append(f"Pos {position:.1f} mm")
    window = state.window
    wl = [window_label(window)] if window is not None else []
    wl += ["Inverted"] if state.invert else []
    edges = (
        edge_letters(series.geometry(state.frame), view_matrix) if view_matrix is not None else {}
    )
    return OverlayText(
        top_left=_patient_lines(info, state.anonymise),
        top_right=_study_lines(info, state.anonymise),
        bottom_left=slice_lines,
        bottom_right=wl + [f"Zoom {zoom * 100:.0f}%"],
        edges=edges,
    )


class OverlayLayer(QWidget):
    """Transparent, mouse-transparent child widget that paints an `OverlayText`."""

    MARGIN = 6

    def __init__(self, parent: QWidget) -> None:
        super().__init__(parent)
        self.setAttribute(Qt.WidgetAttribute.WA_TransparentForMouseEvents)
        self.setAttribute(Qt.WidgetAttribute.WA_NoSystemBackground)
        self.text = OverlayText(centre=EMPTY_HINT)
        font = QFont(self.font())
        font.setPointSize(9)
        self.setFont(font)

    def set_text(self, text: OverlayText) -> None:
        self.text = text
        self.update()

    def paintEvent(self, event) -> None:  # noqa: N802 - Qt API
        painter = QPainter(self)
        area = self.rect().adjusted(self.MARGIN, self.MARGIN, -self.MARGIN, -self.MARGIN)
        align = Qt.AlignmentFlag
        corners = (
            (self.text.top_left, align.AlignLeft | align.AlignTop),
            (self.text.top_right, align.AlignRight | align.AlignTop),
            (self.text.bottom_left, align.AlignLeft | align.AlignBottom),
            (self.text.bottom_right, align.AlignRight | align.AlignBottom),
        )
        for lines, flags in corners:
            self._draw(painter, area, flags, "\n".join(self._fitted(lines, area)))
        wrap = Qt.TextFlag.TextWordWrap
        self._draw(painter, area, int(align.AlignCenter) | int(wrap), self.text.centre)
        edges = {
            "left": align.AlignLeft | align.AlignVCenter,
            "right": align.AlignRight | align.AlignVCenter,
            "top": align.AlignHCenter | align.AlignTop,
            "bottom": align.AlignHCenter | align.AlignBottom,
        }
        for edge, flags in edges.items():
            self._draw(painter, area, flags, self.text.edges.get(edge, ""))
        painter.end()

    def _fitted(self, lines: list[str], area: QRect) -> list[str]:
        """A corner's lines within its quarter of the view (small viewports, 2×2): each line
        elided to half the width, and only as many lines as half the height holds."""
        metrics = self.fontMetrics()
        room = max(1, (area.height() // 2) // max(1, metrics.lineSpacing()))
        width = max(1, area.width() // 2 - self.MARGIN)
        elide = Qt.TextElideMode.ElideRight
        return [metrics.elidedText(line, elide, width) for line in lines[:room]]

    @staticmethod
    def _draw(painter: QPainter, area: QRect, flags, text: str) -> None:
        if not text:
            return
        painter.setPen(QColor(0, 0, 0))
        painter.drawText(area.translated(1, 1), int(flags), text)
        painter.setPen(QColor(255, 235, 120))
        painter.drawText(area, int(flags), text)
