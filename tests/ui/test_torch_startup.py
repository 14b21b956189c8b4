"""The window shows before torch is imported: torch (which holds the GIL for a few hundred ms
while it initialises, and takes seconds on a busy machine) is imported only on the inference
runner's thread, by the model preload after a load or by the first analysis; the report code's
warm-up (highdicom's 22 MB table parse) waits for the report dialog. Each check runs in a fresh
interpreter, so no other test's imports count."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.fresh_python import run_fresh
from viewer.paths import sample_study_dir

pytestmark = pytest.mark.gui

# Records, for every import of torch and of the engine, whether it ran on the main thread and
# whether a top-level window had been shown by then.
RECORDER = """
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
"""

# The window as `radlens` builds it (automatic analysis on, the default), shown, its event loop
# run until idle: no torch, no report warm-up. Then the preload is asked for.
BUILD_THEN_PRELOAD = (
    RECORDER
    + """
import time
from PySide6.QtWidgets import QApplication
from highdicom import _standard_utils as tables
from viewer.ui.app import build_window, protect_singletons
from viewer.ui.settings import Settings
protect_singletons()
app = QApplication([])
window = build_window(Settings(auto_run_ai=True))
window.show()
for _ in range(50):
    app.processEvents()
shown = {"torch": "torch" in sys.modules, "engine": "inference.engine" in sys.modules,
         "tables": tables.get_module_attribute_map.cache_info().currsize}
window.ai.controller.runner.preload()
deadline = time.monotonic() + 240
while "torch" not in sys.modules and time.monotonic() < deadline:
    app.processEvents()
    time.sleep(0.01)
window.close()
print(json.dumps({"shown": shown, "imports": records}))
"""
)

# `radlens --demo --screenshot`: opens the sample study, analyses it, saves the picture, exits.
DEMO = (
    RECORDER
    + """
from viewer.ui.app import run_app
status = run_app(["--demo", "--screenshot", sys.argv[1]])
print(json.dumps({"status": status, "imports": records}))
"""
)


def run_script(script: str, tmp_path: Path, *args: str) -> dict:
    env = {"QT_QPA_PLATFORM": "offscreen", "RADLENS_DATA_DIR": str(tmp_path / "data")}
    return run_fresh(script, *args, env=env)


def first_imports(records: list) -> dict[str, tuple[bool, bool]]:
    """module → (on the main thread, after the window showed), for its first import."""
    return {name: (main, shown) for name, main, shown in reversed(records)}


def imported_on_the_ui_thread(imports: dict[str, tuple[bool, bool]]) -> list[str]:
    heavy = ("torch", "inference.engine", "inference.loading", "inference.networks")
    return sorted(n for n, (main, _) in imports.items() if main and n.startswith(heavy))


def test_the_shown_window_has_not_imported_torch_until_the_preload(tmp_path):
    report = run_script(BUILD_THEN_PRELOAD, tmp_path)
    assert report["shown"] == {"torch": False, "engine": False, "tables": 0}
    imports = first_imports(report["imports"])
    assert imports["torch"] == (False, True)  # the runner's thread, after the window showed
    assert imported_on_the_ui_thread(imports) == []


def test_the_demo_imports_torch_on_the_runner_after_the_window_shows(tmp_path):
    if not any(sample_study_dir().rglob("*.dcm")):
        pytest.skip("sample study not built")
    report = run_script(DEMO, tmp_path, str(tmp_path / "demo.png"))
    assert report["status"] == 0
    imports = first_imports(report["imports"])
    assert imports["torch"] == (False, True)
    assert imports["inference.engine"] == (False, True)
    assert imported_on_the_ui_thread(imports) == []


def test_the_engine_import_leaves_collection_on_and_torch_out_of_later_full_collections(tmp_path):
    script = (
        "import gc, json, sys\n"
        "from viewer.ui.inference_worker import import_engine\n"
        "import_engine()\n"
        "print(json.dumps({'torch': 'torch' in sys.modules, 'enabled': gc.isenabled(),"
        " 'frozen': gc.get_freeze_count() > 100_000}))\n"
    )
    assert run_script(script, tmp_path) == {"torch": True, "enabled": True, "frozen": True}
