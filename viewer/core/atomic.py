"""Output files: atomic writes (a temporary file in the target folder, then `os.replace`), exports
of several files written all or none (`write_all_or_nothing`), and checking a target before a
long job so that it fails first, not after the work.

Errors name the target the user chose, never the hidden temporary file. The temporary file is
held locked by its writer (`inference.files`, the one home of the atomic write), so one left by a killed RadLens is recognised
and removed the next time anything is written into that folder. The link `write_all_or_nothing`
keeps to a file it replaces (to put it back if the export fails) is named and held locked the
same way, so another RadLens cleaning that folder meanwhile leaves it.
"""

from __future__ import annotations

import contextlib
import os
import secrets
import shutil
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from inference.files import (  # the one atomic write, shared with inference (re-exported)
    TEMP_PREFIX,
    TEMP_SUFFIX,
    atomic_create_bytes,
    atomic_write_bytes,
    atomic_write_text,
    clean_stale_temp_files,
    final_mode,
    locked_temp_file,
    still_at,
    try_lock,
)
from viewer.core.errors import RadLensError

__all__ = [
    "MIN_FREE_BYTES",
    "ExportPartError",
    "OutputTargetError",
    "Part",
    "atomic_create_bytes",
    "atomic_write_bytes",
    "atomic_write_text",
    "check_output_file",
    "check_output_folder",
    "write_all_or_nothing",
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


@dataclass(frozen=True)
class Part:
    """One file of an export that is written whole or not at all: its name for people (SC, SR,
    SEG, PDF), where it goes, and its bytes."""

    name: str
    path: Path
    data: bytes


class ExportPartError(OutputTargetError):
    """A part of an export failed; nothing of that export was kept. `target: reason`."""

    def __init__(self, part: Part | str, target: str | os.PathLike, why: str) -> None:
        self.part = part.name if isinstance(part, Part) else part
        super().__init__(target, f"{self.part} not written ({why}); nothing of this export is kept")


@dataclass
class _Staged:
    part: Part
    fd: int  # held open: the temp file's lock says its writer is alive
    temp: str
    old: str | None = None  # a link to the file the part replaces, until the export is whole
    old_fd: int = -1  # held open and locked, as `fd`: a cleaner leaves the link alone
    placed: bool = False


def write_all_or_nothing(parts: Sequence[Part]) -> list[Path]:
    """Write every part, or none: each to a locked temporary file in its target's folder
    (written and synced), and only when all are there, renamed in one after another. If any step
    fails, the temporary files go, the parts already renamed in are taken back (a file one
    replaced is put back), and `ExportPartError` names the part and the reason."""
    staged: list[_Staged] = []
    try:
        for part in parts:
            staged.append(_stage(part))
        for item in staged:
            _place(item)
    except BaseException:
        for item in reversed(staged):
            _take_back(item)
        raise
    finally:
        for item in staged:
            _release(item)
    return [part.path for part in parts]


def _stage(part: Part) -> _Staged:
    folder = part.path.parent
    try:
        folder.mkdir(parents=True, exist_ok=True)
        clean_stale_temp_files(folder)
        fd, temp = locked_temp_file(folder, TEMP_PREFIX, TEMP_SUFFIX)
    except OSError as exc:
        raise ExportPartError(part, part.path, exc.strerror or str(exc)) from exc
    item = _Staged(part, fd, temp)
    try:
        _write_all(fd, part.data)
        os.fsync(fd)
        os.chmod(temp, final_mode(part.path))
    except OSError as exc:
        _release(item)
        Path(temp).unlink(missing_ok=True)
        raise ExportPartError(part, part.path, exc.strerror or str(exc)) from exc
    return item


def _write_all(fd: int, data: bytes) -> None:
    view = memoryview(data)
    while view:
        view = view[os.write(fd, view[: 1 << 30]) :]


def _place(item: _Staged) -> None:
    target = item.part.path
    try:
        if target.is_file():
            item.old, item.old_fd = _link_aside(target)
        if os.name == "nt":  # Windows cannot rename an open file (the old file's link stays)
            _close(item)
        os.replace(item.temp, target)
    except OSError as exc:
        raise ExportPartError(item.part, target, exc.strerror or str(exc)) from exc
    item.placed = True


def _link_aside(target: Path) -> tuple[str, int]:
    """A second name for the file about to be replaced, to put it back if the export fails;
    (name, fd holding its lock). Named and locked as the temp files are, so that another
    RadLens cleaning stale temp files in the folder leaves it while this export runs. On
    Windows it is not held open (an open file cannot be renamed over) and so not locked."""
    for _ in range(LINK_TRIES):
        aside = str(target.parent / f"{TEMP_PREFIX}{secrets.token_hex(8)}{TEMP_SUFFIX}")
        try:
            os.link(target, aside)
        except OSError:
            break  # no hard links here (or none allowed): a locked copy instead
        fd = _locked_link(aside)
        if fd is not None:
            return aside, fd
    return _copy_aside(target)


LINK_TRIES = 3  # a cleaner can take a fresh link's name before its lock; then another name


def _locked_link(aside: str) -> int | None:
    """The link opened and locked, or None (and the name gone, if still ours) when a cleaner
    got there first or something else holds the file's lock."""
    try:
        fd = os.open(aside, os.O_RDONLY | getattr(os, "O_NOFOLLOW", 0))
    except OSError:  # a cleaner removed it between the link and the open, or no read access
        _quietly(os.unlink, aside)
        return None
    if os.name == "nt":
        os.close(fd)
        return -1
    if try_lock(fd) and still_at(fd, aside):
        return fd
    os.close(fd)
    _quietly(os.unlink, aside)  # a lock held on the old file itself: this name would stay
    return None


def _copy_aside(target: Path) -> tuple[str, int]:
    fd, aside = locked_temp_file(target.parent, TEMP_PREFIX, TEMP_SUFFIX)
    try:
        with open(target, "rb") as source, os.fdopen(os.dup(fd), "wb") as copy:
            shutil.copyfileobj(source, copy)  # closing the duplicate keeps the lock
        shutil.copystat(target, aside)
    except BaseException:
        os.close(fd)
        _quietly(os.unlink, aside)
        raise
    if os.name == "nt":
        os.close(fd)
        return aside, -1
    return aside, fd


def _take_back(item: _Staged) -> None:
    """Undo one part: the file it replaced back in place (else no file there), no temp left."""
    if item.placed and item.old is not None:
        _quietly(os.replace, item.old, item.part.path)
        item.old = None
        _close_old(item)
    elif item.placed:
        _quietly(os.unlink, item.part.path)
    item.placed = False
    for leftover in (item.old, item.temp):
        if leftover is not None:
            _quietly(os.unlink, leftover)
    item.old = None
    _close_old(item)


def _release(item: _Staged) -> None:
    """Close the temp file (its lock goes); once the export is whole, drop the old file's link."""
    _close(item)
    if item.old is not None:
        _quietly(os.unlink, item.old)  # while still locked: never an unlocked name to clean
        item.old = None
    _close_old(item)


def _close(item: _Staged) -> None:
    if item.fd >= 0:
        _quietly(os.close, item.fd)
        item.fd = -1


def _close_old(item: _Staged) -> None:
    if item.old_fd >= 0:
        _quietly(os.close, item.old_fd)
        item.old_fd = -1


def _quietly(action, *args) -> None:
    with contextlib.suppress(OSError):
        action(*args)
