"""RadLens's own temporary files, and removing those a killed RadLens left behind (Qt-free).

Extracted archives hold a patient's images, and an export's temporary file a whole identified
report, so neither may outlive the process that made it. A process cannot clean up after
SIGKILL or a power cut, so every such file or folder is *owned*: its owner holds an exclusive
lock on a file (`flock` on POSIX, `msvcrt.locking` on Windows) for as long as it lives, and the
operating system drops the lock when the process ends however it ends. Whoever comes next and
can take the lock knows the owner is gone and removes the leftovers; a lock it cannot take
belongs to a RadLens still running, whose files are left alone. PIDs alone would not do
(they are reused); the PID is written into the marker only to help a person reading the folder.

- Scratch folders (`new_scratch_dir`) live in one session folder per process under
  `user_cache_dir()/scratch`: `session-XXXX.lock` (held) beside `session-XXXX/`. The session is
  removed at exit; `clean_stale_scratch()` (run at every start and before a new session) removes
  sessions whose lock is free, and session folders whose lock file is gone.
- Temporary files beside an export target (`.radlens-XXXX.tmp`, `locked_temp_file`) are held
  locked while written; `clean_stale_temp_files(folder)` removes the free ones (both in
  `inference.files`, beside the atomic write that `inference` shares).

Names are random: nothing in them comes from a patient or a study.
"""

from __future__ import annotations

import atexit
import os
import shutil
import tempfile
import threading
from pathlib import Path

from inference.files import (  # the temp-file locks live with the atomic writes
    locked_temp_file,
    remove_if_stale,
    unlink_quietly,
)
from inference.locations import user_cache_dir

SESSION_PREFIX = "session-"
LOCK_SUFFIX = ".lock"

_session: tuple[Path, int, int] | None = None  # (session folder, fd holding its lock, owner pid)
_session_guard = threading.Lock()


def scratch_root() -> Path:
    return user_cache_dir() / "scratch"


def new_scratch_dir(kind: str) -> Path:
    """A new private folder (mode 0700) in this process's session, removed when it ends."""
    return Path(tempfile.mkdtemp(prefix=f"{kind}-", dir=session_dir()))


def session_dir() -> Path:
    """This process's session folder (created, and stale sessions cleaned, on first use)."""
    global _session
    with _session_guard:
        if _session is not None and not _still_usable(_session[0]):
            _remove(_session)
            _session = None
        if _session is None:
            clean_stale_scratch()
            _session = _new_session(scratch_root())
        return _session[0]


def _still_usable(folder: Path) -> bool:
    """False when the folder was removed by hand, or the cache folder setting changed."""
    return folder.parent == scratch_root() and folder.is_dir()


def _new_session(root: Path) -> tuple[Path, int, int]:
    root.mkdir(parents=True, exist_ok=True, mode=0o700)
    fd, lock_path = locked_temp_file(root, SESSION_PREFIX, LOCK_SUFFIX)
    os.write(fd, f"pid {os.getpid()}\n".encode())
    folder = Path(lock_path).with_suffix("")
    folder.mkdir(mode=0o700)
    return folder, fd, os.getpid()


def clean_stale_scratch() -> list[Path]:
    """Remove the session folders of RadLens processes that are gone; returns what was removed."""
    root = scratch_root()
    try:
        entries = sorted(root.iterdir())
    except OSError:
        return []
    removed = []
    for entry in entries:
        if not entry.name.startswith(SESSION_PREFIX) or entry.name.endswith(LOCK_SUFFIX):
            continue
        if remove_if_stale(entry.with_name(entry.name + LOCK_SUFFIX), entry):
            removed.append(entry)
    for lock in entries:  # locks whose folder is already gone (killed before creating it)
        if lock.name.startswith(SESSION_PREFIX) and lock.name.endswith(LOCK_SUFFIX):
            remove_if_stale(lock)
    return removed


@atexit.register
def remove_session() -> None:
    """Delete this process's scratch folders (extracted archives) when it ends normally."""
    global _session
    with _session_guard:
        if _session is not None:
            _remove(_session)
            _session = None


def _remove(session: tuple[Path, int, int]) -> None:
    folder, fd, owner = session
    if owner != os.getpid():  # a forked child: the session is its parent's
        return
    shutil.rmtree(folder, ignore_errors=True)
    unlink_quietly(folder.with_name(folder.name + LOCK_SUFFIX))
    os.close(fd)
