"""Turn user inputs (files, folders, .zip archives, DICOMDIR) into a list of candidate files.

`expand_inputs(paths) -> Discovered(files, skipped, ignored)`. Nothing here parses images:
folders are walked recursively (hidden entries and symlinked folders are not followed), zip
archives are extracted into a private temporary folder with a random name, and DICOMDIR
directory records are followed with every referenced path checked to stay inside the media
folder.

Inside folders and archives, documents and pictures that commonly sit beside a study (README,
SOURCES.md, report.pdf, Thumbs.db) are `ignored`, not `skipped`: they are not failures. A name
alone never decides: such a file is ignored only when it also lacks the 'DICM' marker, and files
with no extension, .dcm, .ima or anything else are always scanned. A file named on its own is
always scanned too, so the user hears why it did not open.
"""

from __future__ import annotations

import atexit
import os
import shutil
import tempfile
import warnings
import zipfile
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath

import pydicom

from viewer.core.scan import SkippedFile, short_error

MAX_ARCHIVE_BYTES = 8 * 1024**3  # refuse archives that inflate beyond this (zip bombs)
MAX_COMPRESSION_RATIO = 1000

ZIP_ERRORS = (zipfile.BadZipFile, OSError, RuntimeError, NotImplementedError, EOFError, ValueError)
NOT_DICOM_SUFFIXES = frozenset(
    {".md", ".txt", ".rtf", ".pdf", ".doc", ".docx", ".json", ".xml", ".csv", ".html", ".htm"}
    | {".ini", ".log", ".png", ".jpg", ".jpeg", ".gif", ".bmp"}
)
NOT_DICOM_NAMES = frozenset({"thumbs.db", "desktop.ini", ".ds_store"})
_temp_dirs: list[str] = []
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
    found = Discovered()
    for raw in paths:
        found.add(_expand_one(Path(raw)))
    found.files = _dedupe(found.files)
    return found


def display_path(path: str | os.PathLike) -> str:
    """How to name a file to the user: zip members as `archive.zip/member`."""
    return _display_names.get(str(path), str(path))


def _expand_one(path: Path) -> Discovered:
    if not path.exists():
        return Discovered(skipped=[SkippedFile(str(path), "no such file or folder")])
    if path.is_dir():
        return _expand_folder(path)
    if is_dicomdir(path):
        return Discovered(*read_dicomdir(path))
    if not path.is_file():
        return Discovered(skipped=[SkippedFile(str(path), "not a regular file")])
    if zipfile.is_zipfile(path) and path.suffix.lower() == ".zip":
        return extract_zip(path)
    return Discovered(files=[path])


def _expand_folder(folder: Path) -> Discovered:
    result = Discovered()
    for found in walk_files(folder):
        if is_dicomdir(found):
            result.add(Discovered(*read_dicomdir(found)))
        elif found.suffix.lower() == ".zip" and zipfile.is_zipfile(found):
            result.add(extract_zip(found))
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
    result = []
    for root, dirs, names in os.walk(folder, followlinks=False):
        dirs[:] = sorted(d for d in dirs if not d.startswith("."))
        result.extend(Path(root, n) for n in sorted(names) if not n.startswith("."))
    return [p for p in result if p.is_file()]


def is_dicomdir(path: Path) -> bool:
    return path.name.upper() == "DICOMDIR"


def read_dicomdir(path: Path) -> tuple[list[Path], list[SkippedFile]]:
    """Files referenced by a DICOMDIR; references leaving the media folder are refused."""
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            ds = pydicom.dcmread(path, force=True)
        records = list(ds.get("DirectoryRecordSequence") or [])
    except Exception as exc:  # noqa: BLE001 - a broken DICOMDIR is reported, not raised
        return [], [SkippedFile(str(path), f"DICOMDIR not readable ({short_error(exc)})")]
    root = path.parent.resolve()
    files: list[Path] = []
    skipped: list[SkippedFile] = []
    for record in records:
        file_id = record.get("ReferencedFileID")
        if not file_id:
            continue
        target, reason = resolve_file_id(root, file_id)
        if reason:
            skipped.append(SkippedFile(f"{path} → {_file_id_text(file_id)}", reason))
        else:
            files.append(target)
    return files, skipped


def _file_id_text(file_id) -> str:
    parts = [file_id] if isinstance(file_id, str) else list(file_id)
    return "/".join(str(p) for p in parts)[:200]


def resolve_file_id(root: Path, file_id) -> tuple[Path | None, str]:
    """Map a ReferencedFileID onto the media folder; (None, reason) when refused or missing."""
    parts = [file_id] if isinstance(file_id, str) else [str(p) for p in file_id]
    if any(p in ("", ".", "..") or "/" in p or "\\" in p or ":" in p for p in parts):
        return None, "DICOMDIR reference points outside the media folder; refused"
    target = root.joinpath(*parts)
    if not target.exists():
        target = _case_insensitive(root, parts) or target
    resolved = target.resolve()
    if not resolved.is_relative_to(root):
        return None, "DICOMDIR reference points outside the media folder; refused"
    if not resolved.is_file():
        return None, "referenced by DICOMDIR but missing"
    return resolved, ""


def _case_insensitive(root: Path, parts: list[str]) -> Path | None:
    """Media file IDs are upper case; copies on case-sensitive disks may not be."""
    current = root
    for part in parts:
        try:
            matches = [c for c in current.iterdir() if c.name.upper() == part.upper()]
        except OSError:
            return None
        if not matches:
            return None
        current = matches[0]
    return current


def extract_zip(path: Path) -> Discovered:
    """Extract an archive into a private temp folder (random name, removed at exit)."""
    try:
        with zipfile.ZipFile(path) as archive:
            members, skipped = _safe_members(path, archive)
            if not members:
                return Discovered(skipped=skipped)
            target = Path(tempfile.mkdtemp(prefix="radlens-zip-"))
            _temp_dirs.append(str(target))
            for info in members:
                try:
                    _extract_member(archive, info, target, path)
                except ZIP_ERRORS as exc:
                    reason = f"archive member not extractable ({short_error(exc)})"
                    skipped.append(SkippedFile(f"{path}/{info.filename}", reason))
    except ZIP_ERRORS as exc:
        reason = f"zip archive not readable ({short_error(exc)})"
        return Discovered(skipped=[SkippedFile(str(path), reason)])
    extracted = _expand_folder(target)
    extracted.skipped[:0] = skipped
    return extracted


def _safe_members(path: Path, archive: zipfile.ZipFile):
    members, skipped, total = [], [], 0
    for info in archive.infolist():
        name = f"{path}/{info.filename}"
        if info.is_dir():
            continue
        pure = PurePosixPath(info.filename.replace("\\", "/"))
        if pure.is_absolute() or ".." in pure.parts or ":" in info.filename:
            skipped.append(SkippedFile(name, "archive member path leaves the archive; refused"))
            continue
        if info.compress_size and info.file_size / info.compress_size > MAX_COMPRESSION_RATIO:
            skipped.append(SkippedFile(name, "archive member compression ratio too high; refused"))
            continue
        total += info.file_size
        if total > MAX_ARCHIVE_BYTES:
            skipped.append(SkippedFile(name, "archive larger than 8 GiB when extracted; refused"))
            break
        members.append(info)
    return members, skipped


def _extract_member(archive: zipfile.ZipFile, info: zipfile.ZipInfo, target: Path, src: Path):
    out = target.joinpath(*PurePosixPath(info.filename.replace("\\", "/")).parts)
    out.parent.mkdir(parents=True, exist_ok=True)
    with archive.open(info) as source, open(out, "wb") as sink:
        shutil.copyfileobj(source, sink, 1 << 20)
    _display_names[str(out)] = f"{src}/{info.filename}"
    return out


def _dedupe(files: list[Path]) -> list[Path]:
    seen: set[str] = set()
    result = []
    for path in files:
        key = os.path.realpath(path)
        if key not in seen:
            seen.add(key)
            result.append(path)
    return result


@atexit.register
def remove_temp_dirs() -> None:
    """Delete extracted archives when the process ends."""
    while _temp_dirs:
        shutil.rmtree(_temp_dirs.pop(), ignore_errors=True)
