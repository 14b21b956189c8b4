"""UI responsiveness while a 300-slice CT loads in the viewer window.

Builds a 300-slice series from the real CT phantom (../shared/data/dicom/ct-phantom-54sl, new
UIDs and positions) in a temporary folder, opens it in the window `radlens` builds (every add-on
installed; offscreen) and runs a 5 ms QTimer on the UI thread. Prints the time to the first
image, the total load time, the longest gap between timer ticks during the load and in the
0.3 s after it (where a garbage collection used to stall the UI), and the ratio of each gap to
a peer measured in the same run: the longest gap while a plain Python thread keeps the
interpreter busy (`tests.ui.long_series.GilBusyPeer`). The first run of a process includes the
first imports, as a user's first load does.

    QT_QPA_PLATFORM=offscreen python benchmarks/bench_ui_load.py [--slices 300] [--runs 3]
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO_ROOT))
os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")


def _measure(app, series_dir: Path) -> dict[str, float]:
    from PySide6.QtCore import QEventLoop

    from tests.ui.long_series import GilBusyPeer, UiGapProbe
    from viewer.ui.app import build_window
    from viewer.ui.report_dialog import warm_up_report_code
    from viewer.ui.settings import Settings

    warm_up_report_code()  # once per process; see tests/ui/conftest.py
    window = build_window(Settings(auto_run_ai=False))
    window.show()
    app.processEvents()
    peer = UiGapProbe()
    with GilBusyPeer():
        peer.start()
        _run_event_loop(1000)
        peer_gap = peer.stop()
    probe, loop, marks = UiGapProbe(), QEventLoop(), {}
    window.seriesShown.connect(lambda _s: marks.setdefault("first", time.perf_counter()))
    window.loader.finished.connect(loop.quit)
    window.loader.failed.connect(lambda *_: loop.quit())
    start = time.perf_counter()
    probe.start()
    window.open_paths([str(series_dir)])
    loop.exec()
    end = time.perf_counter()
    gap = probe.stop()
    after = UiGapProbe()
    after.start()
    _run_event_loop(300)
    after_gap = after.stop()
    frames = len(window.current_series())
    window.close()
    window.deleteLater()
    app.processEvents()
    return {
        "frames": frames,
        "first_image_s": marks.get("first", end) - start,
        "total_s": end - start,
        "max_gap_ms": gap,
        "after_gap_ms": after_gap,
        "peer_gap_ms": peer_gap,
    }


def _run_event_loop(ms: int) -> None:
    from PySide6.QtCore import QEventLoop, QTimer

    loop = QEventLoop()
    QTimer.singleShot(ms, loop.quit)
    loop.exec()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--slices", type=int, default=300)
    parser.add_argument("--runs", type=int, default=3)
    args = parser.parse_args()
    import pyqtgraph as pg
    from PySide6.QtWidgets import QApplication

    from tests.ui.long_series import build_long_ct_series

    source = Path(os.environ.get("RADLENS_SHARED_DATA", REPO_ROOT.parent / "shared" / "data"))
    source = source / "dicom" / "ct-phantom-54sl"
    app = QApplication.instance() or QApplication([])
    pg.setConfigOptions(imageAxisOrder="row-major")
    with tempfile.TemporaryDirectory(prefix="radlens-bench-") as tmp:
        os.environ["RADLENS_DATA_DIR"] = str(Path(tmp) / "data")
        series_dir = build_long_ct_series(source, Path(tmp) / "ct", args.slices)
        results = [_measure(app, series_dir) for _ in range(args.runs)]
    for i, r in enumerate(results, start=1):
        print(
            f"run {i}: {r['frames']} frames, first image {r['first_image_s'] * 1000:.0f} ms, "
            f"all decoded {r['total_s']:.2f} s, max UI gap {r['max_gap_ms']:.1f} ms "
            f"({r['max_gap_ms'] / r['peer_gap_ms']:.1f}x peer), after the load "
            f"{r['after_gap_ms']:.1f} ms ({r['after_gap_ms'] / r['peer_gap_ms']:.1f}x peer), "
            f"peer {r['peer_gap_ms']:.1f} ms"
        )
    print(
        f"median: first image {statistics.median(r['first_image_s'] for r in results) * 1000:.0f} ms, "
        f"total {statistics.median(r['total_s'] for r in results):.2f} s, "
        f"max UI gap (worst run) {max(r['max_gap_ms'] for r in results):.1f} ms"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
