"""Inputs: folders, DICOMDIR (references kept inside the media folder), hidden files."""

from __future__ import annotations

import os
import shutil
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
    files, skipped = expand_inputs([media / "DICOMDIR"])
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
    files, skipped = expand_inputs([media / "DICOMDIR"])
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
    files, skipped = expand_inputs([tmp_path])
    assert [f.name for f in files] == ["I10"] and not skipped


def test_missing_input_is_reported(tmp_path):
    files, skipped = expand_inputs([tmp_path / "nope"])
    assert not files and skipped[0].reason == "no such file or folder"


def test_same_file_twice_is_listed_once(tmp_path, ct_phantom_dir):
    os.symlink(ct_phantom_dir / "I10", tmp_path / "alias")
    files, _ = expand_inputs([ct_phantom_dir / "I10", tmp_path / "alias"])
    assert len(files) == 1
