"""Files RadLens writes, for both `viewer` and `inference` (no Qt, no torch; `inference`
cannot import `viewer`, so the one definition lives here and `viewer.core.atomic` /
`viewer.core.scratch` re-export it).

- `atomic_write_bytes(path, data)`: readers see the old file or the whole new one, never a part:
  a temporary file in the target folder, synced, then `os.replace`. A new file gets ordinary
  permissions (what `open(..., "w")` would give); a replaced file keeps its own. Errors name the
  target the user chose, never the hidden temporary file.
- `atomic_create_bytes(path, data)`: the same, for a file made once and never replaced (a
  secret): readable by its owner only; when another writer created it first, theirs stays.
- Temporary files (`.radlens-XXXX.tmp`, `locked_temp_file`) are held locked by their writer
  (`flock` on POSIX, `msvcrt.locking` on Windows) for as long as it lives; the operating system
  drops the lock when the process ends however it ends, so `clean_stale_temp_files(folder)` can
  tell a killed writer's leftovers (lock free) from a running one's (lock held) and remove them.

Names are random: nothing in them comes from a patient or a study.
"""

from __future__ import annotations

import contextlib
import errno
import os
import shutil
import sys
import tempfile
from pathlib import Path

TEMP_PREFIX, TEMP_SUFFIX = ".radlens-", ".tmp"


def atomic_write_bytes(path: str | os.PathLike, data: bytes, *, clean: bool = True) -> Path:
    """Write `data` to `path` so readers see the old file or the whole new one, never a part.

    The temporary name is random (never derived from patient data) and lives in the same folder,
    so the final `os.replace` is a rename on one file system. Any OSError is raised again naming
    `path` (the temporary file is removed). `clean=False` skips removing a killed writer's
    temporary files from the folder (a listing of it per write): for a folder that is the
    caller's own, written thousands of times (a PACS landing).
    """
    target = Path(path)
    try:
        _make_parent(target)
        if clean:
            clean_stale_temp_files(target.parent)
        mode = final_mode(target)
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


def atomic_create_bytes(path: str | os.PathLike, data: bytes) -> bool:
    """Create `path` holding `data`, readable by its owner only, unless it exists: True when
    this call created it. Never a partial file and never a replaced one: a temporary file
    (0600 from `mkstemp`) is written and synced, then hard-linked to `path`, which fails when
    another writer got there first (then its file stays). Where the file system has no hard
    links, a rename instead (exclusive only between checks). OSError names `path`."""
    target = Path(path)
    try:
        _make_parent(target)
        clean_stale_temp_files(target.parent)
        fd, tmp_name = locked_temp_file(target.parent, TEMP_PREFIX, TEMP_SUFFIX)
    except OSError as exc:
        raise naming_target(target, exc) from exc
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
            handle.flush()
            os.fsync(handle.fileno())
            if os.name == "nt":  # Windows cannot rename an open file
                handle.close()
            return _link_unless_there(tmp_name, target)
    except OSError as exc:
        raise naming_target(target, exc) from exc
    finally:
        unlink_quietly(Path(tmp_name))


def _link_unless_there(tmp_name: str, target: Path) -> bool:
    try:
        os.link(tmp_name, target)
    except FileExistsError:
        return False
    except OSError:  # no hard links here (FAT, some network shares)
        if target.exists():
            return False
        os.replace(tmp_name, target)
    return True


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


def final_mode(target: Path) -> int:
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


def locked_temp_file(folder: Path, prefix: str, suffix: str) -> tuple[int, str]:
    """`mkstemp` in `folder`, with this process holding the file's lock; (fd, path).

    A cleaner may take the lock between `mkstemp` and our lock and remove the file; then the
    file at the path is no longer ours, and we make another.
    """
    while True:
        fd, name = tempfile.mkstemp(prefix=prefix, suffix=suffix, dir=folder)
        if try_lock(fd) and still_at(fd, name):
            return fd, name
        os.close(fd)


def still_at(fd: int, name: str) -> bool:
    try:
        return os.path.samestat(os.fstat(fd), os.stat(name, follow_symlinks=False))
    except OSError:
        return False


def try_lock(fd: int) -> bool:
    """Take the file's exclusive lock without waiting; False when another process holds it."""
    try:
        if sys.platform == "win32":
            import msvcrt

            msvcrt.locking(fd, msvcrt.LK_NBLCK, 1)
        else:
            import fcntl

            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except OSError:
        return False
    return True


def clean_stale_temp_files(folder: str | os.PathLike[str]) -> list[Path]:
    """Remove `.radlens-*.tmp` files in `folder` that no running process is writing."""
    try:
        with os.scandir(folder) as scan:
            names = [
                e.name for e in scan if _is_temp_name(e.name) and e.is_file(follow_symlinks=False)
            ]
    except OSError:
        return []
    return [Path(folder, n) for n in names if remove_if_stale(Path(folder, n))]


def _is_temp_name(name: str) -> bool:
    return name.startswith(TEMP_PREFIX) and name.endswith(TEMP_SUFFIX)


def remove_if_stale(lock: Path, folder: Path | None = None) -> bool:
    """Remove `lock` (and `folder`) when no process holds `lock`; a missing lock is stale."""
    try:
        fd = os.open(lock, os.O_RDONLY | getattr(os, "O_NOFOLLOW", 0))
    except FileNotFoundError:
        fd = None
    except OSError:
        return False  # not ours to open (another user's, or odd): leave it
    try:
        if fd is not None and not try_lock(fd):
            return False
        if folder is not None:
            shutil.rmtree(folder, ignore_errors=True)
        unlink_quietly(lock)
    finally:
        if fd is not None:
            os.close(fd)
    if os.name == "nt":  # Windows cannot delete a file someone (here: we) still has open
        unlink_quietly(lock)
    return True


def unlink_quietly(path: Path) -> None:
    with contextlib.suppress(OSError):
        path.unlink(missing_ok=True)
