"""Atomic writes and output target checks: whole files or none, errors naming the target."""

import os
import shutil

import pytest

from tests.unwritable import unwritable_folder  # noqa: F401 - the fixture is used by name
from viewer.core.atomic import (
    ExportPartError,
    OutputTargetError,
    Part,
    atomic_create_bytes,
    atomic_write_bytes,
    atomic_write_text,
    check_output_file,
    check_output_folder,
    write_all_or_nothing,
)


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


def test_a_file_made_once_is_the_owners_only_and_never_replaced(tmp_path):
    target = tmp_path / "sub" / "secret.bin"
    assert atomic_create_bytes(target, b"first") is True
    assert atomic_create_bytes(target, b"second") is False
    assert target.read_bytes() == b"first" and os.listdir(target.parent) == ["secret.bin"]
    if os.name != "nt":
        assert target.stat().st_mode & 0o777 == 0o600


def _umask() -> int:
    previous = os.umask(0o022)
    os.umask(previous)
    return previous


def test_writing_onto_a_folder_names_the_target_and_leaves_no_temp(tmp_path):
    target = tmp_path / "report.pdf"
    target.mkdir()
    with pytest.raises(IsADirectoryError) as raised:
        atomic_write_bytes(target, b"%PDF")
    assert raised.value.filename == str(target)
    assert os.listdir(tmp_path) == ["report.pdf"]


def test_a_file_in_the_way_of_the_folder_names_the_target(tmp_path):
    blocker = tmp_path / "reports"
    blocker.write_text("a file, not a folder")
    with pytest.raises(NotADirectoryError) as raised:
        atomic_write_bytes(blocker / "r.pdf", b"%PDF")
    assert raised.value.filename == str(blocker / "r.pdf")
    assert "File exists" not in str(raised.value)


def test_output_file_check_names_the_target_and_the_reason(tmp_path):
    (tmp_path / "folder.pdf").mkdir()
    (tmp_path / "blocker").write_text("a file, not a folder")
    cases = {
        tmp_path / "folder.pdf": "is a folder",
        tmp_path / "blocker" / "r.pdf": "is not a folder",
        tmp_path / "missing" / "r.pdf": "does not exist",
    }
    for target, reason in cases.items():
        with pytest.raises(OutputTargetError) as raised:
            check_output_file(target)
        assert raised.value.target == str(target) and reason in raised.value.reason
    assert check_output_file(tmp_path / "r.pdf") == tmp_path / "r.pdf"
    assert sorted(os.listdir(tmp_path)) == ["blocker", "folder.pdf"]


def test_output_folder_check(tmp_path):
    assert check_output_folder(tmp_path / "new") == tmp_path / "new"  # made by the export
    assert not (tmp_path / "new").exists()
    (tmp_path / "file").write_text("x")
    with pytest.raises(OutputTargetError, match="is not a folder"):
        check_output_folder(tmp_path / "file")
    with pytest.raises(OutputTargetError, match="does not exist"):
        check_output_folder(tmp_path / "a" / "b")
    assert os.listdir(tmp_path) == ["file"]  # the probe left nothing


def test_unwritable_folder_is_refused_before_anything_is_written(unwritable_folder):  # noqa: F811
    with pytest.raises(OutputTargetError, match="cannot write there") as raised:
        check_output_file(unwritable_folder / "r.pdf")
    assert raised.value.target == str(unwritable_folder / "r.pdf")
    with pytest.raises(OSError) as failed:
        atomic_write_bytes(unwritable_folder / "r.pdf", b"%PDF")
    assert failed.value.filename == str(unwritable_folder / "r.pdf")


def test_a_nearly_full_disk_is_refused(tmp_path, monkeypatch):
    from viewer.core import atomic

    monkeypatch.setattr(atomic, "MIN_FREE_BYTES", shutil.disk_usage(tmp_path).free * 2)
    with pytest.raises(OutputTargetError, match="disk full"):
        check_output_file(tmp_path / "r.pdf")


# One export of several files is written all or none (issue 10, left from 0.2.0).


def test_all_parts_are_written_and_no_temp_is_left(tmp_path):
    parts = [Part(n, tmp_path / f"{n}.dcm", n.encode() * 100) for n in ("SC", "SR", "SEG")]
    assert write_all_or_nothing(parts) == [p.path for p in parts]
    assert sorted(os.listdir(tmp_path)) == ["SC.dcm", "SEG.dcm", "SR.dcm"]
    assert (tmp_path / "SEG.dcm").read_bytes() == b"SEG" * 100


def test_a_later_part_failing_takes_back_the_earlier_ones(tmp_path):
    """The SEG's name is taken by a folder: renaming it in fails after the SC and SR are in
    place; they go again, the file the SC replaced comes back, no temporary file stays."""
    (tmp_path / "SC.dcm").write_bytes(b"an earlier export")
    (tmp_path / "SEG.dcm").mkdir()
    parts = [Part(n, tmp_path / f"{n}.dcm", n.encode()) for n in ("SC", "SR", "SEG")]
    with pytest.raises(ExportPartError) as raised:
        write_all_or_nothing(parts)
    assert raised.value.part == "SEG" and raised.value.target == str(tmp_path / "SEG.dcm")
    assert str(raised.value) == (
        f"{tmp_path / 'SEG.dcm'}: SEG not written (Is a directory); nothing of this export is kept"
    )
    assert sorted(os.listdir(tmp_path)) == ["SC.dcm", "SEG.dcm"]
    assert (tmp_path / "SC.dcm").read_bytes() == b"an earlier export"


def test_a_part_that_cannot_be_staged_leaves_nothing(tmp_path):
    """A file where the SEG's folder should be: the SEG cannot even be staged."""
    (tmp_path / "seg").write_bytes(b"in the way")
    parts = [
        Part("SC", tmp_path / "sc" / "SC.dcm", b"sc"),
        Part("SEG", tmp_path / "seg" / "SEG.dcm", b"seg"),
    ]
    with pytest.raises(ExportPartError, match=r"SEG not written \(File exists\)"):
        write_all_or_nothing(parts)
    assert os.listdir(tmp_path / "sc") == []


class _WindowsNamedOs:
    """`os` as `viewer.core.atomic` sees it on Windows (`os.name == "nt"`), else the real one."""

    name = "nt"

    def __getattr__(self, attribute: str):
        return getattr(os, attribute)


def test_the_windows_path_also_puts_back_the_file_a_part_replaced(tmp_path, monkeypatch):
    """Windows closes each temp file before its rename; that must not drop the link to the
    file the part replaces, which a later failing part has to put back."""
    from viewer.core import atomic

    monkeypatch.setattr(atomic, "os", _WindowsNamedOs())
    (tmp_path / "SC.dcm").write_bytes(b"an earlier export")
    (tmp_path / "SEG.dcm").mkdir()
    parts = [Part(n, tmp_path / f"{n}.dcm", n.encode()) for n in ("SC", "SR", "SEG")]
    with pytest.raises(ExportPartError):
        write_all_or_nothing(parts)
    assert sorted(os.listdir(tmp_path)) == ["SC.dcm", "SEG.dcm"]
    assert (tmp_path / "SC.dcm").read_bytes() == b"an earlier export"


def _clean_in_another_process(folder) -> list[str]:
    """What `clean_stale_temp_files` removes when another process (another RadLens) runs it."""
    import subprocess
    import sys

    code = "import sys; from inference.files import clean_stale_temp_files as c; "
    code += "print(*[p.name for p in c(sys.argv[1])], sep='\\n')"
    done = subprocess.run(
        [sys.executable, "-c", code, str(folder)], capture_output=True, text=True, timeout=60
    )
    assert done.returncode == 0, done.stderr
    return done.stdout.split()


@pytest.mark.parametrize("hard_links", [True, False])
def test_another_process_cleaning_temp_files_leaves_the_replaced_file_while_held(
    tmp_path, monkeypatch, hard_links
):
    """The link to the file a part replaced is a `.radlens-*.tmp` too: while the export runs
    it is held locked, so a cleaner elsewhere skips it and taking the part back still puts the
    old file back. Also the copy made where hard links are refused."""
    from viewer.core import atomic

    if not hard_links:
        monkeypatch.setattr(atomic.os, "link", _refuse_link)
    (tmp_path / "SC.dcm").write_bytes(b"an earlier export")
    item = atomic._stage(Part("SC", tmp_path / "SC.dcm", b"new"))
    try:
        atomic._place(item)
        aside = os.path.basename(item.old)
        assert aside in os.listdir(tmp_path)
        assert _clean_in_another_process(tmp_path) == []
        assert aside in os.listdir(tmp_path)
        atomic._take_back(item)
    finally:
        atomic._release(item)
    assert os.listdir(tmp_path) == ["SC.dcm"]
    assert (tmp_path / "SC.dcm").read_bytes() == b"an earlier export"


def test_a_replaced_file_link_left_by_a_killed_writer_is_cleaned(tmp_path):
    """Once nothing holds it (its writer gone), the link is an ordinary stale temp file."""
    from viewer.core import atomic

    (tmp_path / "SC.dcm").write_bytes(b"an earlier export")
    aside, fd = atomic._link_aside(tmp_path / "SC.dcm")
    os.close(fd)  # as the operating system does when the process is killed
    assert _clean_in_another_process(tmp_path) == [os.path.basename(aside)]
    assert os.listdir(tmp_path) == ["SC.dcm"]


def _refuse_link(source, target):
    raise PermissionError(1, "Operation not permitted")
