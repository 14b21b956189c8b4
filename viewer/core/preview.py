"""The first image before the header scan: one plain DICOM file of the input, opened alone.

`preview_series(paths)` picks the first candidate file of the first input (a file, or the first
file below a folder, in `walk_files` order), scans that one header and opens it as a `Series`,
so a viewer can show its frame while `build_index` reads every other header. Archives and
DICOMDIRs are not previewed (they are expanded once, by the index); None when the first
candidate is not an image.
"""

from __future__ import annotations

import os
import zipfile
from collections.abc import Iterable
from pathlib import Path

from viewer.core.discovery import is_dicomdir, is_document, walk_files
from viewer.core.index import build_index
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
