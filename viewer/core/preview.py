"""The first image before the header scan: one plain DICOM file of the input, opened alone.

`preview_series(paths)` picks the first candidate file of the first input (a file, or the first
file below a folder, in `walk_files` order), scans that one header and opens it as a `Series`,
so a viewer can show its frame while `build_index` reads every other header. Archives and
DICOMDIRs are not previewed (they are expanded once, by the index); None when the first
candidate is not an image.

`frame_for_display(series, i)` decodes a frame a loader shows before the volume load (first
image, thumbnail) in a worker process when it is slow to decode, so the loader's thread never
holds the interpreter lock through a JPEG 2000 or JPEG-LS decode.
"""

from __future__ import annotations

import os
import zipfile
from collections.abc import Iterable
from pathlib import Path

import numpy as np

from viewer.core.discovery import is_dicomdir, is_document, walk_files
from viewer.core.index import SeriesInfo, build_index
from viewer.core.loader import (
    MIN_FRAMES_FOR_WORKERS,
    decode_frame_in_worker,
    min_frames_for_workers,
)
from viewer.core.series import Series, open_series

FILES_TRIED = 8  # a folder that starts with a few non-image files still gets a preview


def preview_series(paths: Iterable[str | os.PathLike]) -> Series | None:
    """A `Series` of the first image file of `paths` (its file's frames only), or None."""
    for path in first_candidates(paths):
        infos = [info for info in build_index([path]).all_series() if info.frames]
        if infos and infos[0].rows and infos[0].columns:
            return open_series(infos[0])
    return None


def first_candidates(paths: Iterable[str | os.PathLike]) -> list[Path]:
    """Up to `FILES_TRIED` plain files at the start of the first input."""
    first = next(iter(paths), None)
    if first is None:
        return []
    first = Path(first)
    files = walk_files(first) if first.is_dir() else [first]
    return [p for p in files if _plain(p)][:FILES_TRIED]


def _plain(path: Path) -> bool:
    if is_dicomdir(path) or is_document(path) or not path.is_file():
        return False
    return not (path.suffix.lower() == ".zip" and zipfile.is_zipfile(path))


def frame_for_display(
    series: Series, i: int, *, first_image: bool = False, cancel=None
) -> np.ndarray:
    """`series.modality_frame(i)`, a frame slow to decode taken from a worker process.

    Slow: what the volume load sends to worker processes (JPEG 2000, JPEG-LS, frames of
    ≥ 1 Mpixel); the series keeps the frame as if it had decoded it. `first_image`: nothing is
    on screen yet, so unless the workers run already (they take ~1 s to start) the frame is
    decoded here at once (one decode's stall instead of a second more before the first image). `cancel`: a
    `threading.Event` (or callable) that stops the wait with `LoadCancelled`.
    """
    if series.frame_ready(i) or not decodes_in_workers(series.info):
        return series.modality_frame(i)
    values = decode_frame_in_worker(series.info, i, here_while_starting=first_image, cancel=cancel)
    return series.keep_frame(i, values)


def decodes_in_workers(info: SeriesInfo) -> bool:
    """Whether the volume load decodes this series' frames in worker processes from two on."""
    return min_frames_for_workers(info) < MIN_FRAMES_FOR_WORKERS
