"""Frame geometry in the patient coordinate system (DICOM PS3.3 C.7.6.2.1.1, LPS axes).

A pixel (row r, column c) sits at  P = S + c·Δc·X + r·Δr·Y  where S is ImagePositionPatient,
X the row direction cosine (first three of ImageOrientationPatient: the direction in which the
column index grows), Y the column direction cosine, Δr = PixelSpacing[0] (between rows) and
Δc = PixelSpacing[1] (between columns).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from viewer.core.errors import RadLensError

# +x points to the patient's Left, +y Posterior, +z Head (LPS).
_AXIS_LETTERS = (("L", "R"), ("P", "A"), ("H", "F"))
_OBLIQUE_THRESHOLD = 0.25  # a component smaller than this does not get a letter
_OPPOSITE = {"L": "R", "R": "L", "A": "P", "P": "A", "H": "F", "F": "H"}


def slice_normal(orientation: Sequence[float]) -> np.ndarray:
    """The unit normal of a frame's plane: row cosine × column cosine (the 6 values of
    ImageOrientationPatient). The one definition; sorting, volumes, SEG, overlays use it."""
    row, col = np.asarray(orientation[:3], float), np.asarray(orientation[3:], float)
    normal = np.cross(row, col)
    norm = np.linalg.norm(normal)
    return normal / norm if norm > 0 else normal


@dataclass(frozen=True)
class FrameGeometry:
    """Where one frame lies in the patient, when the file says so.

    `origin` and the cosines are None for images without patient geometry (e.g. a projection
    radiograph); then only `spacing` (from PixelSpacing or ImagerPixelSpacing) and the
    `patient_orientation` letters (0020,0020) may be known.
    """

    rows: int
    columns: int
    spacing: tuple[float, float] | None  # (between rows, between columns) in mm
    origin: tuple[float, ...] | None = None  # three values (x, y, z) in mm
    row_cosine: tuple[float, ...] | None = None  # three values
    column_cosine: tuple[float, ...] | None = None  # three values
    slice_thickness: float | None = None
    spacing_source: str = ""  # "PixelSpacing", "ImagerPixelSpacing" or ""
    patient_orientation: tuple[str, str] | None = None

    @property
    def has_patient_geometry(self) -> bool:
        return None not in (self.origin, self.row_cosine, self.column_cosine, self.spacing)

    @property
    def normal(self) -> np.ndarray:
        self._require_geometry()
        return slice_normal((*self.row_cosine, *self.column_cosine))

    def pixel_to_patient(self, row: float, col: float) -> np.ndarray:
        """Patient coordinates (mm, LPS) of the centre of pixel (row, col)."""
        self._require_geometry()
        delta_r, delta_c = self.spacing
        return (
            np.asarray(self.origin, float)
            + col * delta_c * np.asarray(self.row_cosine, float)
            + row * delta_r * np.asarray(self.column_cosine, float)
        )

    def patient_to_pixel(self, point) -> tuple[float, float]:
        """(row, col) of a patient point projected onto this frame's plane."""
        self._require_geometry()
        offset = np.asarray(point, float) - np.asarray(self.origin, float)
        col = float(np.dot(offset, self.row_cosine)) / self.spacing[1]
        row = float(np.dot(offset, self.column_cosine)) / self.spacing[0]
        return row, col

    def row_direction_letters(self) -> str:
        """Letters for the direction of increasing column (screen right), e.g. "L" or "LP"."""
        if self.row_cosine is not None:
            return direction_letters(self.row_cosine)
        return self.patient_orientation[0] if self.patient_orientation else ""

    def column_direction_letters(self) -> str:
        """Letters for the direction of increasing row (screen down), e.g. "P" or "F"."""
        if self.column_cosine is not None:
            return direction_letters(self.column_cosine)
        return self.patient_orientation[1] if self.patient_orientation else ""

    def edge_labels(self) -> dict[str, str]:
        """Orientation markers for the four image edges: left, right, top, bottom."""
        right, bottom = self.row_direction_letters(), self.column_direction_letters()
        return {
            "right": right,
            "left": opposite_letters(right),
            "bottom": bottom,
            "top": opposite_letters(bottom),
        }

    def _require_geometry(self) -> None:
        if not self.has_patient_geometry:
            raise RadLensError("this image has no patient position/orientation (or pixel spacing)")


def direction_letters(vector) -> str:
    """Patient direction letters of a unit vector, strongest component first."""
    components = np.asarray(vector, float)
    order = np.argsort(-np.abs(components))
    letters = []
    for axis in order:
        value = components[axis]
        if abs(value) >= _OBLIQUE_THRESHOLD:
            letters.append(_AXIS_LETTERS[axis][0 if value > 0 else 1])
    return "".join(letters)


def opposite_letters(letters: str) -> str:
    return "".join(_OPPOSITE.get(ch, ch) for ch in letters)
