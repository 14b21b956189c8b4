"""UI responsiveness while a 300-slice CT loads in the viewer window (uncompressed and JPEG 2000).

Builds a 300-slice series from the real CT phantom (../shared/data/dicom/ct-phantom-54sl, new
UIDs and positions) in a temporary folder, and a JPEG 2000 lossless copy of it; opens each in
the window `radlens` builds (every add-on installed; offscreen) and runs a 5 ms QTimer on the UI
thread. Prints, per run, the time to the first image, the total load time, the longest and the
median interval between timer ticks during the load, and beside them two peers measured in the
same run: the idle window (the same timer, nothing loading) and the window while a plain Python
thread keeps the interpreter busy (`tests.ui.long_series.GilBusyPeer`), plus the load average.
The first run of a process includes the first imports and the start of the decoder processes,
as a user's first load does. `--busy` runs a plain busy-loop process beside it all (one core
taken), stopped at the end.

    QT_QPA_PLATFORM=offscreen python benchmarks/bench_ui_load.py [--slices 300] [--runs 3]
        [--syntax raw|j2k|both] [--busy]
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO_ROOT))
os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")


def _gaps(probe) -> tuple[float, float]:
    return probe.max_gap_ms, statistics.median(probe.gaps_ms) if probe.gaps_ms else 0.0


def _peers(app) -> dict[str, tuple[float, float]]:
    from tests.ui.long_series import GilBusyPeer, UiGapProbe

    idle = UiGapProbe()
    idle.start()
    _run_event_loop(1000)
    idle.stop()
    busy = UiGapProbe()
    with GilBusyPeer():
        busy.start()
        _run_event_loop(1000)
        busy.stop()
    return {"idle": _gaps(idle), "gil": _gaps(busy)}


def _measure(app, series_dir: Path) -> dict:
    from PySide6.QtCore import QEventLoop

    from tests.ui.long_series import UiGapProbe
    from viewer.ui.app import build_window
    from viewer.ui.report_dialog import warm_up_report_code
    from viewer.ui.settings import Settings

    warm_up_report_code()  # once per process; see tests/ui/conftest.py
    window = build_window(Settings(auto_run_ai=False))
    window.show()
    app.processEvents()
    peers = _peers(app)
    probe, loop, marks = UiGapProbe(), QEventLoop(), {}
    window.seriesShown.connect(lambda _s: marks.setdefault("first", time.perf_counter()))
    window.loader.previewReady.connect(lambda _s: marks.setdefault("first", time.perf_counter()))
    window.loader.finished.connect(loop.quit)
    window.loader.failed.connect(lambda *_: loop.quit())
    start = time.perf_counter()
    probe.start()
    window.open_paths([str(series_dir)])
    loop.exec()
    end = time.perf_counter()
    probe.stop()
    after = UiGapProbe()
    after.start()
    _run_event_loop(300)
    after.stop()
    frames = len(window.current_series())
    window.close()
    window.deleteLater()
    app.processEvents()
    return {
        "frames": frames,
        "first_image_s": marks.get("first", end) - start,
        "total_s": end - start,
        "gap": _gaps(probe),
        "after_gap_ms": after.max_gap_ms,
        "load_average": os.getloadavg()[0],
        **peers,
    }


def _run_event_loop(ms: int) -> None:
    from PySide6.QtCore import QEventLoop, QTimer

    loop = QEventLoop()
    QTimer.singleShot(ms, loop.quit)
    loop.exec()


def _print_runs(name: str, results: list[dict]) -> None:
    for i, r in enumerate(results, start=1):
        (gap, median), (idle, idle_median), (gil, _) = r["gap"], r["idle"], r["gil"]
        print(
            f"{name} run {i}: {r['frames']} frames, first image {r['first_image_s'] * 1000:.0f} ms, "
            f"all decoded {r['total_s']:.2f} s; UI gap max {gap:.1f} ms median {median:.1f} ms; "
            f"idle peer max {idle:.1f} median {idle_median:.1f}; GIL-busy peer max {gil:.1f}; "
            f"after the load {r['after_gap_ms']:.1f}; load average {r['load_average']:.2f}"
        )
    worst = max(r["gap"][0] for r in results)
    print(
        f"{name} summary: first image median "
        f"{statistics.median(r['first_image_s'] for r in results) * 1000:.0f} ms, total median "
        f"{statistics.median(r['total_s'] for r in results):.2f} s, UI gap max (worst run) "
        f"{worst:.1f} ms = {worst / max(r['idle'][0] for r in results):.1f}x the idle peer's max, "
        f"median of medians {statistics.median(r['gap'][1] for r in results):.1f} ms"
    )


def _busy_core() -> subprocess.Popen:
    """A plain busy-loop process: one core taken, as by another program."""
    return subprocess.Popen([sys.executable, "-c", "while True: pass"])


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--slices", type=int, default=300)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--syntax", choices=("raw", "j2k", "both"), default="both")
    parser.add_argument("--busy", action="store_true", help="a busy-loop process beside it")
    args = parser.parse_args()
    import pyqtgraph as pg
    from pydicom.uid import JPEG2000Lossless
    from PySide6.QtWidgets import QApplication

    from benchmarks.bench_load import CT_DIR, build_ct_stack
    from viewer.core.loader import shutdown_workers

    app = QApplication.instance() or QApplication([])
    pg.setConfigOptions(imageAxisOrder="row-major")
    syntaxes = {"raw": None, "j2k": JPEG2000Lossless}
    names = list(syntaxes) if args.syntax == "both" else [args.syntax]
    busy = _busy_core() if args.busy else None
    print(f"cpu_count {os.cpu_count()}, busy-loop process beside: {'yes' if busy else 'no'}")
    try:
        with tempfile.TemporaryDirectory(prefix="radlens-bench-") as tmp:
            os.environ["RADLENS_DATA_DIR"] = str(Path(tmp) / "data")
            for name in names:
                folder = Path(tmp) / name
                build_ct_stack(CT_DIR, folder, args.slices, syntaxes[name])
                _print_runs(name, [_measure(app, folder) for _ in range(args.runs)])
        shutdown_workers()
    finally:
        if busy is not None:
            busy.kill()
            busy.wait()
    return 0


if __name__ == "__main__":
    sys.exit(main())
