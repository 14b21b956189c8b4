"""Where retrieved instances land, how they are checked, and the local cache.

A `Landing` is a temporary folder beside the destination (`.radlens-partial-*`, a random name).
The protocol writes each received instance into it (`write`: a whole instance, atomically, so a
file there is whole or absent; a streamed one goes to `next_path()`; `refuse`: one dropped
unwritten, over the per-file cap); `commit(expected)` verifies the instance count, checks every
file like a file opened from disk (`viewer.core.scan`: executable preambles, bad headers, pixel
data longer than the file) and only then moves the good ones into
`DEST/<study>/<series>/<instance>.dcm`, each with one `os.replace`; refused ones are listed with
their reason. A cancelled or failed retrieval removes the landing folder: nothing half-written
stays behind, and the error says how many instances had arrived.

`RetrievalCache` keeps retrieved studies under a size limit, least recently retrieved first out.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import re
import shutil
import tempfile
import time
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path

import pydicom

from viewer.core.atomic import atomic_write_bytes
from viewer.core.discovery import size_text
from viewer.core.pacs.servers import PacsError
from viewer.core.scan import SkippedFile, scan_file
from viewer.paths import user_cache_dir

LANDING_PREFIX = ".radlens-partial-"
DEFAULT_CACHE_BYTES = 20 * 1024**3
STALE_LANDING_S = 3600  # a landing folder nothing arrived in for an hour is a crash's leftover
DEFAULT_MAX_RETRIEVAL_BYTES = 64 * 1024**3  # one retrieval never fills a disk, whatever it claims
UID_NAME = re.compile(r"^[0-9]+(\.[0-9]+)*$")
NON_IMAGE_PREFIX = "no pixel data"  # scan_file's reason for SR, KO, PR… (kept, not shown)


def safe_name(uid: str) -> str:
    """A file-system name for a UID: the UID itself when it is a well-formed one, else a hash
    (a server could send `../` in a UID)."""
    if len(uid) <= 64 and UID_NAME.match(uid):
        return uid
    return "x" + hashlib.sha256(uid.encode("utf-8", "replace")).hexdigest()[:24]


@dataclass
class Retrieved:
    files: list[Path] = field(default_factory=list)  # where the instances are now
    skipped: list[SkippedFile] = field(default_factory=list)  # received but refused
    studies: list[Path] = field(default_factory=list)  # DEST/<study> folders touched

    @property
    def count(self) -> int:
        return len(self.files) + len(self.skipped)


class Landing:
    """A temporary folder receiving one retrieval; use as a context manager."""

    def __init__(
        self,
        dest: str | os.PathLike,
        server: str,
        max_bytes: int = DEFAULT_MAX_RETRIEVAL_BYTES,
        wanted: tuple[str, str] = ("", ""),
    ):
        """`wanted` = (study UID, series UID or "") asked for: anything else is refused."""
        self.dest = Path(dest)
        self.server = server
        self.max_bytes = max_bytes
        self.wanted = wanted
        self.dest.mkdir(parents=True, exist_ok=True)
        self.folder = Path(tempfile.mkdtemp(prefix=LANDING_PREFIX, dir=self.dest))
        self.received = 0
        self.bytes = 0
        self.refused: list[SkippedFile] = []  # not written: over the per-file cap

    def __enter__(self) -> Landing:
        return self

    def __exit__(self, *exc_info) -> None:
        self.discard()

    def next_path(self) -> Path:
        self.received += 1
        return self.folder / f"{self.received:06d}.dcm"

    def write(self, data: bytes) -> Path:
        """One whole received instance, written atomically: whole or absent, even if killed.
        The landing is this retrieval's own folder: no listing of it per instance for other
        writers' leftovers (quadratic over a study of thousands of instances)."""
        self.add_bytes(len(data))
        return atomic_write_bytes(self.next_path(), data, clean=False)

    def refuse(self, sop_instance_uid: str, reason: str) -> None:
        """An instance the protocol dropped unwritten (too large); listed by `commit`."""
        name = f"received instance {safe_name(sop_instance_uid)}"
        self.refused.append(SkippedFile(name, reason))

    def refuse_too_large(self, sop_instance_uid: str, size: int, limit: int) -> None:
        """An instance over the per-file cap (`scan.max_image_bytes`), whichever protocol."""
        reason = (
            f"too large ({size_text(size)}): over the {size_text(limit)} limit "
            "per file (RADLENS_MAX_IMAGE_GB); refused, the rest of the retrieval goes on"
        )
        self.refuse(sop_instance_uid, reason)

    def unstream(self, path: Path, written: int) -> None:
        """Take back the last `next_path()` (a streamed instance then refused): its partial
        file goes, its count and bytes too."""
        path.unlink(missing_ok=True)
        self.received -= 1
        self.bytes -= written

    def add_bytes(self, count: int) -> None:
        self.bytes += count
        if self.bytes > self.max_bytes:
            raise PacsError(
                self.server,
                f"retrieval larger than the limit ({self.max_bytes / 1024**3:.1f} GiB); stopped",
                self.received,
            )

    def commit(self, expected: int | None) -> Retrieved:
        """Verify the count, check each file, move the good ones into DEST; then clean up."""
        arrived = self.received + len(self.refused)
        if expected is not None and arrived != expected:
            raise PacsError(
                self.server,
                f"incomplete retrieval: {arrived} of {expected} instance(s) arrived",
                self.received,
            )
        result = Retrieved(skipped=list(self.refused))
        for path in sorted(self.folder.glob("*.dcm")):
            self._place(path, result)
        self.discard()
        return result

    def _place(self, path: Path, result: Retrieved) -> None:
        uids = instance_uids(path)
        if isinstance(uids, SkippedFile):
            result.skipped.append(SkippedFile(f"received instance {path.stem}", uids.reason))
            return
        unwanted = [w for w, got in zip(self.wanted, uids[:2], strict=True) if w and w != got]
        if unwanted:
            reason = "not part of the study or series asked for"
            result.skipped.append(SkippedFile(f"received instance {path.stem}", reason))
            return
        study, series, sop = (safe_name(uid) for uid in uids)
        target = self.dest / study / series / f"{sop}.dcm"
        target.parent.mkdir(parents=True, exist_ok=True)
        os.replace(path, target)
        result.files.append(target)
        if self.dest / study not in result.studies:
            result.studies.append(self.dest / study)

    def discard(self) -> None:
        shutil.rmtree(self.folder, ignore_errors=True)


def instance_uids(path: Path) -> tuple[str, str, str] | SkippedFile:
    """(study, series, SOP instance UID) of a received file checked like a file from disk;
    images go through the full header scan, other objects (SR, KO…) through its preamble and
    header checks."""
    scanned = scan_file(path)
    if isinstance(scanned, list):
        first = scanned[0]
        return first.study[0], first.series_instance_uid, first.sop_instance_uid
    if isinstance(scanned, SkippedFile) and not scanned.reason.startswith(NON_IMAGE_PREFIX):
        return scanned  # SEG/SR/KO (`StudyObject` or "no pixel data") go on to their UIDs
    ds = pydicom.dcmread(path, stop_before_pixels=True)
    study, series, instance = (
        str(ds.get(k, "")) for k in ("StudyInstanceUID", "SeriesInstanceUID", "SOPInstanceUID")
    )
    uids = (study, series, instance)
    if not all(uids):
        return SkippedFile(str(path), "missing study, series or instance UID")
    return uids


def remove_stale_landings(dest: str | os.PathLike, now: float | None = None) -> list[Path]:
    """Landing folders left by a crash (a cancel or a failure removes its own) go at a later
    retrieval, once nothing has arrived in them for STALE_LANDING_S: another retrieval into the
    same folder (a second window, `radlens pacs get`) keeps its landing."""
    now = time.time() if now is None else now
    removed = []
    for folder in Path(dest).glob(f"{LANDING_PREFIX}*"):
        with contextlib.suppress(OSError):
            if now - folder.stat().st_mtime > STALE_LANDING_S:
                shutil.rmtree(folder, ignore_errors=True)
                removed.append(folder)
    return removed


# --- cache --------------------------------------------------------------------------------------


def default_cache_dir() -> Path:
    return user_cache_dir() / "pacs"


def folder_bytes(folder: Path) -> int:
    total = 0
    for root, _dirs, files in os.walk(folder):
        for name in files:
            with contextlib.suppress(OSError):
                total += os.lstat(os.path.join(root, name)).st_size
    return total


class RetrievalCache:
    """Retrieved studies under `root`, trimmed to `max_bytes` (oldest retrieval first out)."""

    def __init__(self, root: Path | None = None, max_bytes: int = DEFAULT_CACHE_BYTES) -> None:
        self.root = Path(root or default_cache_dir())
        self.max_bytes = max_bytes

    def study_folders(self) -> list[Path]:
        if not self.root.is_dir():
            return []
        return [p for p in self.root.iterdir() if p.is_dir() and not p.name.startswith(".")]

    def size(self) -> int:
        return sum(folder_bytes(p) for p in self.study_folders())

    def touch(self, studies: Iterable[Path]) -> None:
        for study in studies:
            with contextlib.suppress(OSError):
                os.utime(study)

    def trim(self, keep: Iterable[Path] = ()) -> list[Path]:
        """Remove the oldest studies until the cache fits; `keep` (just retrieved, or open in
        the viewer) stays even if it alone is over the limit. Returns the removed folders."""
        keep = {Path(p).resolve() for p in keep}
        sizes = {p: folder_bytes(p) for p in self.study_folders()}
        total = sum(sizes.values())
        removed = []
        for folder in sorted(sizes, key=lambda p: p.stat().st_mtime):
            if total <= self.max_bytes:
                break
            if folder.resolve() in keep:
                continue
            shutil.rmtree(folder, ignore_errors=True)
            total -= sizes[folder]
            removed.append(folder)
        return removed
