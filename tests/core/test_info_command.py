"""`radlens info`: tree and JSON output, skipped files with reasons, exit codes, no tracebacks."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys

from viewer.cli import main


def run_cli(*args) -> subprocess.CompletedProcess:
    command = [sys.executable, "-m", "viewer.cli", "info", *map(str, args)]
    return subprocess.run(command, capture_output=True, text=True, timeout=120)


def test_info_json_lists_series_and_skipped(tmp_path, ct_phantom_dir, capsys):
    for name in ("I10", "I20", "I30"):
        shutil.copy(ct_phantom_dir / name, tmp_path / name)
    (tmp_path / "readme.txt").write_text("hello")
    (tmp_path / "notes").write_text("hello")
    assert main(["info", str(tmp_path), "--json"]) == 0
    report = json.loads(capsys.readouterr().out)
    (series,) = report["patients"][0]["studies"][0]["series"]
    assert series["modality"] == "CT" and series["frames"] == 3
    assert (series["rows"], series["columns"]) == (512, 512)
    assert series["transfer_syntax"] == "1.2.840.10008.1.2.1"
    assert report["skipped"] == [
        {
            "path": str(tmp_path / "notes"),
            "reason": "not a DICOM file (no 'DICM' marker after the preamble)",
        }
    ]
    assert report["ignored"] == [str(tmp_path / "readme.txt")]


def test_info_tree_shows_warnings_and_reasons(tmp_path, ct_phantom_dir):
    for name in ("I10", "I20", "I50"):  # I30, I40 missing: a gap
        shutil.copy(ct_phantom_dir / name, tmp_path / name)
    (tmp_path / "empty.dcm").write_bytes(b"")
    (tmp_path / "README.md").write_text("# notes\n")
    done = run_cli(tmp_path)
    assert done.returncode == 0, done.stderr
    assert "CT STEREOTAXIS" in done.stdout and "3 frame(s)" in done.stdout
    assert "gap" in done.stdout
    assert f"skipped {tmp_path / 'empty.dcm'}: empty file (0 bytes)" in done.stdout
    assert "1 file(s) skipped; 1 document/picture file(s) ignored (not DICOM)" in done.stdout
    assert "README.md" not in done.stdout


def test_info_anonymous_hides_patient(ct_phantom_dir, capsys):
    assert main(["info", str(ct_phantom_dir / "I10"), "--json", "--anonymous"]) == 0
    patient = json.loads(capsys.readouterr().out)["patients"][0]
    assert patient["name"] == "Patient 1" and patient["patient_id"] == ""


def test_info_nothing_opened_is_non_zero_without_traceback(tmp_path):
    (tmp_path / "a.dcm").write_bytes(b"\x00" * 128 + b"DICM" + b"\xff" * 300)
    (tmp_path / "b.dcm").write_bytes(b"MZ" + b"\x00" * 200)
    done = run_cli(tmp_path, tmp_path / "missing")
    assert done.returncode == 1
    assert "Traceback" not in done.stdout + done.stderr
    assert "0 series; 3 file(s) skipped" in done.stdout
    assert "no such file or folder" in done.stdout
