"""Loading a 300-slice CT keeps the UI thread responsive, and closing mid-load stops cleanly."""

from __future__ import annotations

import pytest
from PySide6.QtCore import QThread

from tests.ui.conftest import LOAD_TIMEOUT_MS
from tests.ui.long_series import UiGapProbe, build_long_ct_series

pytestmark = pytest.mark.gui

MAX_UI_GAP_MS = 50.0
SLICES = 300


@pytest.fixture(scope="module")
def long_ct_dir(tmp_path_factory):
    from tests.conftest import _shared_dir

    source = _shared_dir("dicom", "ct-phantom-54sl")
    return build_long_ct_series(source, tmp_path_factory.mktemp("ct300"), SLICES)


def test_ui_never_stalls_while_300_slices_load(qtbot, main_window, long_ct_dir):
    probe = UiGapProbe()
    first_shown = []
    main_window.seriesShown.connect(lambda s: first_shown.append(main_window.loader.is_busy()))
    probe.start()
    with qtbot.waitSignal(main_window.loader.finished, timeout=LOAD_TIMEOUT_MS):
        main_window.open_paths([long_ct_dir])
    gap = probe.stop()
    assert len(main_window.current_series()) == SLICES
    assert first_shown == [True], "the first image should show while the rest still loads"
    assert probe.ticks > 20
    assert gap < MAX_UI_GAP_MS, f"UI thread blocked for {gap:.1f} ms"


def test_closing_during_a_load_stops_the_worker(qtbot, main_window, long_ct_dir):
    with qtbot.waitSignal(main_window.loader.progress, timeout=LOAD_TIMEOUT_MS):
        main_window.open_paths([long_ct_dir])
    assert main_window.loader.is_busy()
    thread: QThread = main_window.loader._thread  # noqa: SLF001 - the thing under test
    main_window.close()
    assert thread.isFinished() and not thread.isRunning()
    assert not main_window.loader.is_busy()


def test_cancel_button_stops_the_load(qtbot, main_window, long_ct_dir):
    with qtbot.waitSignal(main_window.loader.progress, timeout=LOAD_TIMEOUT_MS):
        main_window.open_paths([long_ct_dir])
    with qtbot.waitSignal(main_window.loader.cancelled, timeout=LOAD_TIMEOUT_MS):
        main_window.cancel_button.click()
    assert not main_window.cancel_button.isVisible()
