"""Inputs: folders, DICOMDIR (references kept inside the media folder), hidden files."""

from __future__ import annotations

import os
import shutil
import zipfile
from pathlib import Path

import pydicom
import pytest

from viewer.core.discovery import expand_inputs, resolve_file_id
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
