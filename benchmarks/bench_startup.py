"""Start-up: seconds from a fresh interpreter to the main window shown, as `radlens` builds it.

    QT_QPA_PLATFORM=offscreen python benchmarks/bench_startup.py [--rounds 3]

Each round starts two fresh processes, alternating: the window as built today (torch is
imported later, on the inference runner's thread) and the peer that first imports the engine
(and torch) on the UI thread, as `install_ai` did before issue 11. Prints the medians, their
ratio, and whether torch was imported by the time the window showed.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parent.parent

CHILD = """
import json, sys, time
started = time.perf_counter()
from PySide6.QtWidgets import QApplication
from viewer.ui.app import build_window, protect_singletons
from viewer.ui.settings import Settings
protect_singletons()
app = QApplication([])
if sys.argv[1] == "engine-first":
    from viewer.ui.inference_worker import import_engine
    import_engine()
window = build_window(Settings(auto_run_ai=True))
window.show()
app.processEvents()
shown = time.perf_counter() - started
print(json.dumps({"seconds": shown, "torch": "torch" in sys.modules}))
window.close()
"""

WAYS = {"window first (today)": "today", "engine imported first (before issue 11)": "engine-first"}


def start_once(way: str, data_dir: str) -> dict:
    env = dict(
        os.environ,
        QT_QPA_PLATFORM="offscreen",
        RADLENS_DATA_DIR=data_dir,
        PYTHONPATH=str(REPO_ROOT),
    )
    result = subprocess.run(
        [sys.executable, "-c", CHILD, way],
        cwd=REPO_ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    if result.returncode != 0:
        raise SystemExit(result.stderr[-2000:])
    return json.loads(result.stdout.strip().splitlines()[-1])


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    seconds: dict[str, list[float]] = {name: [] for name in WAYS}
    torch_seen: dict[str, bool] = {}
    with tempfile.TemporaryDirectory() as data_dir:
        for _ in range(args.rounds):
            for name, way in WAYS.items():
                run = start_once(way, data_dir)
                seconds[name].append(run["seconds"])
                torch_seen[name] = run["torch"]
    medians = {name: statistics.median(values) for name, values in seconds.items()}
    for name, value in medians.items():
        print(f"{name}: window shown after {value:.2f} s (torch imported: {torch_seen[name]})")
    today, before = medians.values()
    print(f"window first / engine first: {today / before:.2f}x")
    return 0


if __name__ == "__main__":
    sys.exit(main())
