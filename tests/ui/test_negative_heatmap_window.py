"""The `radlens` window: a clear negative's heatmap appears only when asked (AI menu, persisted)
and is labelled so; the findings panel's text wraps, whole, in a narrow dock."""

from __future__ import annotations

import threading

import numpy as np
import pytest
from PySide6.QtCore import Qt
from PySide6.QtWidgets import QApplication

from tests.ui.conftest import load
from viewer.ui import ai_controller
from viewer.ui.settings import Settings, load_settings

pytestmark = pytest.mark.gui
RESULT_TIMEOUT_MS = 120_000
CLEAR_NEGATIVE = ("val", "NORMAL", "IM-0666-0001-0002.jpeg")  # shipped 1.3.0: p ≈ 0.0006
NARROW_DOCK = 120  # px asked for; the dock stops at the panel's minimum width


@pytest.fixture
def clear_negative(cxr_dir):
    path = cxr_dir.joinpath(*CLEAR_NEGATIVE)
    if not path.is_file():
        pytest.skip(f"{path} not found")
    return path


def analyse(qtbot, controller, trigger):
    with qtbot.waitSignal(controller.resultShown, timeout=RESULT_TIMEOUT_MS) as blocker:
        trigger()
    return blocker.args[0]


@pytest.fixture
def model_loads(monkeypatch):
    """Each model the window loads, with the name of the thread that loaded it: the real loader
    (`default_analyzer_factory`'s build) runs and is only observed."""
    loads = []
    real_factory = ai_controller.default_analyzer_factory

    def observed_factory(*args):
        build = real_factory(*args)

        def observed_build():
            analyzer = build()
            loads.append((threading.current_thread().name, analyzer))
            return analyzer

        return observed_build

    monkeypatch.setattr(ai_controller, "default_analyzer_factory", observed_factory)
    return loads


def shown_whole(label, viewport) -> bool:
    """The label is as tall as its wrapped text needs and inside the visible width."""
    right = label.mapTo(viewport, label.rect().topRight()).x()
    return label.height() >= label.heightForWidth(label.width()) and right < viewport.width()


def test_clear_negative_map_is_drawn_only_when_asked_and_said_so(
    qtbot, make_window, clear_negative, model_loads
):
    window = make_window(Settings(auto_run_ai=False, device="cpu"))  # the shipped model
    installed = window.ai
    controller, panel = installed.controller, installed.controller.panel
    load(qtbot, window, [clear_negative])
    result = analyse(qtbot, controller, installed.actions["analyze"].trigger)
    assert result.findings[0].probability < result.heatmap_hide_below
    assert not result.heatmaps_on_request and not np.any(controller.overlay.heatmap())
    assert panel.heatmap_note.isHidden()

    action = installed.actions["heatmap_for_negatives"]
    assert action.menu() is None and action.isCheckable() and not action.isChecked()
    result = analyse(qtbot, controller, action.trigger)  # re-runs the image on screen
    assert result.heatmaps_on_request == ("pneumonia",)
    assert controller.overlay.heatmap().max() > 0
    assert not panel.heatmap_note.isHidden()
    assert "below the heatmap display threshold (10.0 %); map drawn on request" in (
        panel.heatmap_note.text()
    )
    ((thread, model),) = model_loads  # the toggle asked the loaded model: no second load
    assert thread != threading.main_thread().name

    window.resizeDocks([installed.dock], [NARROW_DOCK], Qt.Orientation.Horizontal)
    QApplication.processEvents()
    viewport = panel.scroll.viewport()
    assert panel.caution_label.text().startswith("Intended use not verifiable")
    for label in (panel.caution_label, panel.heatmap_note, panel.model_label):
        assert shown_whole(label, viewport), label.text()
    assert panel.notice.height() >= panel.notice.heightForWidth(panel.notice.width())

    result = analyse(qtbot, controller, action.trigger)  # and back: blank again, same model
    assert not result.heatmaps_on_request and not np.any(controller.overlay.heatmap())
    assert panel.heatmap_note.isHidden()
    assert model_loads == [(thread, model)]
    result = analyse(qtbot, controller, action.trigger)
    assert result.heatmaps_on_request == ("pneumonia",) and model_loads == [(thread, model)]

    window.close()
    assert load_settings().heatmap_for_negatives
    again = make_window(load_settings())
    assert again.ai.actions["heatmap_for_negatives"].isChecked()
