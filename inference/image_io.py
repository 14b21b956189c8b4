"""Dataset images for training/evaluation: PNG/JPEG here; DICOM through the caller's reader.

One DICOM reader for the whole project, the viewer core's (index → series → modality values, the
file's own VOI): `inference` may not import `viewer`, so training and evaluation take an
`ImageReader` (path → `AnalysisInput`), and `radlens train`/`evaluate` pass
`viewer.core.analysis_input.file_analysis_input`. The model then sees the same pixels in training
as in use. Without such a reader, a DICOM file is refused with a one-line reason.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import numpy as np
from PIL import Image, UnidentifiedImageError

from inference.errors import ImageInputError
from inference.types import AnalysisInput

RASTER_SUFFIXES = {".png", ".jpg", ".jpeg"}
DICOM_SUFFIXES = {".dcm", ".dicom", ""}

ImageReader = Callable[[Path], AnalysisInput]


def is_image_file(path: Path) -> bool:
    return path.is_file() and path.suffix.lower() in RASTER_SUFFIXES | DICOM_SUFFIXES


def is_raster_file(path: Path) -> bool:
    return Path(path).suffix.lower() in RASTER_SUFFIXES


def read_image(path: str | Path) -> AnalysisInput:
    """A PNG/JPEG as grey (or RGB) values; DICOM needs the viewer core's reader (see above)."""
    path = Path(path)
    if is_raster_file(path):
        return read_raster(path)
    raise ImageInputError(
        f"{path.name}: DICOM is read by the viewer core; pass its reader "
        "(viewer.core.analysis_input.file_analysis_input), as radlens train/evaluate do"
    )


def read_raster(path: str | Path) -> AnalysisInput:
    """A PNG/JPEG: no header, so its intended use cannot be verified (`from_dicom` False)."""
    path = Path(path)
    try:
        with Image.open(path) as opened:
            kept = opened.mode in ("L", "I;16", "I", "RGB")
            pixels = np.asarray(opened if kept else opened.convert("RGB"))
    except (OSError, UnidentifiedImageError) as exc:
        raise ImageInputError(f"{path.name}: not a readable PNG/JPEG image ({exc})") from exc
    photometric = "RGB" if pixels.ndim == 3 else "MONOCHROME2"
    return AnalysisInput(pixels=pixels, photometric=photometric, source=str(path))
