"""Peak memory of the viewer window with a 300-slice CT, against the same app with one slice.

Builds a 300-slice 512×512 CT from the real phantom (as bench_load.py does) and a one-slice
study, then, for each, starts the window `radlens` builds (`viewer.ui.app.build_window`, every
add-on installed, offscreen) in a fresh child process, opens the study, waits for the load to
finish and a few paints, and reports that process's peak RSS. Prints both, the difference, and
the ratio (app300 - app1) / int16 voxel bytes of the 300 slices (issue 13's goal: <= 1.3).

    python benchmarks/bench_app_memory.py [--slices 300] [--repeat 2] [--syntax raw|j2k]
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
MIB = 1024 * 1024


def rss_mib() -> tuple[float, float]:
    """(peak, current) resident set size of this process."""
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    with open("/proc/self/statm") as fp:
        current = int(fp.read().split()[1]) * os.sysconf("SC_PAGE_SIZE") / MIB
    return peak, current


def child(folder: str) -> dict:
    """Runs in the child: the real window opens `folder` and settles."""
    os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
    import pyqtgraph as pg
    from PySide6.QtCore import QEventLoop
    from PySide6.QtWidgets import QApplication

    from viewer.ui.app import build_window
    from viewer.ui.settings import Settings

    app = QApplication.instance() or QApplication([])
    pg.setConfigOptions(imageAxisOrder="row-major")
    window = build_window(Settings(auto_run_ai=False))
    window.resize(1280, 900)
    window.show()
    app.processEvents()
    settle(window)  # the add-ons' background start (the AI model preload) is over
    before = rss_mib()
    loop = QEventLoop()
    window.loader.finished.connect(loop.quit)
    window.loader.failed.connect(lambda *_: loop.quit())
    window.open_paths([folder])
    loop.exec()
    settle(window)  # paints, thumbnails, corner text
    series = window.current_series()
    peak, current = rss_mib()
    return {
        "frames": len(series),
        "volume_bytes": 0 if series.volume is None else series.volume.nbytes,
        "dtype": "" if series.volume is None else str(series.volume.dtype),
        "peak_mib": peak,
        "current_mib": current,
        "window_mib": before[1],
    }


def settle(window, quiet_ms: int = 500) -> None:
    """Run the event loop until the window and its add-ons have been idle for `quiet_ms`."""
    from PySide6.QtCore import QEventLoop, QTimer

    quiet = 0
    while quiet < quiet_ms:
        loop = QEventLoop()
        QTimer.singleShot(50, loop.quit)
        loop.exec()
        quiet = quiet + 50 if window.is_idle() and not window.addons.busy() else 0


def run_child(folder: Path) -> dict:
    env = dict(os.environ, PYTHONPATH=str(REPO), QT_QPA_PLATFORM="offscreen")
    command = [sys.executable, __file__, "--child", str(folder)]
    done = subprocess.run(command, capture_output=True, text=True, check=True, env=env)
    return json.loads(done.stdout.strip().splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--slices", type=int, default=300)
    parser.add_argument("--repeat", type=int, default=2)
    parser.add_argument("--syntax", choices=("raw", "j2k"), default="raw")
    parser.add_argument("--child")
    args = parser.parse_args()
    if args.child:
        print(json.dumps(child(args.child)))
        return
    from pydicom.uid import JPEG2000Lossless

    from benchmarks.bench_load import CT_DIR, build_ct_stack

    syntax = JPEG2000Lossless if args.syntax == "j2k" else None
    print(f"load average {os.getloadavg()[0]:.2f}")
    with tempfile.TemporaryDirectory(prefix="radlens-memory-") as tmp:
        one = Path(tmp) / "one"
        build_ct_stack(CT_DIR, one, 1, syntax)
        many = Path(tmp) / "many"
        build_ct_stack(CT_DIR, many, args.slices, syntax)
        rounds = [(run_child(one), run_child(many)) for _ in range(args.repeat)]
    for n, (small, big) in enumerate(rounds, start=1):
        for name, r in (("1-slice", small), (f"{args.slices}-slice", big)):
            print(
                f"round {n} {name:9s} app: peak RSS {r['peak_mib']:6.0f} MiB, now "
                f"{r['current_mib']:6.0f} MiB (window before the load {r['window_mib']:.0f} MiB; "
                f"volume {r['volume_bytes'] / MIB:.0f} MiB {r['dtype']})"
            )
    voxel_mib = args.slices * 512 * 512 * 2 / MIB
    extra = statistics.median(big["peak_mib"] - small["peak_mib"] for small, big in rounds)
    print(
        f"{args.slices}-slice app - 1-slice app (peak, median of rounds): {extra:.0f} MiB = "
        f"{extra / voxel_mib:.2f} x int16 voxel bytes ({voxel_mib:.0f} MiB; goal <= 1.3); "
        f"load average {os.getloadavg()[0]:.2f}"
    )


if __name__ == "__main__":
    main()
