"""`radlens` as a user starts it: a real subprocess, offscreen, ending with exit status 0."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
from PySide6.QtGui import QImage

from viewer.paths import sample_study_dir

pytestmark = pytest.mark.gui

REPO_ROOT = Path(__file__).resolve().parents[2]


def _run(args, tmp_path, timeout=240):
    env = dict(os.environ, QT_QPA_PLATFORM="offscreen", RADLENS_DATA_DIR=str(tmp_path / "data"))
    return subprocess.run(
        [sys.executable, "-m", "viewer.cli", *args],
        cwd=REPO_ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=timeout,
    )


def test_demo_screenshot_exits_zero_with_a_picture(tmp_path):
    if not any(sample_study_dir().rglob("*.dcm")):
        pytest.skip("sample study not built")
    out = tmp_path / "demo.png"
    result = _run(["--demo", "--screenshot", str(out)], tmp_path)
    assert result.returncode == 0, result.stderr[-3000:]
    image = QImage(str(out))
    assert not image.isNull() and image.width() >= 800
    assert "bool_dealloc" not in result.stderr


def test_opening_a_folder_from_the_command_line(tmp_path, ct_phantom_dir):
    out = tmp_path / "ct.png"
    result = _run([str(ct_phantom_dir), "--screenshot", str(out)], tmp_path)
    assert result.returncode == 0, result.stderr[-3000:]
    assert not QImage(str(out)).isNull()
    assert "QThread: Destroyed" not in result.stderr
