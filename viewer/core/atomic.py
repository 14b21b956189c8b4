"""Atomic file writes: a temporary file in the target folder, then `os.replace`."""

from __future__ import annotations

import os
import tempfile
from pathlib import Path


def atomic_write_bytes(path: str | os.PathLike, data: bytes) -> Path:
    """Write `data` to `path` so readers see the old file or the whole new one, never a part.

    The temporary name is random (never derived from patient data) and lives in the same folder,
    so the final `os.replace` is a rename on one file system.
    """
    target = Path(path)
    target.parent.mkdir(parents=True, exist_ok=True)
    mode = _final_mode(target)
    fd, tmp_name = tempfile.mkstemp(prefix=".radlens-", suffix=".tmp", dir=target.parent)
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
            handle.flush()
            os.fsync(handle.fileno())
        os.chmod(tmp_name, mode)
        os.replace(tmp_name, target)
    except BaseException:
        Path(tmp_name).unlink(missing_ok=True)
        raise
    return target


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
