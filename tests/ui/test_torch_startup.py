"""The torch import (which holds the GIL for half a second or more) happens on the UI thread
before the window shows, never on the inference worker while the UI runs: `radlens --demo`."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from viewer.paths import sample_study_dir

pytestmark = pytest.mark.gui
REPO_ROOT = Path(__file__).resolve().parents[2]

# Runs the app as `radlens --demo --screenshot` does and records, per imported module of torch
# and of the engine, whether it was imported on the main thread and before the window showed.
SCRIPT = """
import json, sys, threading
records, state = [], {"shown": False}
def hook(event, args):
    if event == "import" and args[0].split(".")[0] in ("torch", "inference"):
        records.append([args[0], threading.current_thread() is threading.main_thread(),
                        state["shown"]])
sys.addaudithook(hook)
from PySide6.QtWidgets import QWidget
show = QWidget.show
def recording_show(self):
    state["shown"] = state["shown"] or self.isWindow()
    return show(self)
QWidget.show = recording_show
from viewer.ui.app import run_app
status = run_app(["--demo", "--screenshot", sys.argv[1]])
print(json.dumps({"status": status, "imports": records}))
"""


def test_the_demo_imports_torch_on_the_ui_thread_before_the_window_shows(tmp_path):
    if not any(sample_study_dir().rglob("*.dcm")):
        pytest.skip("sample study not built")
    env = dict(os.environ, QT_QPA_PLATFORM="offscreen", RADLENS_DATA_DIR=str(tmp_path / "data"))
    result = subprocess.run(
        [sys.executable, "-c", SCRIPT, str(tmp_path / "demo.png")],
        cwd=REPO_ROOT,
        env={**env, "PYTHONPATH": str(REPO_ROOT)},
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    report = json.loads(result.stdout.strip().splitlines()[-1])
    assert report["status"] == 0
    imports = {name: (main, shown) for name, main, shown in reversed(report["imports"])}
    assert imports["torch"] == (True, False)  # first import: UI thread, window not shown yet
    assert imports["inference.engine"] == (True, False)
    late = sorted(name for name, (main, _) in imports.items() if not main)
    assert late == [], f"imported on the worker thread: {late}"
