"""DICOM frame → `inference.types.AnalysisInput`: modality values plus what the model card checks
(modality, body part, view position, the patient's age at the examination).

The glue between the core (index → series) and the engine; torch-free, so the UI can build inputs
on the GUI thread and hand them to its worker. `file_analysis_input` is the one reader of dataset
files that training and evaluation use (PNG/JPEG via `inference.image_io`, DICOM via the core), so
the model sees the same pixels in training as in use.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

from inference.errors import ImageInputError
from inference.image_io import is_raster_file, read_raster
from inference.types import AnalysisInput
from viewer.core.formatting import parse_date
from viewer.core.pictures import is_picture_format
from viewer.core.session import view_identity

DAYS_PER_YEAR = 365.2425
AGE_UNITS = {"D": 1 / DAYS_PER_YEAR, "W": 7 / DAYS_PER_YEAR, "M": 1 / 12, "Y": 1.0}
AGE_STRING = re.compile(r"^\s*(\d{1,3})\s*([DWMY])\s*$", re.I)


def frame_analysis_input(series, index: int, source: str = "") -> AnalysisInput:
    """Frame `index` of an open `viewer.core.series.Series` as the engine's input."""
    header = series.header(index)
    frame = series.info.frames[index]
    windows = series.windows(index)
    return AnalysisInput(
        pixels=series.modality_frame(index),
        photometric=series.photometric,
        modality=str(series.info.modality or ""),
        body_part=str(header.get("BodyPartExamined", "") or ""),
        view=str(header.get("ViewPosition", "") or ""),
        window=windows[0] if windows else None,
        cache_key=analysis_cache_key(series, index),
        source=source or frame.path,
        from_dicom=not is_picture_format(series.info.pixel_format),  # a JPEG/PNG: no header
        patient_age_years=patient_age_years(header),
    )


def analysis_cache_key(series, index: int) -> tuple:
    """(SOP Instance UID, frame) of an acquired frame (the same instance opened twice shares
    its result); a reformatted frame adds its plane and slab (`ViewIdentity`), since a thin
    plane and a MIP slab of the same position are different images."""
    frame = series.info.frames[index]
    identity = view_identity(series, index)
    reformat = identity.key[2:]  # () for an acquired frame
    return (frame.sop_instance_uid, frame.frame_index, *reformat)


def patient_age_years(header: Any) -> float | None:
    """The patient's age at the examination: PatientAge (AS, e.g. "004Y"), else PatientBirthDate
    against StudyDate (else AcquisitionDate); None when neither is usable."""
    stated = age_string_years(str(header.get("PatientAge", "") or ""))
    if stated is not None:
        return stated
    born = parse_date(header.get("PatientBirthDate", ""))
    examined = parse_date(header.get("StudyDate", "")) or parse_date(
        header.get("AcquisitionDate", "")
    )
    if born is None or examined is None or examined < born:
        return None
    return (examined - born).days / DAYS_PER_YEAR


def age_string_years(value: str) -> float | None:
    """A DICOM Age String (nnnD/W/M/Y) in years; None when empty or malformed."""
    match = AGE_STRING.match(value)
    if match is None:
        return None
    return int(match.group(1)) * AGE_UNITS[match.group(2).upper()]


def file_analysis_input(path: str | Path) -> AnalysisInput:
    """One dataset file as the engine's input: PNG/JPEG as grey values, DICOM through the core
    (its first image: index → series → modality values, the file's VOI). Raises ImageInputError."""
    from viewer.core.errors import RadLensError
    from viewer.core.index import build_index
    from viewer.core.series import open_series

    path = Path(path)
    if is_raster_file(path):
        return read_raster(path)
    index = build_index([path])
    series = index.all_series()
    if not series:
        reason = index.skipped[0].reason if index.skipped else "no image in the file"
        raise ImageInputError(f"{path.name}: {reason}")
    try:
        return frame_analysis_input(open_series(series[0]), 0, path.name)
    except RadLensError as exc:
        raise ImageInputError(f"{path.name}: {getattr(exc, 'reason', exc)}") from exc
