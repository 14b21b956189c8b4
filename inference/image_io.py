"""Read dataset images (PNG/JPEG, or single-frame DICOM) as modality values for training/evaluation.

The viewer's DICOM path (index → series) is richer; this small reader exists because `inference`
must not import `viewer`, and folder-per-label datasets need no index.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
from PIL import Image, UnidentifiedImageError

from inference.errors import ImageInputError

RASTER_SUFFIXES = {".png", ".jpg", ".jpeg"}
DICOM_SUFFIXES = {".dcm", ".dicom", ""}


@dataclass(frozen=True)
class FileWindow:
    center: float
    width: float


@dataclass(frozen=True)
class LoadedImage:
    pixels: np.ndarray
    photometric: str = "MONOCHROME2"
    window: FileWindow | None = None
    modality: str = ""
    body_part: str = ""
    view: str = ""


def is_image_file(path: Path) -> bool:
    return path.is_file() and path.suffix.lower() in RASTER_SUFFIXES | DICOM_SUFFIXES


def read_image(path: str | Path) -> LoadedImage:
    """Grey values of a PNG/JPEG, or modality values of a DICOM file, with a clear error."""
    path = Path(path)
    if path.suffix.lower() in RASTER_SUFFIXES:
        return read_raster(path)
    return read_dicom(path)


def read_raster(path: Path) -> LoadedImage:
    try:
        with Image.open(path) as opened:
            kept = opened.mode in ("L", "I;16", "I", "RGB")
            pixels = np.asarray(opened if kept else opened.convert("RGB"))
    except (OSError, UnidentifiedImageError) as exc:
        raise ImageInputError(f"{path.name}: not a readable PNG/JPEG image ({exc})") from exc
    photometric = "RGB" if pixels.ndim == 3 else "MONOCHROME2"
    return LoadedImage(pixels=pixels, photometric=photometric)


def read_dicom(path: Path) -> LoadedImage:
    import pydicom
    from pydicom.errors import InvalidDicomError
    from pydicom.pixels import apply_modality_lut

    try:
        dataset = pydicom.dcmread(path)
        stored = dataset.pixel_array
    except (InvalidDicomError, OSError, ValueError, AttributeError, RuntimeError) as exc:
        raise ImageInputError(f"{path.name}: not a readable DICOM image ({exc})") from exc
    if getattr(dataset, "NumberOfFrames", 1) not in (None, 1, "1"):
        stored = stored[0]
    photometric = str(dataset.get("PhotometricInterpretation", "MONOCHROME2"))
    pixels = stored if photometric.startswith("RGB") else apply_modality_lut(stored, dataset)
    return LoadedImage(
        pixels=np.asarray(pixels),
        photometric=photometric,
        window=_first_window(dataset),
        modality=str(dataset.get("Modality", "")),
        body_part=str(dataset.get("BodyPartExamined", "")),
        view=str(dataset.get("ViewPosition", "")),
    )


def _first_window(dataset) -> FileWindow | None:
    center, width = dataset.get("WindowCenter"), dataset.get("WindowWidth")
    if center is None or width is None:
        return None
    first = lambda value: float(value[0] if hasattr(value, "__len__") else value)  # noqa: E731
    return FileWindow(center=first(center), width=first(width))
