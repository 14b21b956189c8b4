import os

import pytest

from viewer.core.atomic import atomic_write_bytes, atomic_write_text


def test_atomic_write_replaces_whole_file_and_leaves_no_temp(tmp_path):
    target = tmp_path / "sub" / "report.json"
    atomic_write_text(target, "old")
    atomic_write_bytes(target, b"new contents")
    assert target.read_bytes() == b"new contents"
    assert os.listdir(target.parent) == ["report.json"]


def test_failed_write_keeps_old_file(tmp_path):
    target = tmp_path / "keep.txt"
    target.write_text("original")

    class Boom:  # not bytes: the write fails after the temp file exists
        pass

    with pytest.raises(TypeError):
        atomic_write_bytes(target, Boom())  # type: ignore[arg-type]
    assert target.read_text() == "original"
    assert os.listdir(tmp_path) == ["keep.txt"]


def test_new_file_gets_ordinary_permissions_and_replaced_file_keeps_its_own(tmp_path):
    new = atomic_write_bytes(tmp_path / "new.pdf", b"%PDF")
    assert new.stat().st_mode & 0o777 == 0o666 & ~_umask()
    kept = tmp_path / "kept.pdf"
    kept.write_bytes(b"old")
    kept.chmod(0o640)
    atomic_write_bytes(kept, b"new")
    assert kept.stat().st_mode & 0o777 == 0o640


def _umask() -> int:
    previous = os.umask(0o022)
    os.umask(previous)
    return previous
