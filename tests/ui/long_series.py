"""A long CT series for load tests and the UI-load benchmark, and a UI-thread stall probe.

`build_long_ct_series` copies the real 54-slice CT phantom round-robin into `count` files with
new UIDs, instance numbers and positions stepped along the slice normal, so the index sees one
clean series of `count` slices. `UiGapProbe` is a QTimer firing every few ms on the UI thread;
the largest interval between two ticks is the longest the event loop was blocked. Tests compare
that gap with `peer_gap_ms`, the gap while a plain Python thread keeps the interpreter busy, never
with a fixed number of milliseconds (figures are in benchmarks/bench_ui_load.py).
"""

from __future__ import annotations

import threading
import time
from pathlib import Path

import numpy as np
import pydicom
from pydicom.uid import generate_uid
from PySide6.QtCore import QObject, QTimer

PROBE_INTERVAL_MS = 5


def build_long_ct_series(source_dir: Path, target_dir: Path, count: int = 300) -> Path:
    sources = sorted(p for p in Path(source_dir).iterdir() if p.is_file())
    first = pydicom.dcmread(sources[0])
    orientation = np.array(first.ImageOrientationPatient, dtype=float)
    normal = np.cross(orientation[:3], orientation[3:])
    origin = np.array(first.ImagePositionPatient, dtype=float)
    series_uid, study_uid, frame_uid = generate_uid(), generate_uid(), generate_uid()
    target_dir.mkdir(parents=True, exist_ok=True)
    for i in range(count):
        ds = pydicom.dcmread(sources[i % len(sources)])
        ds.SOPInstanceUID = ds.file_meta.MediaStorageSOPInstanceUID = generate_uid()
        ds.SeriesInstanceUID, ds.StudyInstanceUID = series_uid, study_uid
        ds.FrameOfReferenceUID = frame_uid
        ds.InstanceNumber = i + 1
        ds.ImagePositionPatient = [round(float(v), 4) for v in origin + i * 1.0 * normal]
        ds.SliceLocation = float(i)
        ds.save_as(target_dir / f"slice{i:04d}.dcm")
    return target_dir


class UiGapProbe(QObject):
    """Records the longest gap between ticks of a fast UI-thread timer."""

    def __init__(self, interval_ms: int = PROBE_INTERVAL_MS) -> None:
        super().__init__()
        self.max_gap_ms = 0.0
        self.gaps_ms: list[float] = []  # every interval between two ticks
        self.ticks = 0
        self._last = 0.0
        self._timer = QTimer(self)
        self._timer.setInterval(interval_ms)
        self._timer.timeout.connect(self._tick)

    def start(self) -> None:
        self._last = time.perf_counter()
        self._timer.start()

    def stop(self) -> float:
        self._timer.stop()
        self._tick()
        return self.max_gap_ms

    def _tick(self) -> None:
        now = time.perf_counter()
        self.gaps_ms.append((now - self._last) * 1000.0)
        self.max_gap_ms = max(self.max_gap_ms, self.gaps_ms[-1])
        self._last = now
        self.ticks += 1


class GilBusyPeer:
    """A background thread doing pure-Python work in ~1 ms slices with `time.sleep(0)` between
    them, as the loader does per file: the peer a load's UI gap is compared with, measured in
    the same test on the same (possibly busy) machine."""

    def __init__(self) -> None:
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="gil-busy-peer", daemon=True)

    def __enter__(self) -> GilBusyPeer:
        self._thread.start()
        return self

    def __exit__(self, *_exc) -> None:
        self._stop.set()
        self._thread.join()

    def _run(self) -> None:
        while not self._stop.is_set():
            deadline = time.perf_counter() + 0.001
            while time.perf_counter() < deadline:
                sum(range(200))
            time.sleep(0)


def peer_gap_ms(qtbot, duration_ms: int) -> float:
    """The UI thread's longest gap while `GilBusyPeer` runs for `duration_ms`."""
    probe = UiGapProbe()
    with GilBusyPeer():
        probe.start()
        qtbot.wait(duration_ms)
        return probe.stop()
