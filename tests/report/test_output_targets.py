"""Output targets (issue 10.9): a bad target fails first, naming the target; never half-written.

`--model no-such-model` proves the order: were the target checked after the analysis, the
message would be about the missing model instead.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest

from tests.unwritable import unwritable_folder  # noqa: F401 - the fixture is used by name
from viewer.cli import main
from viewer.paths import sample_study_dir

REPO_ROOT = Path(__file__).resolve().parents[2]
NO_MODEL = ["--model", "no-such-model"]


def one_line_error(capsys) -> str:
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and "Traceback" not in err, err
    assert ".radlens-" not in err and "File exists" not in err, err
    return err


def report(out: Path, *extra: str) -> int:
    return main(["report", str(sample_study_dir()), "--out", str(out), *NO_MODEL, *extra])


def test_report_into_a_folder_path_is_refused_first(tmp_path, capsys):
    (tmp_path / "r.pdf").mkdir()
    assert report(tmp_path / "r.pdf") == 1
    assert (
        one_line_error(capsys)
        == f"radlens report: {tmp_path / 'r.pdf'}: is a folder; give a file name"
    )


def test_report_below_a_file_is_refused_first(tmp_path, capsys):
    (tmp_path / "blocker").write_text("a file where the folder should be")
    assert report(tmp_path / "blocker" / "r.pdf") == 1
    err = one_line_error(capsys)
    assert str(tmp_path / "blocker" / "r.pdf") in err and "is not a folder" in err


def test_report_into_a_missing_folder_is_refused_first(tmp_path, capsys):
    assert report(tmp_path / "nope" / "r.pdf") == 1
    assert "does not exist" in one_line_error(capsys)
    assert not (tmp_path / "nope").exists()


def test_report_into_an_unwritable_folder_is_refused_first(unwritable_folder, capsys):  # noqa: F811
    assert report(unwritable_folder / "r.pdf") == 1
    err = one_line_error(capsys)
    assert str(unwritable_folder / "r.pdf") in err and "cannot write there" in err


def test_report_dicom_folder_is_checked_first_too(tmp_path, capsys):
    (tmp_path / "dicom").write_text("a file")
    assert report(tmp_path / "r.pdf", "--dicom-out", str(tmp_path / "dicom")) == 1
    assert f"{tmp_path / 'dicom'}: is not a folder" in one_line_error(capsys)
    assert not (tmp_path / "r.pdf").exists()


def test_export_dicom_target_is_checked_first(tmp_path, capsys):
    (tmp_path / "out").write_text("a file")
    args = ["export-dicom", str(sample_study_dir()), "--out", str(tmp_path / "out"), *NO_MODEL]
    assert main(args) == 1
    assert one_line_error(capsys) == f"radlens export-dicom: {tmp_path / 'out'}: is not a folder"


def _need_default_model() -> None:
    from inference.errors import ModelError
    from inference.registry import find_model

    try:
        find_model(None)
    except ModelError as exc:
        pytest.skip(f"no default model shipped: {exc}")


def _report_with_file_size_limit(limit: int, *args: str) -> subprocess.CompletedProcess:
    """`radlens report` in a subprocess that cannot write a file past `limit` bytes (EFBIG)."""

    def limit_file_size():
        import resource

        signal.signal(signal.SIGXFSZ, signal.SIG_IGN)  # EFBIG instead of a signal
        resource.setrlimit(resource.RLIMIT_FSIZE, (limit, limit))

    return subprocess.run(
        [sys.executable, "-m", "viewer.cli", "report", str(sample_study_dir()), *args],
        cwd=REPO_ROOT,
        env={**os.environ, "PYTHONPATH": str(REPO_ROOT), "PYTHONDONTWRITEBYTECODE": "1"},
        preexec_fn=limit_file_size,
        capture_output=True,
        text=True,
        timeout=600,
    )


def test_a_write_failing_midway_names_the_target_and_leaves_nothing(tmp_path):
    """The disk fills while the PDF is written (a file-size limit makes the write fail)."""
    _need_default_model()
    out = tmp_path / "r.pdf"
    run = _report_with_file_size_limit(64 * 1024, "--out", str(out))
    assert run.returncode == 1, run.stdout + run.stderr
    assert (
        run.stderr.strip()
        == f"radlens report: {out}: PDF not written (File too large); nothing of this export is kept"
    )
    assert os.listdir(tmp_path) == []


def test_a_later_part_failing_leaves_nothing_of_the_export(tmp_path):
    """PDF + DICOM are one export: the PDF (about 2.4 MB) fits under a 4 MiB file-size limit,
    the Secondary Capture (about 5.8 MB) does not. Before, the PDF stayed behind an error that
    said the report was not written; now nothing of the export is left."""
    _need_default_model()
    out, dicom = tmp_path / "r.pdf", tmp_path / "dicom"
    run = _report_with_file_size_limit(4 * 1024**2, "--out", str(out), "--dicom-out", str(dicom))
    assert run.returncode == 1, run.stdout + run.stderr
    message = run.stderr.strip()
    assert message.startswith(f"radlens report: {dicom}{os.sep}SC_"), message
    assert message.endswith(": SC not written (File too large); nothing of this export is kept")
    assert os.listdir(tmp_path) == ["dicom"] and os.listdir(dicom) == []
