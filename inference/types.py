"""The engine's data types (torch-free, so Qt-free callers can build inputs without torch).

`inference.engine` re-exports them; docs/ARCHITECTURE.md is the contract.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np


@dataclass(frozen=True)
class AnalysisInput:
    pixels: np.ndarray  # modality values, HxW (or HxWx3 RGB), never screen pixels
    photometric: str = "MONOCHROME2"
    modality: str = ""
    body_part: str = ""
    view: str = ""
    window: Any | None = None  # the file's own VOI if any (viewer.core.voi.Window or alike)
    cache_key: tuple | None = None  # (SOPInstanceUID, frame)
    source: str = ""  # path, for messages
    # What the intended-use gate checks besides the above (inference.intended_use):
    from_dicom: bool = False  # False (PNG/JPEG, bare arrays): intended use not verifiable
    patient_age_years: float | None = None  # PatientAge, else birth date vs study date


@dataclass(frozen=True)
class Finding:
    label: str
    probability: float
    threshold: float
    positive: bool


@dataclass(frozen=True)
class AnalysisResult:
    findings: tuple[Finding, ...]
    heatmaps: dict[str, np.ndarray]  # label → float32 HxW in [0,1] on the input pixel grid
    model_name: str
    model_version: str
    model_sha256: str
    device: str
    timings: dict[str, float]
    warnings: tuple[str, ...]
    intended_use_ok: bool  # False: outside the intended use (refused or forced) or not verifiable
    intended_use_reasons: tuple[str, ...] = ()  # why not ok, one short phrase each
    # "absolute": one fixed scale on every image (1 = the card's reference evidence);
    # "relative": scaled to [0, 1] per image (compare regions within one image only)
    heatmap_scale: str = "relative"
    # Labels whose map is shown although their probability is below the card's display
    # threshold (`heatmap_hide_below`): drawn because the caller asked for clear negatives' maps
    heatmaps_on_request: tuple[str, ...] = ()
    heatmap_hide_below: float = 0.0
