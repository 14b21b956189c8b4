"""Values of interest (VOI): windows, VOI LUTs and presets (DICOM PS3.3 C.11.2).

Applied at render time only; stored pixels are never changed.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class Window:
    """A window centre/width with its VOI LUT function (LINEAR, LINEAR_EXACT or SIGMOID)."""

    center: float
    width: float
    function: str = "LINEAR"
    explanation: str = ""


@dataclass(frozen=True)
class VoiLut:
    """A VOI LUT Sequence item: first mapped value, bits per entry and the table itself."""

    first_mapped: int
    bits: int
    table: np.ndarray
    explanation: str = ""
