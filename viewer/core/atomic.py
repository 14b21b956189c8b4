"""Output files: atomic writes (a temporary file in the target folder, then `os.replace`), and
checking a target before a long job so that it fails first, not after the work.

Errors name the target the user chose, never the hidden temporary file. The temporary file is
held locked by its writer (`inference.files`, the one home of the atomic write), so one left by a killed RadLens is recognised
and removed the next time anything is written into that folder.
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path

from inference.files import (  # the one atomic write, shared with inference (re-exported)
    TEMP_PREFIX,
    TEMP_SUFFIX,
    atomic_write_bytes,
    atomic_write_text,
    clean_stale_temp_files,
    locked_temp_file,
)
from viewer.core.errors import RadLensError

__all__ = [
    "MIN_FREE_BYTES",
    "OutputTargetError",
    "atomic_write_bytes",
    "atomic_write_text",
    "check_output_file",
    "check_output_folder",
]

MIN_FREE_BYTES = 16 * 1024**2  # a report or an SC/SR pair needs a few MB; refuse a full disk


class OutputTargetError(RadLensError):
    """A target that cannot be written: `target: reason`."""

    def __init__(self, target: str | os.PathLike, reason: str) -> None:
        super().__init__(f"{target}: {reason}")
        self.target = str(target)
        self.reason = reason


def check_output_file(path: str | os.PathLike) -> Path:
    """Before a long job: could a file be written at `path`? Else `OutputTargetError`.

    The folder must exist and take a new file (probed by writing one byte into a temporary
    file, which also catches read-only and full disks), and `path` must not be a folder.
    """
    target = Path(path)
    if target.is_dir():
        raise OutputTargetError(target, "is a folder; give a file name")
    folder = target.parent
    if not folder.exists():
        raise OutputTargetError(target, f"folder {folder} does not exist")
    if not folder.is_dir():
        raise OutputTargetError(target, f"{folder} is not a folder")
    _check_writable(folder, target)
    return target


def check_output_folder(path: str | os.PathLike) -> Path:
    """Before a long job: could files be written into folder `path` (made if missing)?"""
    target = Path(path)
    if target.exists() and not target.is_dir():
        raise OutputTargetError(target, "is not a folder")
    existing = target if target.exists() else target.parent
    if not existing.is_dir():
        raise OutputTargetError(target, f"folder {existing} does not exist")
    _check_writable(existing, target)
    return target


def _check_writable(folder: Path, target: Path) -> None:
    clean_stale_temp_files(folder)
    try:
        fd, probe = locked_temp_file(folder, TEMP_PREFIX, TEMP_SUFFIX)
        try:
            os.write(fd, b"\0")
        finally:
            os.close(fd)
            os.unlink(probe)
        free = shutil.disk_usage(folder).free
    except OSError as exc:
        raise OutputTargetError(target, f"cannot write there ({exc.strerror or exc})") from exc
    if free < MIN_FREE_BYTES:
        raise OutputTargetError(target, f"disk full ({free / 1024**2:.1f} MB free)")
