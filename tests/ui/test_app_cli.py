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
    script = Path(sys.executable).parent / "radlens"  # the installed entry point, as users run it
    command = [str(script)] if script.exists() else [sys.executable, "-m", "viewer.cli"]
    return subprocess.run(
        [*command, *args],
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
    assert "before the work finished" not in result.stderr  # waited for loading and analysis


def test_opening_a_folder_from_the_command_line(tmp_path, ct_phantom_dir):
    out = tmp_path / "ct.png"
    result = _run([str(ct_phantom_dir), "--screenshot", str(out)], tmp_path)
    assert result.returncode == 0, result.stderr[-3000:]
    assert not QImage(str(out)).isNull()
    assert "QThread: Destroyed" not in result.stderr


def _run_python(code: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-c", code], cwd=REPO_ROOT, capture_output=True, text=True, timeout=120
    )


def test_long_sessions_survive_the_pyside_emit_refcount_bug(tmp_path):
    """PySide6 6.12.0 drops a reference to True per Python-side emit; a session emitting more
    signals than True has references would abort with bool_dealloc (exit 134)."""
    code = (
        "from PySide6.QtCore import QObject, Signal\n"
        "from viewer.ui.app import protect_singletons\n"
        "protect_singletons()\n"
        "class Ticker(QObject):\n"
        "    tick = Signal()\n"
        "ticker = Ticker()\n"
        "for _ in range(200_000):\n"
        "    ticker.tick.emit()\n"
    )
    result = _run_python(code)
    assert result.returncode == 0, result.stderr[-2000:]


# What PySide6 6.12.0 does on every void Qt call: give back a reference to None it never took.
DROP_NONE = (
    "import ctypes, sys\n"
    "ctypes.pythonapi.Py_DecRef.argtypes = [ctypes.py_object]\n"
    "ctypes.pythonapi.Py_DecRef.restype = None\n"
    "def void_call():\n"
    "    ctypes.pythonapi.Py_DecRef(None)\n"
    "calls = 2 * sys.getrefcount(None)\n"  # counted before any guard
)
SESSION_OF_VOID_CALLS = "for _ in range(calls):\n    void_call()\n"


@pytest.mark.skipif(sys.version_info >= (3, 12), reason="None is immortal on CPython 3.12+")
@pytest.mark.parametrize("guarded", [True, False])
def test_a_measured_none_leak_is_guarded(guarded):
    """The guard measures the leak and then survives twice as many dropped references as None
    had; the unguarded control shows the same session really aborts (none_dealloc)."""
    guard = (
        "from viewer.ui.app import drops_references, guard_singletons\n"
        "assert guard_singletons((None,), lambda: drops_references(None, void_call))\n"
    )
    result = _run_python(DROP_NONE + (guard if guarded else "") + SESSION_OF_VOID_CALLS)
    if guarded:
        assert result.returncode == 0, result.stderr[-2000:]
    else:
        assert "none_dealloc" in result.stderr


def test_the_pinned_pyside_needs_no_guard():
    """PySide6 6.11 (pinned in pyproject) drops no references: the probes say so."""
    code = (
        "from viewer.ui import app\n"
        "assert not app._emit_drops_true_references()\n"
        "assert not app._void_calls_drop_none_references()\n"
        "assert not app.protect_singletons()\n"
    )
    result = _run_python(code)
    assert result.returncode == 0, result.stderr[-2000:]
