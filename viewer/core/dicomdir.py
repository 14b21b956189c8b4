"""Bounded reading of a DICOMDIR (PS3.10 media directory): `read_dicomdir(path)`.

A DICOMDIR is read like any header, within bounds whatever it claims: at most
`MAX_DICOMDIR_BYTES` (the scan's header limit) read into memory, then its directory records
one at a time in file order, keeping only what a record references, and at most
`MAX_DICOMDIR_RECORDS` of them. A record claiming more bytes than the file holds, one nested too
deeply and one that does not parse each end the reading in one message naming the DICOMDIR; the
records read before it still count, in file order.

The files are then taken by following the record hierarchy (PATIENT → STUDY → SERIES → IMAGE and
the other file-referencing leaves) from the root's first record through each record's next and
lower-level offsets (PS3.3 F.3.2.1), among the records read, each at most once: a record marked
inactive (Record In-use Flag 0000H) is passed over with everything below it. When the offsets
cannot be followed (the root's offset missing, an offset where no record starts, offsets that
loop back, a record in use that no offset reaches) one message says so and every record is taken
in file order instead, still without those marked inactive. Every referenced path must stay
inside the media folder. A DICOMDIR refused as a whole costs nothing when it sits in a folder:
the folder's files are scanned anyway.
"""

from __future__ import annotations

import io
import warnings
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO, Literal

from pydicom.dataset import Dataset
from pydicom.filereader import read_partial, read_sequence_item

from viewer.core.deflated import HEADER_LIMIT, is_deflated, read_file_meta
from viewer.core.scan import SkippedFile, short_error, truncated_element

MAX_DICOMDIR_BYTES = HEADER_LIMIT  # a DICOMDIR is all header
MAX_DICOMDIR_RECORDS = 100_000  # a full DVD holds a few tens of thousands
RECORD_SEQUENCE = 0x00041220  # Directory Record Sequence
ITEM, SEQUENCE_END = 0xFFFEE000, 0xFFFEE0DD
UNDEFINED = 0xFFFFFFFF
OUTSIDE = "DICOMDIR reference points outside the media folder; refused"


@dataclass(frozen=True)
class DirectoryRecord:
    """What RadLens keeps of one record: where it is, its links and the file it references."""

    offset: int  # of its Item tag, from the first byte of the file (PS3.3 F.3.2.1)
    next: int  # Offset of the Next Directory Record, 0: none
    lower: int  # Offset of Referenced Lower-Level Directory Entity, 0: none
    file_id: tuple[str, ...]
    in_use: bool = True  # Record In-use Flag: 0000H marks the record (and its subtree) inactive


class _Damaged(Exception):
    """Internal: why reading the records stopped."""


def read_dicomdir(path: Path) -> tuple[list[Path], list[SkippedFile]]:
    """Files referenced by a DICOMDIR, and refusals (each naming the DICOMDIR and why)."""
    records, problem = read_records(path)
    root = path.parent.resolve()
    files: list[Path] = []
    skipped = [SkippedFile(str(path), f"DICOMDIR {problem}")] if problem else []
    for record in records:
        if not record.file_id:
            continue
        target, reason = resolve_file_id(root, record.file_id)
        if target is None:
            skipped.append(SkippedFile(f"{path} → {_file_id_text(record.file_id)}", reason))
        else:
            files.append(target)
    return files, skipped


def read_records(path: Path) -> tuple[list[DirectoryRecord], str]:
    """The records in use, in hierarchy order (file order when the reading stopped early or the
    offsets cannot be followed), and what stopped or troubled the reading ('' when nothing)."""
    records, root, problem = _read_file_order(path)
    if problem:
        return _in_use(records), problem
    return _follow_hierarchy(records, root)


def _read_file_order(path: Path) -> tuple[list[DirectoryRecord], int, str]:
    """Every record read in file order, the root's first record offset (0: unknown), and what
    stopped the reading ('' when nothing)."""
    try:
        size = path.stat().st_size
        if size > MAX_DICOMDIR_BYTES:
            limit = MAX_DICOMDIR_BYTES / 1024**2
            return (
                [],
                0,
                f"too large ({size / 1024**2:.1f} MB; at most {limit:g} MB are read); not read",
            )
        with open(path, "rb") as fp:
            data = fp.read(MAX_DICOMDIR_BYTES)
    except OSError as exc:
        return [], 0, f"not readable ({short_error(exc)})"
    records: list[DirectoryRecord] = []
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            root = _read_into(records, data)
    except _Damaged as damage:
        return records, 0, str(damage)
    return records, root, ""


def _read_into(records: list[DirectoryRecord], data: bytes) -> int:
    """Append the records in file order; return the root's first record offset (0: unknown)."""
    fp = io.BytesIO(data)
    top = _top_level(fp)
    implicit, little = (bool(flag) for flag in top.original_encoding)
    order: Literal["little", "big"] = "little" if little else "big"
    end = _sequence_end(fp, implicit, order, len(data))
    encoding = top._character_set  # noqa: SLF001 - the records' default character set
    while (start := fp.tell()) < (len(data) if end is None else end):
        head = data[start : start + 8]
        tag = _tag(head, order) if len(head) == 8 else None
        if tag == SEQUENCE_END:
            break
        if tag != ITEM:
            raise _Damaged(_stopped_at(start, "is not a sequence item (truncated or damaged)"))
        _check_count(records)
        item = _read_item(fp, implicit, little, encoding)
        records.append(_record(item, start))
        claim = _claim_past_the_end(item, int.from_bytes(head[4:8], order), start, len(data))
        if claim:
            raise _Damaged(f"record at byte {start:,} {claim}; read as far as the file goes")
    else:
        if end is None:
            raise _Damaged("ends inside its records (truncated?); the records before are read")
    return int(top.get("OffsetOfTheFirstDirectoryRecordOfTheRootDirectoryEntity") or 0)


def _top_level(fp: BinaryIO) -> Dataset:
    """The DICOMDIR's elements before its records; fp left on the Directory Record Sequence."""
    if is_deflated(read_file_meta(fp)):
        raise _Damaged("deflated; not read (a DICOMDIR is Explicit VR Little Endian, PS3.10)")
    fp.seek(0)
    try:
        return read_partial(fp, stop_when=_at_records, force=True)
    except Exception as exc:  # noqa: BLE001 - any parser failure is a reason, never a traceback
        raise _Damaged(f"not readable ({short_error(exc)})") from None


def _check_count(records: list[DirectoryRecord]) -> None:
    if len(records) >= MAX_DICOMDIR_RECORDS:
        raise _Damaged(
            f"holds more than {MAX_DICOMDIR_RECORDS:,} records; only the first "
            f"{MAX_DICOMDIR_RECORDS:,} are read"
        )


def _stopped_at(start: int, why: str) -> str:
    return f"record at byte {start:,} {why}; the records before it are read"


def _at_records(tag, vr, length) -> bool:
    return tag == RECORD_SEQUENCE


def _tag(head: bytes, order: Literal["little", "big"]) -> int:
    return int.from_bytes(head[0:2], order) << 16 | int.from_bytes(head[2:4], order)


def _sequence_end(
    fp: BinaryIO, implicit: bool, order: Literal["little", "big"], size: int
) -> int | None:
    """Where the record sequence ends (its claimed length, never past the file; None: undefined
    length, ended by its delimiter); fp on item 1."""
    head = fp.read(8)
    if len(head) < 8 or _tag(head, order) != RECORD_SEQUENCE:
        raise _Damaged("holds no directory records (no Directory Record Sequence)")
    if not implicit:
        head = head[:4] + fp.read(4)  # explicit VR: 'SQ', two reserved bytes, then the length
    length = int.from_bytes(head[4:8], order)
    if length == UNDEFINED:
        return None
    if fp.tell() + length > size:
        raise _Damaged(
            f"record sequence claims {length:,} bytes, beyond the end of the file "
            f"({size:,} bytes); not read"
        )
    return fp.tell() + length


def _read_item(fp: BinaryIO, implicit: bool, little: bool, encoding) -> Dataset:
    """One record (a sequence item) at fp; _Damaged naming it when it cannot be read."""
    start = fp.tell()
    try:
        item = read_sequence_item(fp, implicit, little, encoding)
    except RecursionError:
        raise _Damaged(_stopped_at(start, "is nested too deeply")) from None
    except Exception as exc:  # noqa: BLE001 - a damaged record is a reason
        raise _Damaged(_stopped_at(start, f"not readable ({short_error(exc)})")) from None
    if item is None or fp.tell() <= start:
        raise _Damaged(_stopped_at(start, "not readable"))
    return item


def _claim_past_the_end(item: Dataset, length: int, start: int, size: int) -> str:
    """What a record claims beyond the end of the file (its length, or an element's), else ''."""
    if length != UNDEFINED and start + 8 + length > size:
        return f"claims {length:,} bytes, beyond the end of the file ({size:,} bytes)"
    cut = truncated_element(item)
    if cut:
        return f"claims more bytes for element {cut} than the file holds ({size:,} bytes)"
    return ""


def _record(item: Dataset, start: int) -> DirectoryRecord:
    try:
        file_id = item.get("ReferencedFileID") or ()
        return DirectoryRecord(
            offset=start,
            next=int(item.get("OffsetOfTheNextDirectoryRecord") or 0),
            lower=int(item.get("OffsetOfReferencedLowerLevelDirectoryEntity") or 0),
            file_id=(file_id,) if isinstance(file_id, str) else tuple(str(p) for p in file_id),
            in_use=item.get("RecordInUseFlag", UNDEFINED) != 0,
        )
    except Exception as exc:  # noqa: BLE001 - a value that does not parse is damage
        raise _Damaged(_stopped_at(start, f"not readable ({short_error(exc)})")) from None


def _in_use(records: list[DirectoryRecord]) -> list[DirectoryRecord]:
    return [r for r in records if r.in_use]


def _follow_hierarchy(
    records: list[DirectoryRecord], root: int
) -> tuple[list[DirectoryRecord], str]:
    """The records in use reached from the root; when the offsets cannot be followed, every
    record in use in file order, and why."""
    if not records:
        return [], ""
    try:
        return _walk({r.offset: r for r in records}, root), ""
    except _Damaged as damage:
        return _in_use(records), f"{damage}; its records are read in file order"


def _walk(by_offset: dict[int, DirectoryRecord], root: int) -> list[DirectoryRecord]:
    """The active records reached from the root, depth first (a record, the entity below it,
    then its next sibling); below an inactive record nothing is active. _Damaged when the root
    offset is missing, an offset leads where no record starts or back to a record already
    reached, or a record in use is not reached at all.

    Each record is visited at most once, so this is linear whatever the offsets say.
    """
    if not root:
        raise _Damaged("gives no offset of its root's first record")
    reached: list[DirectoryRecord] = []
    seen: set[int] = set()
    pending = [(root, "the root's first record offset", True)]
    while pending:
        offset, link, chain_active = pending.pop()
        if not offset:  # 0 ends a chain
            continue
        record = _record_at(by_offset, offset, link, seen)
        seen.add(offset)
        active = chain_active and record.in_use
        if active:
            reached.append(record)
        pending.append((record.next, _link("next-record", offset), chain_active))
        pending.append((record.lower, _link("lower-level", offset), active))
    _check_all_reached(by_offset, seen)
    return reached


def _record_at(
    by_offset: dict[int, DirectoryRecord], offset: int, link: str, seen: set[int]
) -> DirectoryRecord:
    if offset in seen:
        raise _Damaged(f"record offsets loop back (the record at byte {offset:,} is reached twice)")
    if offset not in by_offset:
        raise _Damaged(f"{link} points to byte {offset:,}, where no record starts")
    return by_offset[offset]


def _link(kind: str, offset: int) -> str:
    return f"the {kind} offset of the record at byte {offset:,}"


def _check_all_reached(by_offset: dict[int, DirectoryRecord], seen: set[int]) -> None:
    stray = next((o for o, r in by_offset.items() if r.in_use and o not in seen), None)
    if stray is not None:
        raise _Damaged(f"record at byte {stray:,} is not reached from the root's first record")


def _file_id_text(file_id) -> str:
    parts = [file_id] if isinstance(file_id, str) else list(file_id)
    return "/".join(str(p) for p in parts)[:200]


def resolve_file_id(root: Path, file_id) -> tuple[Path | None, str]:
    """Map a ReferencedFileID onto the media folder; (None, reason) when refused or missing."""
    parts = [file_id] if isinstance(file_id, str) else [str(p) for p in file_id]
    if any(p in ("", ".", "..") or "/" in p or "\\" in p or ":" in p for p in parts):
        return None, OUTSIDE
    target = root.joinpath(*parts)
    if not target.exists():
        target = _case_insensitive(root, parts) or target
    resolved = target.resolve()
    if not resolved.is_relative_to(root):
        return None, OUTSIDE
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
