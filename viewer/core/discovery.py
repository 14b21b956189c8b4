"""Turn user inputs (files, folders, .zip archives, DICOMDIR) into a list of candidate files.

`expand_inputs(paths) -> Discovered(files, skipped, ignored)`. Nothing here parses images:
folders are walked recursively (hidden entries and symlinked folders are not followed), zip
archives are extracted into a private scratch folder with a random name (`viewer.core.scratch`:
removed at exit, or at the next start after a crash), and DICOMDIR directory records are followed
(`viewer.core.dicomdir`: read within bounds) with every referenced path checked to stay inside
the media folder.

Archives are bounded as a whole open, not one by one: at most `MAX_ARCHIVE_DEPTH` levels of
archives inside archives, and one `ExtractionBudget` (bytes and files) shared by every archive
the inputs hold, nested ones included. A member inflating beyond its declared size, a member or
an archive whose declared size is more than `MAX_COMPRESSION_RATIO` times its compressed size
(overlapping-member zip bombs), and an archive that would leave the disk nearly full are refused
by name; the rest of the inputs still open.

Inside folders and archives, documents and pictures that commonly sit beside a study (README,
SOURCES.md, report.pdf, Thumbs.db) are `ignored`, not `skipped`: they are not failures. A name
alone never decides: such a file is ignored only when it also lacks the 'DICM' marker, and files
with no extension, .dcm, .ima or anything else are always scanned. A file named on its own is
always scanned too, so the user hears why it did not open.
"""

from __future__ import annotations

import os
import shutil
import struct
import zipfile
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath

from viewer.core.dicomdir import read_dicomdir
from viewer.core.scan import SkippedFile, short_error
from viewer.core.scratch import new_scratch_dir, session_dir

MAX_EXTRACTED_BYTES = 8 * 1024**3  # per open, every archive and nesting level together
MAX_EXTRACTED_FILES = 200_000  # per open, likewise
MAX_ARCHIVE_DEPTH = 4  # a zip inside a zip inside a zip inside a zip, and no deeper
MAX_MEMBER_PATH_PARTS = 64
MAX_COMPRESSION_RATIO = 1000  # deflate tops out near 1032:1; more means a crafted archive
MIN_FREE_AFTER_EXTRACTION = 1024**3  # never fill the user's disk with an extraction

ZIP_ERRORS = (zipfile.BadZipFile, OSError, RuntimeError, NotImplementedError, EOFError, ValueError)
NOT_DICOM_SUFFIXES = frozenset(
    {".md", ".txt", ".rtf", ".pdf", ".doc", ".docx", ".json", ".xml", ".csv", ".html", ".htm"}
    | {".ini", ".log", ".png", ".jpg", ".jpeg", ".gif", ".bmp"}
)
NOT_DICOM_NAMES = frozenset({"thumbs.db", "desktop.ini", ".ds_store"})
_display_names: dict[str, str] = {}


@dataclass
class Discovered:
    """What the inputs hold: candidate files, refusals with reasons, and ignored documents."""

    files: list[Path] = field(default_factory=list)
    skipped: list[SkippedFile] = field(default_factory=list)
    ignored: list[str] = field(default_factory=list)  # display paths, not DICOM by name

    def add(self, other: Discovered) -> None:
        self.files.extend(other.files)
        self.skipped.extend(other.skipped)
        self.ignored.extend(other.ignored)


def expand_inputs(paths: Iterable[str | os.PathLike]) -> Discovered:
    """Candidate files (deduplicated, in a stable order), refusals and ignored documents."""
    found, budget = Discovered(), ExtractionBudget()
    for raw in paths:
        found.add(_expand_one(Path(raw), budget))
    found.files = _dedupe(found.files)
    return found


def display_path(path: str | os.PathLike) -> str:
    """How to name a file to the user: zip members as `archive.zip/member`."""
    return _display_names.get(str(path), str(path))


def _expand_one(path: Path, budget: ExtractionBudget) -> Discovered:
    if not path.exists():
        return Discovered(skipped=[SkippedFile(str(path), "no such file or folder")])
    if path.is_dir():
        return _expand_folder(path, budget)
    if is_dicomdir(path):
        return Discovered(*read_dicomdir(path))
    if not path.is_file():
        return Discovered(skipped=[SkippedFile(str(path), "not a regular file")])
    if zipfile.is_zipfile(path) and path.suffix.lower() == ".zip":
        return extract_zip(path, budget)
    return Discovered(files=[path])


def _expand_folder(folder: Path, budget: ExtractionBudget, depth: int = 0) -> Discovered:
    """Files below `folder`; `depth` > 0 when the folder is an extracted archive."""
    result = Discovered()
    for found in walk_files(folder):
        if is_dicomdir(found):
            result.add(Discovered(*read_dicomdir(found)))
        elif found.suffix.lower() == ".zip" and zipfile.is_zipfile(found):
            result.add(extract_zip(found, budget, depth + 1))
        elif is_document(found):
            result.ignored.append(display_path(found))
        else:
            result.files.append(found)
    return result


def is_document(path: Path) -> bool:
    """A README, PDF, picture or similar by its name, and without the DICOM 'DICM' marker."""
    named_like_one = (
        path.suffix.lower() in NOT_DICOM_SUFFIXES or path.name.lower() in NOT_DICOM_NAMES
    )
    return named_like_one and not has_dicm_marker(path)


def has_dicm_marker(path: Path) -> bool:
    """Whether bytes 128..131 read 'DICM' (PS3.10 7.1: the preamble and prefix)."""
    try:
        with open(path, "rb") as fp:
            return fp.read(132)[128:] == b"DICM"
    except OSError:
        return False


def walk_files(folder: Path) -> list[Path]:
    """Regular files below `folder`, sorted, skipping hidden names and symlinked folders."""
    result: list[Path] = []
    for root, dirs, names in os.walk(folder, followlinks=False):
        dirs[:] = sorted(d for d in dirs if not d.startswith("."))
        result.extend(Path(root, n) for n in sorted(names) if not n.startswith("."))
    return [p for p in result if p.is_file()]


def is_dicomdir(path: Path) -> bool:
    return path.name.upper() == "DICOMDIR"


def extract_zip(path: Path, budget: ExtractionBudget | None = None, depth: int = 1) -> Discovered:
    """Extract an archive into a private scratch folder, then expand what it holds.

    `depth` is how deeply the archive is nested (1: named by the user or found in a folder);
    `budget` is shared by every archive of one `expand_inputs` call, nested ones included.
    """
    budget = ExtractionBudget() if budget is None else budget
    shown = display_path(path)
    if depth > MAX_ARCHIVE_DEPTH:
        reason = f"archive nested more than {MAX_ARCHIVE_DEPTH} levels deep; not opened"
        return Discovered(skipped=[SkippedFile(shown, reason)])
    try:
        if declared_entries(path) > budget.files_left:  # before zipfile lists them all in memory
            reason = (
                f"archive holds too many files (one open extracts at most {MAX_EXTRACTED_FILES:,})"
            )
            return Discovered(skipped=[SkippedFile(shown, reason)])
        with zipfile.ZipFile(path) as archive:
            members, skipped = _safe_members(shown, archive)
            refusal = _archive_refusal(path, members, budget)
            if refusal:
                return Discovered(skipped=[SkippedFile(shown, refusal)])
            if not members:
                return Discovered(skipped=skipped)
            budget.take(members)
            target = new_scratch_dir("zip")
            for info in members:
                try:
                    _extract_member(archive, info, target, shown)
                except ZIP_ERRORS as exc:
                    reason = f"archive member not extractable ({short_error(exc)})"
                    skipped.append(SkippedFile(f"{shown}/{info.filename}", reason))
    except ZIP_ERRORS as exc:
        reason = f"zip archive not readable ({short_error(exc)})"
        return Discovered(skipped=[SkippedFile(shown, reason)])
    extracted = _expand_folder(target, budget, depth)
    extracted.skipped[:0] = skipped
    return extracted


@dataclass
class ExtractionBudget:
    """What one open may still extract, all archives and nesting levels together."""

    bytes_left: int = field(default_factory=lambda: MAX_EXTRACTED_BYTES)
    files_left: int = field(default_factory=lambda: MAX_EXTRACTED_FILES)

    def take(self, members: list[zipfile.ZipInfo]) -> None:
        self.bytes_left -= sum(info.file_size for info in members)
        self.files_left -= len(members)


def declared_entries(path: Path) -> int:
    """The entry count the archive's end record declares (zip64 too); 0 when unreadable.

    `zipfile` builds one object per entry, so a crafted end record could otherwise make a small
    file cost gigabytes of memory before any check runs.
    """
    with open(path, "rb") as stream:
        try:
            end = zipfile._EndRecData(stream)  # type: ignore[attr-defined]  # noqa: SLF001 - the stdlib's own zip64-aware reader
        except (AttributeError, OSError, struct.error):
            return 0
    return int(end[zipfile._ECD_ENTRIES_TOTAL]) if end else 0  # type: ignore[attr-defined]  # noqa: SLF001


def _safe_members(shown: str, archive: zipfile.ZipFile):
    """Members to extract, and refusals for those whose name or compression ratio is unsafe."""
    members, skipped = [], []
    for info in archive.infolist():
        if info.is_dir():
            continue
        reason = _member_refusal(info)
        if reason:
            skipped.append(SkippedFile(f"{shown}/{info.filename}", reason))
        else:
            members.append(info)
    return members, skipped


def _member_refusal(info: zipfile.ZipInfo) -> str:
    pure = PurePosixPath(info.filename.replace("\\", "/"))
    if pure.is_absolute() or ".." in pure.parts or ":" in info.filename:
        return "archive member path leaves the archive; refused"
    if len(pure.parts) > MAX_MEMBER_PATH_PARTS:
        return "archive member path too deeply nested; refused"
    if info.file_size > MAX_COMPRESSION_RATIO * max(info.compress_size, 1) + 1024:
        return "archive member compression ratio too high; refused"
    return ""


def _archive_refusal(path: Path, members: list[zipfile.ZipInfo], budget: ExtractionBudget) -> str:
    """Why the whole archive is not extracted (zip bomb, budget spent, disk full), else ''."""
    declared = sum(info.file_size for info in members)
    if declared > MAX_COMPRESSION_RATIO * max(path.stat().st_size, 1) + (1 << 20):
        return (
            f"archive declares more than {MAX_COMPRESSION_RATIO}× its own size when extracted "
            "(a zip bomb); refused"
        )
    if declared > budget.bytes_left:
        return (
            f"archive too large when extracted ({size_text(declared)}; one open extracts at most "
            f"{size_text(MAX_EXTRACTED_BYTES)}, archives inside archives included); refused"
        )
    free = shutil.disk_usage(session_dir()).free
    if declared and free - declared < MIN_FREE_AFTER_EXTRACTION:
        needed, left = size_text(declared), size_text(free)
        return f"not enough disk space to extract it ({needed} needed, {left} free)"
    return ""


def size_text(size: int) -> str:
    if size >= 1024**3:
        return f"{size / 1024**3:.1f} GiB"
    return f"{size / 1024**2:.1f} MiB"


def _extract_member(archive: zipfile.ZipFile, info: zipfile.ZipInfo, target: Path, shown: str):
    out = target.joinpath(*PurePosixPath(info.filename.replace("\\", "/")).parts)
    out.parent.mkdir(parents=True, exist_ok=True)
    try:
        with archive.open(info) as source, open(out, "wb") as sink:
            _copy_at_most(source, sink, info.file_size)
    except BaseException:
        out.unlink(missing_ok=True)  # never leave a partial member to be scanned as a file
        raise
    _display_names[str(out)] = f"{shown}/{info.filename}"
    return out


def _copy_at_most(source, sink, limit: int) -> None:
    """Copy, refusing a member that inflates beyond its declared size (which the budget counted)."""
    copied = 0
    while chunk := source.read(1 << 20):
        copied += len(chunk)
        if copied > limit:
            raise zipfile.BadZipFile("member inflates beyond its declared size")
        sink.write(chunk)


def _dedupe(files: list[Path]) -> list[Path]:
    seen: set[str] = set()
    result = []
    for path in files:
        key = os.path.realpath(path)
        if key not in seen:
            seen.add(key)
            result.append(path)
    return result
