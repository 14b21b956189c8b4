"""JPEG/PNG pictures (researchers' chest X-rays, the training data) opened as secondary images.

A picture has no patient, study or geometry: it becomes a one-frame series of its own with empty
patient fields, the file name as its description, no modality (as `radlens analyze` reads it)
and no pixel spacing, so measurements are in pixels; its series warning says so. The pixels are
read as `inference.image_io.read_raster` reads them (grey stays grey; an RGB file whose channels
are equal is grey too). UIDs are derived from the file's path (a hash: no name shows in them).

`picture_records(path)` is the header scan's counterpart (`HeaderRecord`s, or `SkippedFile`
with the reason), `read_picture(path)` the frame decoder and `picture_header(info)` the
stand-in header a `Series` reads.
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
from PIL import Image, UnidentifiedImageError
from pydicom.dataset import Dataset

from viewer.core.discovery import has_dicm_marker
from viewer.core.errors import DicomReadError
from viewer.core.installation_secret import keyed_digest
from viewer.core.scan import HeaderRecord, PixelFormat, SkippedFile

PICTURE_SUFFIXES = frozenset({".png", ".jpg", ".jpeg"})
PICTURE_SYNTAX = "JPEG/PNG file"  # PixelFormat.transfer_syntax of a picture (not a DICOM UID)
SECONDARY_CAPTURE = "1.2.840.10008.5.1.4.1.1.7"
MAX_PICTURE_PIXELS = 64 * 1024 * 1024  # memory stays bounded whatever the file claims
PICTURE_NOTE = (
    "secondary image (JPEG/PNG): no patient data; pixel spacing unknown, measurements in pixels"
)
PICTURE_STUDY_DESCRIPTION = "Secondary images (JPEG/PNG)"


def is_picture(path: str | os.PathLike) -> bool:
    path = Path(path)
    return path.suffix.lower() in PICTURE_SUFFIXES and not has_dicm_marker(path)


def is_picture_format(fmt: PixelFormat | None) -> bool:
    return fmt is not None and fmt.transfer_syntax == PICTURE_SYNTAX


def _uid(*parts: str) -> str:
    """A UID stable on this installation; keyed, so a guessed path (which may carry a patient's
    name) cannot be hashed and matched against it."""
    return f"2.25.{int(keyed_digest(*parts)[:30], 16)}"


def read_picture(path: str | os.PathLike) -> np.ndarray:
    """The picture's pixels: uint8/uint16 grey HxW, or uint8 RGB HxWx3 (DicomReadError)."""
    try:
        with Image.open(path) as image:
            width, height = image.size
            if width * height > MAX_PICTURE_PIXELS:
                raise DicomReadError(
                    str(path), f"picture of {width}×{height} pixels is larger than allowed"
                )
            kept = image.mode in ("L", "I;16", "I", "RGB")
            pixels = np.asarray(image if kept else image.convert("RGB"))
    except (OSError, UnidentifiedImageError, Image.DecompressionBombError) as exc:
        raise DicomReadError(str(path), f"not a readable PNG/JPEG image ({exc})") from None
    if pixels.ndim == 3 and _grey(pixels):
        return np.ascontiguousarray(pixels[..., 0])
    if pixels.dtype == np.int32:  # mode "I": 32-bit grey, kept as 16-bit when it fits
        return pixels.clip(0, 65535).astype(np.uint16)
    return pixels


def _grey(rgb: np.ndarray) -> bool:
    return bool(
        np.array_equal(rgb[..., 0], rgb[..., 1]) and np.array_equal(rgb[..., 1], rgb[..., 2])
    )


def picture_records(path: str | os.PathLike) -> list[HeaderRecord] | SkippedFile:
    """One record for a JPEG/PNG file, or the reason it cannot be shown."""
    path = str(path)
    try:
        pixels = read_picture(path)
    except DicomReadError as exc:
        return SkippedFile(path, exc.reason)
    rows, columns = pixels.shape[:2]
    colour = pixels.ndim == 3
    bits = 16 if pixels.dtype == np.uint16 else 8
    fmt = PixelFormat(
        bits_allocated=bits,
        bits_stored=bits,
        pixel_representation=0,
        samples_per_pixel=3 if colour else 1,
        photometric="RGB" if colour else "MONOCHROME2",
        transfer_syntax=PICTURE_SYNTAX,
        little_endian=True,
        encapsulated=True,
    )
    resolved = str(Path(path).resolve())
    folder = str(Path(resolved).parent)
    return [
        HeaderRecord(
            path=path,
            frame_index=0,
            number_of_frames=1,
            sop_instance_uid=_uid("image", resolved),
            sop_class_uid=SECONDARY_CAPTURE,
            instance_number=1,
            position=None,
            orientation=None,
            rows=rows,
            columns=columns,
            pixel_format=fmt,
            modality="",
            patient=("", "", "", "", ""),
            study=(_uid("study", folder), "", "", PICTURE_STUDY_DESCRIPTION, "", "", ""),
            series_instance_uid=_uid("series", resolved),
            series_number=None,
            series_description=Path(path).name,
            notes=(PICTURE_NOTE,),
        )
    ]


def picture_header(info) -> Dataset:
    """What a `Series` reads from a header, for a picture: sizes, photometric, UIDs; no
    spacing, no window, no patient."""
    ds = Dataset()
    fmt = info.pixel_format
    ds.SOPClassUID = SECONDARY_CAPTURE
    ds.SOPInstanceUID = info.frames[0].sop_instance_uid
    ds.SeriesInstanceUID = info.series_instance_uid
    ds.Modality = info.modality
    ds.SeriesDescription = info.description
    ds.Rows, ds.Columns = info.rows, info.columns
    ds.SamplesPerPixel = fmt.samples_per_pixel
    ds.PhotometricInterpretation = fmt.photometric
    ds.BitsAllocated = ds.BitsStored = fmt.bits_allocated
    ds.HighBit = fmt.bits_allocated - 1
    ds.PixelRepresentation = 0
    return ds
