"""Patient data left on disk (issue 10.6): what a killed RadLens leaves, the next one removes.

Real `radlens` processes are killed with SIGKILL (no atexit, no finally) while they hold
extracted archives or an export's temporary file; the next start, or the next export into that
folder, removes the leftovers, and never the files of a RadLens still running.
"""

from __future__ import annotations

import io
import os
import signal
import subprocess
import sys
import time
import zipfile
from pathlib import Path

import pydicom
import pytest

from viewer.cli import main
from viewer.core.scratch import clean_stale_scratch, scratch_root

pytestmark = pytest.mark.skipif(os.name == "nt", reason="SIGKILL and flock semantics are POSIX")

REPO_ROOT = Path(__file__).resolve().parents[2]
CT_SLICE = Path(pydicom.data.get_testdata_file("CT_small.dcm"))
WAIT_S = 120


def radlens(*args: str, **kwargs) -> subprocess.Popen:
    """`radlens ARGS` as a user starts it, with this checkout's code and this test's folders."""
    env = {**os.environ, "PYTHONPATH": str(REPO_ROOT)}
    return subprocess.Popen(
        [sys.executable, "-m", "viewer.cli", *args], cwd=REPO_ROOT, env=env, **kwargs
    )


def python(code: str, *args: str) -> subprocess.Popen:
    env = {**os.environ, "PYTHONPATH": str(REPO_ROOT)}
    return subprocess.Popen(
        [sys.executable, "-c", code, *args],
        cwd=REPO_ROOT,
        env=env,
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )


def wait_for(find, process: subprocess.Popen):
    """Poll until `find()` returns something, failing if the process ends first."""
    deadline = time.monotonic() + WAIT_S
    while time.monotonic() < deadline:
        found = find()
        if found:
            return found
        if process.poll() is not None:
            pytest.fail(f"the process ended (status {process.returncode}) before the point to kill")
        time.sleep(0.002)
    pytest.fail("timed out waiting for the process")


def kill(process: subprocess.Popen) -> None:
    os.kill(process.pid, signal.SIGKILL)
    process.wait(timeout=WAIT_S)


def study_zip(path: Path, copies: int = 300) -> Path:
    data = CT_SLICE.read_bytes()
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_STORED) as archive:
        for n in range(copies):
            archive.writestr(f"study/IM{n:04d}", data)
    path.write_bytes(buffer.getvalue())
    return path


def extracted_files() -> list[Path]:
    return [p for p in scratch_root().rglob("*") if p.is_file() and p.suffix != ".lock"]


def test_archive_extracted_by_a_killed_radlens_is_removed_at_the_next_start(tmp_path):
    archive = study_zip(tmp_path / "study.zip")
    process = radlens("info", str(archive), stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    wait_for(extracted_files, process)
    kill(process)
    assert extracted_files(), "precondition: SIGKILL left the extracted images behind"

    again = radlens("info", str(tmp_path / "nothing-here"), stderr=subprocess.DEVNULL)
    assert again.wait(timeout=WAIT_S) == 1
    assert not extracted_files() and not list(scratch_root().iterdir())


def test_a_running_radlens_keeps_its_extracted_archives(tmp_path):
    holder = python(
        "import sys\n"
        "from viewer.core.scratch import new_scratch_dir\n"
        "folder = new_scratch_dir('zip')\n"
        "(folder / 'IM0001').write_bytes(b'extracted image')\n"
        "print(folder, flush=True)\n"
        "sys.stdin.read()\n"
    )
    folder = Path(holder.stdout.readline().strip())
    try:
        assert clean_stale_scratch() == []
        main(["info", str(tmp_path / "nothing-here")])
        assert (folder / "IM0001").read_bytes() == b"extracted image"
    finally:
        holder.stdin.close()
        holder.wait(timeout=WAIT_S)
    assert not folder.exists()  # and a normal exit removes them itself


WRITER = (
    "import os, sys, time\n"
    "os.fsync = lambda fd: time.sleep(600)  # stop inside the write, after the data\n"
    "from viewer.core.atomic import atomic_write_bytes\n"
    "atomic_write_bytes(sys.argv[1], b'%PDF-1.4 report of DOE^JANE ' * 1000)\n"
)


def temp_files(folder: Path) -> list[Path]:
    return sorted(folder.glob(".radlens-*.tmp"))


def test_temp_file_of_a_killed_export_is_removed_by_the_next_export_there(tmp_path):
    out = tmp_path / "exports"
    out.mkdir()
    killed = python(WRITER, str(out / "report.pdf"))
    (stale,) = wait_for(lambda: temp_files(out), killed)
    kill(killed)
    old_style = out / ".radlens-k2j4x8.tmp"  # left by an earlier RadLens, which held no lock
    old_style.write_bytes(b"%PDF-1.4 another report")
    running = python(WRITER, str(out / "other.pdf"))
    try:
        live = wait_for(
            lambda: [p for p in temp_files(out) if p not in (stale, old_style)], running
        )
        assert main(["render", str(CT_SLICE), "--out", str(out / "slice.png")]) == 0
        assert temp_files(out) == live  # the running export's file is left alone
    finally:
        kill(running)
    assert (out / "slice.png").stat().st_size > 0
    assert not (out / "report.pdf").exists()
