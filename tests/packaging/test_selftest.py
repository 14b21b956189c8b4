"""`radlens self-test` from the source checkout (the frozen app runs it in test_frozen_build)."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

from tests.packaging.test_frozen_build import EXPECTED_STEPS, REPO_ROOT


def run_self_test(tmp_path, *extra: str) -> subprocess.CompletedProcess:
    """The command in a fresh interpreter, which must not import Qt along the way."""
    args = ["self-test", "--keep", str(tmp_path / "out"), *extra]
    code = (
        "import sys, viewer.cli\n"
        f"status = viewer.cli.main({args!r})\n"
        "assert not [m for m in ('PySide6', 'pyqtgraph') if m in sys.modules], 'Qt imported'\n"
        "sys.exit(status)\n"
    )
    env = {**os.environ, "RADLENS_DATA_DIR": str(tmp_path / "data")}
    return subprocess.run(
        [sys.executable, "-c", code],
        cwd=REPO_ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
    )


@pytest.mark.slow
def test_self_test_passes_every_step_and_needs_no_qt(tmp_path):
    run = run_self_test(tmp_path)
    lines = run.stdout.splitlines()
    assert run.returncode == 0, run.stdout + run.stderr
    for step in EXPECTED_STEPS:
        assert any(line.startswith(f"PASS {step}") for line in lines), (step, run.stdout)
    assert lines[0].startswith("RadLens ") and "source install" in lines[0]
    assert lines[-1].startswith("self-test: ") and "FAIL" not in run.stdout
    assert (tmp_path / "out" / "self-test-report.pdf").stat().st_size > 10_000
    assert len(list((tmp_path / "out" / "dicom").glob("*.dcm"))) == 2


def test_self_test_fails_with_a_line_not_a_traceback(tmp_path):
    run = run_self_test(tmp_path, "--model", "no-such-model")
    assert run.returncode == 1
    assert any(line.startswith("FAIL model: ") for line in run.stdout.splitlines()), run.stdout
    assert "Traceback" not in run.stdout + run.stderr
