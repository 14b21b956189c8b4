"""Output files: atomic writes (a temporary file in the target folder, then `os.replace`), and
checking a target before a long job so that it fails first, not after the work.

Errors name the target the user chose, never the hidden temporary file. The temporary file is
held locked by its writer (`viewer.core.scratch`), so one left by a killed RadLens is recognised
and removed the next time anything is written into that folder.
"""

from __future__ import annotations

import errno
import os
import shutil
from pathlib import Path

from viewer.core.errors import RadLensError
from viewer.core.scratch import TEMP_PREFIX, TEMP_SUFFIX, clean_stale_temp_files, locked_temp_file

MIN_FREE_BYTES = 16 * 1024**2  # a report or an SC/SR pair needs a few MB; refuse a full disk


class OutputTargetError(RadLensError):
    """A target that cannot be written: `target: reason`."""

    def __init__(self, target: str | os.PathLike, reason: str) -> None:
        super().__init__(f"{target}: {reason}")
        self.target = str(target)
        self.reason = reason


def atomic_write_bytes(path: str | os.PathLike, data: bytes) -> Path:
    """Write `data` to `path` so readers see the old file or the whole new one, never a part.

    The temporary name is random (never derived from patient data) and lives in the same folder,
    so the final `os.replace` is a rename on one file system. Any OSError is raised again naming
    `path` (the temporary file is removed).
    """
    target = Path(path)
    try:
        _make_parent(target)
        clean_stale_temp_files(target.parent)
        mode = _final_mode(target)
        fd, tmp_name = locked_temp_file(target.parent, TEMP_PREFIX, TEMP_SUFFIX)
    except OSError as exc:
        raise naming_target(target, exc) from exc
    try:
        _write_and_replace(fd, tmp_name, data, mode, target)
    except BaseException as exc:
        Path(tmp_name).unlink(missing_ok=True)
        if isinstance(exc, OSError):
            raise naming_target(target, exc) from exc
        raise
    return target


def _make_parent(target: Path) -> None:
    try:
        target.parent.mkdir(parents=True, exist_ok=True)
    except (FileExistsError, NotADirectoryError) as exc:
        raise OSError(errno.ENOTDIR, "a file is in the way of its folder", str(target)) from exc


def _write_and_replace(fd: int, tmp_name: str, data: bytes, mode: int, target: Path) -> None:
    """Write, sync and rename while holding the temp file's lock (released on close).

    Windows cannot rename an open file, so there the file is closed just before the rename.
    """
    with os.fdopen(fd, "wb") as handle:
        handle.write(data)
        handle.flush()
        os.fsync(handle.fileno())
        os.chmod(tmp_name, mode)
        if os.name == "nt":
            handle.close()
        os.replace(tmp_name, target)


def naming_target(target: Path, exc: OSError) -> OSError:
    """The same error (same errno, so the same OSError subclass) with the target as its file."""
    return OSError(exc.errno, exc.strerror or str(exc), str(target))


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


def _final_mode(target: Path) -> int:
    """The replaced file's permissions, else what a plain `open(..., "w")` would give.

    `mkstemp` creates files readable by the owner only; an exported report should not differ
    from any other file the user saves there.
    """
    try:
        return target.stat().st_mode & 0o777
    except FileNotFoundError:
        return 0o666 & ~_current_umask()


def _current_umask() -> int:
    status = Path("/proc/self/status")
    try:
        for line in status.read_text().splitlines():
            if line.startswith("Umask:"):
                return int(line.split()[1], 8)
    except OSError:
        pass
    return 0o022


def atomic_write_text(path: str | os.PathLike, text: str, encoding: str = "utf-8") -> Path:
    return atomic_write_bytes(path, text.encode(encoding))
