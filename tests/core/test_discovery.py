"""Inputs: folders, DICOMDIR (references kept inside the media folder), hidden files."""

from __future__ import annotations

import json
import os
import shutil
import zipfile
from pathlib import Path

import pydicom
import pytest

from tests.core.hostile import run_limited
from viewer.core import dicomdir
from viewer.core.dicomdir import resolve_file_id
from viewer.core.discovery import expand_inputs
from viewer.core.index import build_index

DICOMDIR_TREE = Path(pydicom.data.__file__).parent / "test_files" / "dicomdirtests"


@pytest.fixture
def media(tmp_path) -> Path:
    if not (DICOMDIR_TREE / "DICOMDIR").exists():
        pytest.skip("pydicom dicomdirtests not installed")
    target = tmp_path / "media"
    shutil.copytree(DICOMDIR_TREE, target, ignore=shutil.ignore_patterns("TINY_ALPHA"))
    return target


def referenced_ids(dicomdir: Path) -> list[tuple[str, ...]]:
    ds = pydicom.dcmread(dicomdir)
    return [
        tuple(r.ReferencedFileID)
        if not isinstance(r.ReferencedFileID, str)
        else (r.ReferencedFileID,)
        for r in ds.DirectoryRecordSequence
        if "ReferencedFileID" in r
    ]


def test_dicomdir_follows_its_records(media):
    found = expand_inputs([media / "DICOMDIR"])
    files, skipped = found.files, found.skipped
    ids = referenced_ids(media / "DICOMDIR")
    assert not skipped
    assert len(files) == len(ids)
    assert {f.relative_to(media.resolve()).parts for f in files} == set(ids)
    index = build_index([media / "DICOMDIR"])
    assert sum(len(s.frames) for s in index.all_series()) == len(ids)


@pytest.mark.filterwarnings("ignore:Invalid value for VR CS")
def test_dicomdir_reference_outside_media_is_refused(media, tmp_path):
    outside = tmp_path / "outside"
    outside.mkdir()
    shutil.copy(next((media / "98892003" / "MR1").iterdir()), outside / "secret")
    (media / "LINK").symlink_to(outside, target_is_directory=True)
    ds = pydicom.dcmread(media / "DICOMDIR")
    records = [r for r in ds.DirectoryRecordSequence if "ReferencedFileID" in r]
    records[0].ReferencedFileID = ["..", "outside", "secret"]
    records[1].ReferencedFileID = ["LINK", "secret"]
    records[2].ReferencedFileID = ["98892003", "NOPE"]
    ds.save_as(media / "DICOMDIR")
    found = expand_inputs([media / "DICOMDIR"])
    files, skipped = found.files, found.skipped
    reasons = [s.reason for s in skipped]
    assert reasons.count("DICOMDIR reference points outside the media folder; refused") == 2
    assert "referenced by DICOMDIR but missing" in reasons
    assert all(f.resolve().is_relative_to(media.resolve()) for f in files)
    assert all(not str(f).endswith("secret") for f in files)


def test_resolve_file_id_rejects_separators(tmp_path):
    for bad in (["a/b"], ["..", "x"], ["c:", "x"], ["a\\..\\..\\x"]):
        target, reason = resolve_file_id(tmp_path, bad)
        assert target is None and "outside" in reason


def test_folder_walk_skips_hidden_entries(tmp_path, ct_phantom_dir):
    shutil.copy(ct_phantom_dir / "I10", tmp_path / "I10")
    (tmp_path / ".hidden").mkdir()
    shutil.copy(ct_phantom_dir / "I20", tmp_path / ".hidden" / "I20")
    (tmp_path / ".DS_Store").write_bytes(b"junk")
    found = expand_inputs([tmp_path])
    assert [f.name for f in found.files] == ["I10"] and not found.skipped


def test_missing_input_is_reported(tmp_path):
    found = expand_inputs([tmp_path / "nope"])
    assert not found.files and found.skipped[0].reason == "no such file or folder"


def test_same_file_twice_is_listed_once(tmp_path, ct_phantom_dir):
    os.symlink(ct_phantom_dir / "I10", tmp_path / "alias")
    found = expand_inputs([ct_phantom_dir / "I10", tmp_path / "alias"])
    assert len(found.files) == 1


def _folder_with_documents(folder: Path, ct_phantom_dir: Path) -> None:
    shutil.copy(ct_phantom_dir / "I10", folder / "I10")  # no extension
    shutil.copy(ct_phantom_dir / "I20", folder / "slice.dcm")
    shutil.copy(ct_phantom_dir / "I30", folder / "SLICE.IMA")
    shutil.copy(ct_phantom_dir / "I40", folder / "exported.txt")  # DICOM despite its name
    (folder / "README.md").write_text("# Study notes\n")
    (folder / "report.pdf").write_bytes(b"%PDF-1.4\n%%EOF\n")
    (folder / "Thumbs.db").write_bytes(b"\xd0\xcf\x11\xe0" + b"\x00" * 600)
    (folder / "junk").write_bytes(b"\x00" * 300)  # no extension: scanned, reported
    (folder / "broken.dcm").write_bytes(b"DICM" * 10)


def test_documents_beside_images_are_ignored_not_skipped(tmp_path, ct_phantom_dir):
    _folder_with_documents(tmp_path, ct_phantom_dir)
    index = build_index([tmp_path])
    (info,) = index.all_series()
    assert sorted(Path(f.path).name for f in info.frames) == [
        "I10",
        "SLICE.IMA",
        "exported.txt",
        "slice.dcm",
    ]
    assert sorted(Path(s.path).name for s in index.skipped) == ["broken.dcm", "junk"]
    assert sorted(Path(p).name for p in index.ignored) == ["README.md", "Thumbs.db", "report.pdf"]


def test_documents_inside_a_zip_are_ignored_by_their_archive_name(tmp_path, ct_phantom_dir):
    archive = tmp_path / "study.zip"
    with zipfile.ZipFile(archive, "w") as zf:
        zf.write(ct_phantom_dir / "I10", "study/I10")
        zf.writestr("study/README.txt", "read me")
    index = build_index([archive])
    assert len(index.all_series()) == 1 and not index.skipped
    assert index.ignored == [f"{archive}/study/README.txt"]


def test_a_document_named_on_its_own_is_reported(tmp_path):
    (tmp_path / "README.md").write_text("# notes\n")
    index = build_index([tmp_path / "README.md"])
    (skipped,) = index.skipped
    assert "not a DICOM file" in skipped.reason and not index.ignored


def test_a_folder_of_documents_only_explains_why_nothing_opened(tmp_path):
    (tmp_path / "notes.txt").write_text("not DICOM")
    index = build_index([tmp_path])
    assert not index.all_series()
    assert [Path(s.path).name for s in index.skipped] == ["notes.txt"]
    assert "document or picture" in index.skipped[0].reason


# A hostile DICOMDIR (issue 10, left from 0.2.0): read within bounds whatever its records claim,
# one message naming it and why, and the files beside it still open.


def _image_count(paths) -> int:
    return sum(len(s.frames) for s in build_index(paths).all_series())


def _dicomdir_reasons(found, media: Path) -> list[str]:
    return [s.reason for s in found.skipped if s.path == str(media / "DICOMDIR")]


def test_dicomdir_value_claiming_gigabytes_is_read_in_bounded_memory(media):
    """The last record's last element claims 4 GiB in an 11 KB DICOMDIR: `radlens info` in an
    address space of 1 GiB reads every record (pydicom alone asks for the 4 GiB)."""
    ds = pydicom.dcmread(media / "DICOMDIR")
    ds.DirectoryRecordSequence[-1].add_new(0x00420011, "OB", b"\0" * 8)  # Encapsulated Document
    ds.save_as(media / "DICOMDIR")
    raw = (media / "DICOMDIR").read_bytes()
    head = b"\x42\x00\x11\x00OB\0\0" + (8).to_bytes(4, "little")
    assert raw.count(head) == 1
    (media / "DICOMDIR").write_bytes(raw.replace(head, head[:8] + b"\xf0\xff\xff\xff"))
    done = run_limited(["info", "--json", str(media / "DICOMDIR")], 1024)
    report = json.loads(done.stdout)
    frames = sum(
        s["frames"] for p in report["patients"] for st in p["studies"] for s in st["series"]
    )
    assert frames == len(referenced_ids(DICOMDIR_TREE / "DICOMDIR"))
    [refusal] = [s for s in report["skipped"] if s["path"] == str(media / "DICOMDIR")]
    assert "claims more bytes for element (0042,0011) than the file holds" in refusal["reason"]
    assert "\n" not in refusal["reason"] and "MemoryError" not in done.stdout + done.stderr


def test_dicomdir_record_claiming_more_than_the_file_stops_there(media):
    raw = bytearray((media / "DICOMDIR").read_bytes())
    record = pydicom.dcmread(media / "DICOMDIR").DirectoryRecordSequence[10].seq_item_tell
    raw[record + 4 : record + 8] = (0xFFFFFFF0).to_bytes(4, "little")
    (media / "DICOMDIR").write_bytes(bytes(raw))
    found = expand_inputs([media / "DICOMDIR"])
    assert _dicomdir_reasons(found, media) == [
        f"DICOMDIR record at byte {record:,} claims 4,294,967,280 bytes, beyond the end of the "
        f"file ({len(raw):,} bytes); read as far as the file goes"
    ]
    assert 0 < len(found.files) < len(referenced_ids(DICOMDIR_TREE / "DICOMDIR"))
    assert _image_count([media]) == len(referenced_ids(DICOMDIR_TREE / "DICOMDIR"))


def test_dicomdir_larger_than_the_header_limit_is_not_read(media):
    """A DICOMDIR of 65 MiB (sparse trailing padding) is refused unread; the folder opens."""
    with open(media / "DICOMDIR", "r+b") as fp:
        fp.seek(0, os.SEEK_END)
        fp.write(b"\xfc\xff\xfc\xffOB\0\0" + (65 * 1024**2).to_bytes(4, "little"))
        fp.truncate(65 * 1024**2 + fp.tell())
    found = expand_inputs([media])
    [reason] = _dicomdir_reasons(found, media)
    assert reason == "DICOMDIR too large (65.0 MB; at most 64 MB are read); not read"
    assert _image_count([media]) == len(referenced_ids(DICOMDIR_TREE / "DICOMDIR"))


def test_dicomdir_records_are_counted(media, monkeypatch):
    monkeypatch.setattr(dicomdir, "MAX_DICOMDIR_RECORDS", 20)
    records, problem = dicomdir.read_records(media / "DICOMDIR")
    assert len(records) == 20
    assert problem == "holds more than 20 records; only the first 20 are read"


def _nested(depth: int) -> bytes:
    """`depth` undefined-length sequences, each in an item of the one above."""
    sq = b"\x08\x00\x40\x11SQ\0\0\xff\xff\xff\xff"  # Referenced Image Sequence
    item, item_end = b"\xfe\xff\x00\xe0\xff\xff\xff\xff", b"\xfe\xff\x0d\xe0\0\0\0\0"
    seq_end = b"\xfe\xff\xdd\xe0\0\0\0\0"
    return (sq + item) * depth + (item_end + seq_end) * depth


def test_dicomdir_record_nested_too_deeply_stops_there(media):
    """A last record holding 20,000 nested sequences (700 KB): one message, the records before
    it read, no traceback."""
    raw = (media / "DICOMDIR").read_bytes()
    ds = pydicom.dcmread(media / "DICOMDIR")
    start = ds.DirectoryRecordSequence[-1].seq_item_tell
    record = b"\xfe\xff\x00\xe0\xff\xff\xff\xff" + b"\x04\x00\x30\x14CS\x06\x00IMAGE "
    record += _nested(20_000) + b"\xfe\xff\x0d\xe0\0\0\0\0"
    sequence = raw.index(b"\x04\x00\x20\x12SQ")
    patched = bytearray(raw[:start] + record + b"\xfe\xff\xdd\xe0\0\0\0\0")
    patched[sequence + 8 : sequence + 12] = b"\xff\xff\xff\xff"  # now delimited, not counted
    (media / "DICOMDIR").write_bytes(bytes(patched))
    found = expand_inputs([media / "DICOMDIR"])
    assert _dicomdir_reasons(found, media) == [
        f"DICOMDIR record at byte {start:,} is nested too deeply; the records before it are read"
    ]
    assert len(found.files) == len(referenced_ids(DICOMDIR_TREE / "DICOMDIR")) - 1


# The record hierarchy (PATIENT → STUDY → SERIES → IMAGE) is followed through the offsets;
# records marked inactive are passed over with what lies below them.

ROOT_OFFSET = b"\x04\x00\x00\x12"  # of the root's first record, in the top level
NEXT_OFFSET = b"\x04\x00\x00\x14"  # of a record's next sibling
LOWER_OFFSET = b"\x04\x00\x20\x14"  # of the first record of the entity below a record
IN_USE_FLAG = b"\x04\x00\x10\x14US\x02\x00"  # Record In-use Flag, explicit VR little endian
DROPPED_IMAGE = ("98892003", "MR2", "5011")  # in the middle of its series' chain of images


def _records(dicomdir_path: Path) -> dict[tuple[str, ...], int]:
    """Where each file-referencing record starts, by its ReferencedFileID, in file order."""
    ds = pydicom.dcmread(dicomdir_path)
    return {
        tuple(r.ReferencedFileID): r.seq_item_tell
        for r in ds.DirectoryRecordSequence
        if "ReferencedFileID" in r
    }


def _set_offset(raw: bytearray, tag: bytes, after: int, value: int) -> None:
    """Set the first UL element `tag` from byte `after` on to `value`, in place."""
    at = raw.index(tag + b"UL\x04\x00", after)
    raw[at + 8 : at + 12] = value.to_bytes(4, "little")


def _patched(media: Path, inactive: list[int], offsets: list[tuple[bytes, int, int]]) -> None:
    """Mark the records starting at `inactive` not in use and set `offsets`, in place (the
    lengths do not change, so every other offset stays true)."""
    raw = bytearray((media / "DICOMDIR").read_bytes())
    for start in inactive:
        at = raw.index(IN_USE_FLAG, start)
        raw[at + 8 : at + 10] = b"\0\0"
    for tag, after, value in offsets:
        _set_offset(raw, tag, after, value)
    (media / "DICOMDIR").write_bytes(bytes(raw))


def _listed(found, media: Path) -> list[tuple[str, ...]]:
    return [f.relative_to(media.resolve()).parts for f in found.files]


def test_dicomdir_inactive_records_and_what_lies_below_them_are_not_listed(media):
    """A SERIES record and one IMAGE record marked inactive (Record In-use Flag 0000H): the
    series' five images and that image are not listed; the image after it in its chain is."""
    records = _records(media / "DICOMDIR")
    ct5n = [file_id for file_id in records if file_id[1:2] == ("CT5N",)]
    sequence = pydicom.dcmread(media / "DICOMDIR").DirectoryRecordSequence
    [ct5n_series] = [
        r.seq_item_tell
        for r in sequence
        if r.get("OffsetOfReferencedLowerLevelDirectoryEntity") == records[ct5n[0]]
    ]
    _patched(media, [ct5n_series, records[DROPPED_IMAGE]], [])
    found = expand_inputs([media / "DICOMDIR"])
    assert not found.skipped
    every = referenced_ids(DICOMDIR_TREE / "DICOMDIR")
    assert len(ct5n) == 5
    assert _listed(found, media) == [i for i in every if i not in ct5n and i != DROPPED_IMAGE]
    assert ("98892003", "MR2", "4981") in _listed(found, media)  # the next in the chain


def test_dicomdir_offsets_looping_back_are_reported_not_followed(media):
    """The last record's Offset of the Next Directory Record points back at the root's first
    record: reported once, every file in use still found (records are read in file order)."""
    ds = pydicom.dcmread(media / "DICOMDIR")
    root = ds.OffsetOfTheFirstDirectoryRecordOfTheRootDirectoryEntity
    last = ds.DirectoryRecordSequence[-1]
    assert last.OffsetOfTheNextDirectoryRecord == 0
    _patched(
        media,
        [_records(media / "DICOMDIR")[DROPPED_IMAGE]],
        [(NEXT_OFFSET, last.seq_item_tell, root)],
    )
    found = expand_inputs([media / "DICOMDIR"])
    assert _dicomdir_reasons(found, media) == [
        f"DICOMDIR record offsets loop back (the record at byte {root:,} is reached twice); "
        "its records are read in file order"
    ]
    every = referenced_ids(DICOMDIR_TREE / "DICOMDIR")
    assert _listed(found, media) == [i for i in every if i != DROPPED_IMAGE]


def test_dicomdir_lower_level_offset_back_up_the_tree_is_a_loop(media):
    """The first IMAGE record's lower-level offset points back up at the root's PATIENT record
    (a cycle through the tree, not along a chain): reported, every record in use kept."""
    ds = pydicom.dcmread(media / "DICOMDIR")
    root = ds.OffsetOfTheFirstDirectoryRecordOfTheRootDirectoryEntity
    image = next(r for r in ds.DirectoryRecordSequence if r.DirectoryRecordType == "IMAGE")
    _patched(media, [], [(LOWER_OFFSET, image.seq_item_tell, root)])
    records, problem = dicomdir.read_records(media / "DICOMDIR")
    assert problem == (
        f"record offsets loop back (the record at byte {root:,} is reached twice); "
        "its records are read in file order"
    )
    assert [r.offset for r in records] == [r.seq_item_tell for r in ds.DirectoryRecordSequence]


def _missing_root(ds) -> tuple[bytes, int, int]:
    return ROOT_OFFSET, 0, 0


def _into_a_record(ds) -> tuple[bytes, int, int]:
    series = next(r for r in ds.DirectoryRecordSequence if r.DirectoryRecordType == "SERIES")
    return (
        LOWER_OFFSET,
        series.seq_item_tell,
        series.OffsetOfReferencedLowerLevelDirectoryEntity + 2,
    )


@pytest.mark.parametrize(
    ("damage", "reason"),
    [
        (_missing_root, "gives no offset of its root's first record"),
        (
            _into_a_record,
            "the lower-level offset of the record at byte 724 points to byte 858, "
            "where no record starts",
        ),
    ],
)
def test_dicomdir_offsets_that_cannot_be_followed_fall_back_to_file_order(media, damage, reason):
    ds = pydicom.dcmread(media / "DICOMDIR")
    _patched(media, [_records(media / "DICOMDIR")[DROPPED_IMAGE]], [damage(ds)])
    found = expand_inputs([media / "DICOMDIR"])
    assert _dicomdir_reasons(found, media) == [
        f"DICOMDIR {reason}; its records are read in file order"
    ]
    every = referenced_ids(DICOMDIR_TREE / "DICOMDIR")
    assert _listed(found, media) == [i for i in every if i != DROPPED_IMAGE]


def test_dicomdir_with_records_no_offset_reaches_is_read_in_file_order(media):
    """pydicom's DICOMDIR-nopatient: the root offset names an IMAGE record, so the records above
    it are reached from nowhere; said once, every file still listed."""
    shutil.copy(DICOMDIR_TREE / "DICOMDIR-nopatient", media / "DICOMDIR")
    found = expand_inputs([media / "DICOMDIR"])
    assert _dicomdir_reasons(found, media) == [
        "DICOMDIR record at byte 630 is not reached from the root's first record; its records "
        "are read in file order"
    ]
    assert _listed(found, media) == referenced_ids(DICOMDIR_TREE / "DICOMDIR")


@pytest.mark.parametrize("variant", ["DICOMDIR-implicit", "DICOMDIR-bigEnd", "DICOMDIR-reordered"])
def test_dicomdir_encodings_and_record_orders_read_alike(media, variant):
    """pydicom's implicit VR, big endian and reordered copies of the same media directory."""
    shutil.copy(DICOMDIR_TREE / variant, media / "DICOMDIR")
    found = expand_inputs([media / "DICOMDIR"])
    assert not found.skipped
    assert _listed(found, media) == referenced_ids(DICOMDIR_TREE / "DICOMDIR")
