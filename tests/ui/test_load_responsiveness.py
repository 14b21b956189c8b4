"""Loading a 300-slice CT keeps the UI thread free, and closing or cancelling mid-load stops.

What would stall the UI is asserted by its cause, not by milliseconds: no file I/O, header
read, inflate or decode on the UI thread (observed by thread), no full garbage collection while
loading and no collection on the UI thread that scans the load's objects (`gc.callbacks`). The
UI's longest gap is only compared with a peer measured in the same test: the gap while a plain
Python thread keeps the interpreter busy. Millisecond figures: benchmarks/bench_ui_load.py.
"""

from __future__ import annotations

import gc
import threading

import pytest
from PySide6.QtCore import Qt

from tests.ui.conftest import LOAD_TIMEOUT_MS
from tests.ui.long_series import UiGapProbe, build_long_ct_series, peer_gap_ms
from viewer.ui.load_task import hold_garbage_collection

pytestmark = pytest.mark.gui

SLICES = 300
# A young collection scans generation 0 and 1: at most threshold0 × (threshold1 + 1) objects
# (~7,700 with CPython's defaults). The load makes 10,000s of objects (230,000 with the first
# imports); a collection scanning them on the UI thread was the 100-260 ms stall at its end.
YOUNG_SCAN_LIMIT = 20_000
PEER_GAP_FACTOR = 10  # a whole-series decode on the UI thread is 100× the peer, not 10×


class CollectionLog:
    """Every garbage collection while installed: (thread name, generation, objects scanned)."""

    def __init__(self) -> None:
        self.collections: list[tuple[str, int, int]] = []

    def __enter__(self) -> CollectionLog:
        gc.callbacks.append(self._on_collection)
        return self

    def __exit__(self, *_exc) -> None:
        gc.callbacks.remove(self._on_collection)

    def _on_collection(self, phase: str, info: dict) -> None:
        if phase != "start":
            return
        generation = info["generation"]
        scanned = sum(len(gc.get_objects(g)) for g in range(min(generation, 1) + 1))
        self.collections.append((threading.current_thread().name, generation, scanned))

    def on_ui_thread(self) -> list[tuple[str, int, int]]:
        main = threading.main_thread().name
        return [c for c in self.collections if c[0] == main]


@pytest.fixture(scope="module")
def long_ct_dir(tmp_path_factory):
    from tests.conftest import _shared_dir

    source = _shared_dir("dicom", "ct-phantom-54sl")
    return build_long_ct_series(source, tmp_path_factory.mktemp("ct300"), SLICES)


def test_loading_300_slices_leaves_the_ui_thread_free(
    qtbot, main_window, long_ct_dir, ui_thread_work
):
    peer = peer_gap_ms(qtbot, 1500)
    ui_thread_work.watch.append(str(long_ct_dir))
    for calls in ui_thread_work.values():
        calls.clear()
    probe = UiGapProbe()
    first_shown = []
    main_window.seriesShown.connect(lambda s: first_shown.append(main_window.loader.is_busy()))
    probe.start()
    with CollectionLog() as log:
        with qtbot.waitSignal(main_window.loader.finished, timeout=LOAD_TIMEOUT_MS):
            main_window.open_paths([long_ct_dir])
        qtbot.wait(200)  # what runs once the load is over (the collection that stalled)
    gap = probe.stop()

    assert len(main_window.current_series()) == SLICES
    assert first_shown == [True], "the first image should show while the rest still loads"
    assert ui_thread_work["io"] and ui_thread_work["header"], "the observers saw nothing"
    assert ui_thread_work.ui_thread_did() == {}, "the UI thread read, inflated or decoded"
    assert [c for c in log.collections if c[1] == 2] == [], "a full collection during a load"
    heavy = [c for c in log.on_ui_thread() if c[2] > YOUNG_SCAN_LIMIT]
    assert heavy == [], "a collection on the UI thread scanned the load's objects"
    assert probe.ticks > 20
    assert gap < PEER_GAP_FACTOR * peer, f"UI gap {gap:.0f} ms vs {peer:.0f} ms for the peer"

    viewport = main_window.active_viewport()  # scrolling through it reads no file either
    for _ in range(SLICES // 10):
        qtbot.keyClick(viewport, Qt.Key.Key_PageDown)
    assert viewport.frame_index() == SLICES - 1 or viewport.frame_index() >= SLICES - 10
    qtbot.wait(50)
    assert ui_thread_work.ui_thread_did() == {}, "scrolling read or decoded on the UI thread"


def test_after_a_load_no_collection_scans_what_it_made():
    """The policy itself: objects made while loading (on a worker, as the loader does) are
    never all scanned by one collection, during the load or on the UI thread after it."""
    kept: list = []
    before = gc.get_threshold()
    with CollectionLog() as log:
        hold_garbage_collection(True)
        worker = threading.Thread(target=lambda: kept.extend([i] for i in range(150_000)))
        worker.start()
        worker.join()
        hold_garbage_collection(False)
        made_after = [[i] for i in range(5_000)]  # UI-thread allocations trigger collections
    assert gc.isenabled() and gc.get_threshold() == before
    assert len(kept) == 150_000 and len(made_after) == 5_000
    assert log.collections, "no young collections ran at all"
    assert [c for c in log.collections if c[1] == 2] == []
    assert max(c[2] for c in log.collections) < YOUNG_SCAN_LIMIT


def test_closing_during_a_load_stops_the_worker(qtbot, main_window, long_ct_dir):
    with qtbot.waitSignal(main_window.loader.progress, timeout=LOAD_TIMEOUT_MS):
        main_window.open_paths([long_ct_dir])
    assert main_window.loader.is_busy()
    assert main_window.loader.thread_running()
    main_window.close()
    assert not main_window.loader.thread_running()  # the job ended, its pool thread is done
    assert not main_window.loader.is_busy()


def test_cancel_button_stops_the_load(qtbot, main_window, long_ct_dir):
    with qtbot.waitSignal(main_window.loader.progress, timeout=LOAD_TIMEOUT_MS):
        main_window.open_paths([long_ct_dir])
    with qtbot.waitSignal(main_window.loader.cancelled, timeout=LOAD_TIMEOUT_MS):
        main_window.cancel_button.click()
    assert not main_window.cancel_button.isVisible()
