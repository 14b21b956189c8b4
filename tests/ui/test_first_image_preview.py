"""The first file's frame is on screen before the other headers are read (issue 13)."""

from __future__ import annotations

import pytest

from tests.ui.conftest import LOAD_TIMEOUT_MS

pytestmark = pytest.mark.gui


def test_first_file_is_shown_before_the_header_scan_then_its_series(
    qtbot, main_window, ct_phantom_dir
):
    events = []
    loader = main_window.loader
    loader.previewReady.connect(lambda s: events.append(("preview", len(s), s.info.frames[0].path)))
    loader.indexReady.connect(lambda index: events.append(("index",)))
    main_window.grid.active.imageChanged.connect(lambda key, i: events.append(("shown", key)))
    with qtbot.waitSignal(loader.finished, timeout=LOAD_TIMEOUT_MS):
        main_window.open_paths([ct_phantom_dir])
    first_file = str(sorted(ct_phantom_dir.iterdir())[0])
    index_at = events.index(("index",))
    # one file opened on its own, and on screen, before the index of every file exists
    assert ("preview", 1, first_file) in events[:index_at]
    assert any(event[0] == "shown" for event in events[:index_at])
    assert len(main_window.current_series()) == 54  # then the whole series replaces it
    assert main_window.active_viewport().series() is main_window.current_series()


def test_a_single_file_is_not_opened_twice(qtbot, main_window, ct_phantom_dir):
    ready = []
    main_window.loader.previewReady.connect(ready.append)
    main_window.loader.seriesReady.connect(ready.append)
    path = sorted(ct_phantom_dir.iterdir())[0]
    with qtbot.waitSignal(main_window.loader.finished, timeout=LOAD_TIMEOUT_MS):
        main_window.open_paths([path])
    assert len(ready) == 1
