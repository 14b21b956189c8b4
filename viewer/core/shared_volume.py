"""A volume in shared memory that decoder worker processes write frames into directly.

Shipping decoded frames back through the process pool's pipe (pickle, copy, unpickle, copy into
the volume) costs about a third of a core for a fast codec such as CharLS. Instead the loader
allocates the volume in a named shared-memory segment (`radlens-<pid>-<random hex>`: no
patient identifiers; RadLens's own, told apart from other programs' by the prefix and from
another RadLens's by the process id),
workers map it by name for the duration of one task and write their frames into their slots,
and only small (slot, reason) tuples travel back.

Lifetime: `SharedVolume.create` maps the segment for the caller; `unlink()` (always called when
the load ends, however it ends) removes the name, after which the memory lives exactly as long
as the returned numpy array (and its views) do: dropping the volume unmaps it. Until `unlink`,
the segment is registered with multiprocessing's resource tracker, which removes it should the
whole process die. Workers map without registering (Python < 3.13 would register every attach).
"""

from __future__ import annotations

import contextlib
import mmap
import os
import secrets
import sys
from dataclasses import dataclass
from multiprocessing.shared_memory import SharedMemory

import numpy as np

if sys.platform != "win32":
    import _posixshmem

SEGMENT_PREFIX = "radlens-"  # with the pid and 12 hex digits ≤ 28 characters (macOS allows 30)


def segment_prefix(pid: int | None = None) -> str:
    """How the names of the segments a process (this one by default) creates begin."""
    return f"{SEGMENT_PREFIX}{os.getpid() if pid is None else pid}-"


def new_segment_name() -> str:
    return segment_prefix() + secrets.token_hex(6)


@dataclass(frozen=True)
class SegmentRef:
    """What a worker needs to find the volume (small to pickle)."""

    name: str
    shape: tuple[int, ...]
    dtype: str

    @property
    def nbytes(self) -> int:
        return int(np.prod(self.shape, dtype=np.int64)) * np.dtype(self.dtype).itemsize


class SharedVolume:
    """A zero-filled array in a new shared-memory segment; see the module docstring."""

    def __init__(self, segment: SharedMemory, ref: SegmentRef, array: np.ndarray) -> None:
        self._segment, self.ref, self.array = segment, ref, array

    @classmethod
    def create(cls, shape: tuple[int, ...], dtype) -> SharedVolume | None:
        """None when shared memory cannot hold it (no room in /dev/shm, no shm support)."""
        ref = SegmentRef("", tuple(int(n) for n in shape), np.dtype(dtype).str)
        if ref.nbytes == 0:
            return None
        try:
            segment = SharedMemory(new_segment_name(), create=True, size=ref.nbytes)
        except (OSError, ValueError):
            return None
        ref = SegmentRef(segment.name, ref.shape, ref.dtype)
        try:
            mapping = map_segment(ref, reserve=True)
        except (OSError, ValueError):
            segment.close()
            segment.unlink()
            return None
        segment.close()  # its own mapping; the array holds a separate one
        return cls(segment, ref, as_array(mapping, ref))

    def unlink(self) -> None:
        """Remove the name (idempotent); the array stays valid until it is dropped."""
        if self._segment is not None:
            segment, self._segment = self._segment, None
            with contextlib.suppress(FileNotFoundError):  # removed already (by the tracker)
                segment.unlink()


def map_segment(ref: SegmentRef, reserve: bool = False) -> mmap.mmap:
    """A writable mapping of the segment. `reserve` allocates its pages now, so that a full
    /dev/shm fails here with ENOSPC rather than later with SIGBUS on a write."""
    if sys.platform == "win32":
        return mmap.mmap(-1, ref.nbytes, tagname=ref.name)
    fd = _posixshmem.shm_open("/" + ref.name, os.O_RDWR, mode=0o600)
    try:
        if reserve and hasattr(os, "posix_fallocate"):
            os.posix_fallocate(fd, 0, ref.nbytes)
        return mmap.mmap(fd, ref.nbytes)
    finally:
        os.close(fd)


def as_array(mapping: mmap.mmap, ref: SegmentRef) -> np.ndarray:
    return np.frombuffer(mapping, np.dtype(ref.dtype)).reshape(ref.shape)
