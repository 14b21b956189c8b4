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


def test_a_write_failing_midway_names_the_target_and_leaves_nothing(tmp_path):
    """The disk fills while the PDF is written (a file-size limit makes the write fail)."""
    from inference.errors import ModelError
    from inference.registry import find_model

    try:
        find_model(None)
    except ModelError as exc:
        pytest.skip(f"no default model shipped: {exc}")
    out = tmp_path / "r.pdf"

    def limit_file_size():
        import resource

        signal.signal(signal.SIGXFSZ, signal.SIG_IGN)  # EFBIG instead of a signal
        resource.setrlimit(resource.RLIMIT_FSIZE, (64 * 1024, 64 * 1024))

    run = subprocess.run(
        [sys.executable, "-m", "viewer.cli", "report", str(sample_study_dir()), "--out", str(out)],
        cwd=REPO_ROOT,
        env={**os.environ, "PYTHONPATH": str(REPO_ROOT), "PYTHONDONTWRITEBYTECODE": "1"},
        preexec_fn=limit_file_size,
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert run.returncode == 1, run.stdout + run.stderr
    assert run.stderr.strip() == f"radlens report: {out}: File too large"
    assert os.listdir(tmp_path) == []
