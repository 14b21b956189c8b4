"""Scrolling ahead of a compressed series' background load: the UI thread never decodes.

The series is the real CT phantom stored as JPEG 2000 (lossless). While the loader is still
decoding it, End / PageUp / PageDown move the slice counter at once; the frame asked for is
decoded by the viewport's background fetcher and then shown with the right pixels. The UI
thread never decodes (observed by thread); its longest gap is compared only with a peer
measured in the same test (`peer_gap_ms`), never with a fixed number of milliseconds.
"""

from __future__ import annotations

import threading

import numpy as np
import pydicom
import pytest
from pydicom.uid import JPEG2000Lossless
from PySide6.QtCore import Qt

import viewer.core.series as series_module
from tests.ui.conftest import LOAD_TIMEOUT_MS
from tests.ui.long_series import UiGapProbe, build_long_ct_series, peer_gap_ms
from viewer.core.render import render_array

pytestmark = pytest.mark.gui

SLICES = 120
PEER_GAP_FACTOR = 10  # decoding frames on the UI thread (~100 ms each, J2K) is far beyond it


def build_j2k_ct_series(source_dir, target_dir, count: int):
    build_long_ct_series(source_dir, target_dir, count)
    for path in sorted(target_dir.iterdir()):
        ds = pydicom.dcmread(path)
        ds.compress(JPEG2000Lossless)
        ds.save_as(path)
    return target_dir


@pytest.fixture
def decoding_threads(monkeypatch):
    """The thread of every lazy frame decode in `Series` (the real decoder, observed)."""
    threads: list[threading.Thread] = []
    real = series_module.read_stored_frame

    def observed(*args, **kwargs):
        threads.append(threading.current_thread())
        return real(*args, **kwargs)

    monkeypatch.setattr(series_module, "read_stored_frame", observed)
    return threads


def expected_pixels(series, frame: int, window) -> np.ndarray:
    """What the frame should look like, from pydicom alone: pixel_array + rescale, rendered."""
    ds = pydicom.dcmread(series.info.frames[frame].path)
    values = ds.pixel_array * float(ds.RescaleSlope) + float(ds.RescaleIntercept)
    return render_array(values, window, ds.PhotometricInterpretation)


def test_keys_ahead_of_the_loader_never_decode_on_the_ui_thread(
    qtbot, main_window, ct_phantom_dir, tmp_path, decoding_threads, ui_thread_work
):
    build_j2k_ct_series(ct_phantom_dir, tmp_path / "j2k", SLICES)
    ui_thread_work.watch.append(str(tmp_path / "j2k"))
    for calls in ui_thread_work.values():
        calls.clear()
    peer = peer_gap_ms(qtbot, 1000)
    probe = UiGapProbe()
    probe.start()
    with qtbot.waitSignal(main_window.seriesShown, timeout=LOAD_TIMEOUT_MS):
        main_window.open_paths([tmp_path / "j2k"])
    viewport = main_window.active_viewport()
    series = viewport.series()
    assert main_window.loader.is_busy() and series.volume is None, "should still be loading"

    shown: list[tuple[str, int]] = []
    viewport.imageChanged.connect(lambda key, frame: shown.append((key, frame)))
    qtbot.keyClick(viewport, Qt.Key.Key_End)
    assert viewport.frame_index() == SLICES - 1  # the counter moves at once
    for key in [Qt.Key.Key_PageUp] * 4 + [Qt.Key.Key_PageDown]:
        qtbot.keyClick(viewport, key)
        qtbot.wait(10)
    target = SLICES - 1 - 3 * 10
    assert viewport.frame_index() == target
    assert series.volume is None, "the keys should have been pressed while still loading"
    qtbot.waitUntil(lambda: (series.info.key, target) in shown, timeout=LOAD_TIMEOUT_MS)
    assert not viewport.is_waiting_for_frame()
    assert shown[-1] == (series.info.key, target), "a stale frame was shown last"
    gap = probe.stop()

    main_thread = threading.main_thread()
    assert decoding_threads, "the fetcher should have decoded the frames asked for"
    assert main_thread not in decoding_threads, "a frame was decoded on the UI thread"
    assert ui_thread_work.ui_thread_did() == {}, "the UI thread read a file or decoded"
    expected = expected_pixels(series, target, viewport.state.window)
    np.testing.assert_array_equal(viewport.displayed_image(), expected)
    assert gap < PEER_GAP_FACTOR * peer, f"UI gap {gap:.0f} ms vs {peer:.0f} ms for the peer"
    with qtbot.waitSignal(main_window.loader.finished, timeout=LOAD_TIMEOUT_MS):
        pass
