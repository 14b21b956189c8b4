"""The AI controller with a real model: results land only on their own image, the intended-use
gate offers "Run anyway", clicking a finding shows its heatmap, Cancel works."""

from __future__ import annotations

import threading

import numpy as np
import pyqtgraph as pg
import pytest
from PySide6.QtCore import Qt

from tests.ui.test_ai_worker import analysis_model_dir, chest_input, trained_model_dir
from viewer import RESEARCH_USE_NOTICE
from viewer.core.formatting import percent
from viewer.ui.ai_controller import AiController, AiImage
from viewer.ui.findings_panel import OUTSIDE_INTENDED_USE, FindingsPanel
from viewer.ui.heatmap_overlay import HeatmapOverlay
from viewer.ui.inference_worker import InferenceRunner, default_analyzer_factory

pytestmark = pytest.mark.gui
RESULT_TIMEOUT_MS = 120_000


class Screen:
    """A view showing one image, the findings panel and the controller between them."""

    def __init__(self, qtbot, model_dir, auto_run=True):
        self.view = pg.GraphicsView()
        self.box = pg.ViewBox(lockAspect=True, invertY=True)
        self.view.setCentralItem(self.box)
        self.image_item = pg.ImageItem(axisOrder="row-major")
        self.box.addItem(self.image_item)
        self.panel = FindingsPanel()
        self.overlay = HeatmapOverlay(self.image_item)
        self.runner = InferenceRunner(default_analyzer_factory(str(model_dir), "cpu"))
        self.auto_run = auto_run
        self.controller = AiController(self.runner, self.panel, self.overlay, lambda: self.auto_run)
        self.shown = []
        self.controller.resultShown.connect(lambda result: self.shown.append(result))
        for widget in (self.view, self.panel):
            qtbot.addWidget(widget)
            widget.show()

    def open(self, key: str, analysis_input) -> None:
        """What the viewport + install_ai do on imageChanged: new pixels, then the controller."""
        self.image_item.setImage(analysis_input.pixels.astype(np.float32))
        self.controller.set_image(AiImage(key, analysis_input))


@pytest.fixture
def screen(qtbot, tmp_path_factory, cxr_dir):
    screen = Screen(qtbot, analysis_model_dir(tmp_path_factory, cxr_dir))
    yield screen
    assert screen.controller.shutdown()


def test_switching_image_mid_analysis_never_shows_the_old_result(qtbot, screen):
    small, large = chest_input(2), chest_input(3)
    assert small.pixels.shape != large.pixels.shape  # a misplaced heatmap could not hide
    screen.open("small", small)
    assert screen.runner.is_busy()
    with qtbot.waitSignal(screen.controller.resultShown, timeout=RESULT_TIMEOUT_MS) as shown:
        screen.open("large", large)
    result = shown.args[0]
    assert result.heatmaps[result.findings[0].label].shape == large.pixels.shape
    assert screen.overlay.heatmap().shape == large.pixels.shape
    qtbot.wait(300)
    assert len(screen.shown) == 1 and screen.controller.current_key() == "large"


def test_a_result_already_on_its_way_is_dropped_after_the_switch(qtbot, screen):
    """The worker has finished and its result is queued when the user changes image."""
    screen.auto_run = False
    finished = threading.Event()
    screen.runner.runner.relay.message.connect(  # on the worker thread, as the result leaves
        lambda _ticket, kind, _payload: kind == "done" and finished.set(),
        Qt.ConnectionType.DirectConnection,
    )
    screen.open("small", chest_input(2))
    screen.controller.analyze()
    assert finished.wait(RESULT_TIMEOUT_MS / 1000), "the worker produced no result"
    screen.open("large", chest_input(3))  # before the queued result reaches the UI thread
    qtbot.wait(300)
    assert screen.shown == []
    assert not screen.overlay.has_heatmap()
    assert screen.panel.rows == []


def test_returning_to_an_image_shows_its_result_again_without_rerunning(qtbot, screen):
    first = chest_input(3)
    with qtbot.waitSignal(screen.controller.resultShown, timeout=RESULT_TIMEOUT_MS):
        screen.open("large", first)
    screen.auto_run = False
    screen.open("small", chest_input(2))
    assert screen.controller.shown_result() is None and not screen.overlay.has_heatmap()
    screen.open("large", first)
    assert not screen.runner.is_busy()
    assert screen.controller.shown_result() is screen.shown[0]
    assert screen.overlay.heatmap().shape == first.pixels.shape


def test_panel_shows_bars_call_model_runtime_and_notice(qtbot, screen):
    with qtbot.waitSignal(screen.controller.resultShown, timeout=RESULT_TIMEOUT_MS) as shown:
        screen.open("large", chest_input(3))
    result = shown.args[0]
    (row,) = screen.panel.rows
    finding = result.findings[0]
    assert row.bar.row.probability == pytest.approx(finding.probability)
    assert row.bar.threshold_x() == pytest.approx(finding.threshold * (row.bar.width() - 1))
    assert percent(finding.probability) in row.text.text()
    assert ("positive" if finding.positive else "negative") in row.text.text()
    assert result.model_name in screen.panel.model_label.text()
    assert result.model_version in screen.panel.model_label.text()
    assert result.device in screen.panel.runtime_label.text()
    assert f"{result.timings['total'] * 1000:.0f} ms" in screen.panel.runtime_label.text()
    assert screen.panel.notice.text() == RESEARCH_USE_NOTICE
    assert screen.panel.notice.isVisible()


def test_clicking_a_finding_shows_its_heatmap_and_the_toggle_hides_it(qtbot, screen):
    with qtbot.waitSignal(screen.controller.resultShown, timeout=RESULT_TIMEOUT_MS) as shown:
        screen.open("large", chest_input(3))
    label = shown.args[0].findings[0].label
    screen.overlay.clear()
    qtbot.mouseClick(screen.panel.rows[0].button, Qt.MouseButton.LeftButton)
    assert screen.overlay.label == label
    np.testing.assert_array_equal(screen.overlay.heatmap(), shown.args[0].heatmaps[label])
    assert screen.overlay.item.isVisible()
    screen.panel.heatmap_controls.show_box.setChecked(False)
    assert not screen.overlay.item.isVisible()
    screen.panel.heatmap_controls.opacity.setValue(80)
    assert screen.overlay.opacity() == pytest.approx(0.8, abs=0.01)


def test_cancel_button_stops_showing_the_analysis(qtbot, screen):
    screen.open("large", chest_input(3))
    assert screen.panel.cancel_button.isEnabled()
    with qtbot.waitSignal(screen.runner.settled, timeout=RESULT_TIMEOUT_MS):
        qtbot.mouseClick(screen.panel.cancel_button, Qt.MouseButton.LeftButton)
    qtbot.wait(100)
    assert screen.panel.status.text() == "Analysis cancelled."
    assert screen.shown == [] and not screen.overlay.has_heatmap()


def test_outside_intended_use_offers_run_anyway(qtbot, tmp_path_factory, cxr_dir):
    screen = Screen(qtbot, trained_model_dir(tmp_path_factory, cxr_dir))
    try:
        head_ct = chest_input(3, modality="CT", body_part="HEAD")
        with qtbot.waitSignal(screen.controller.resultShown, timeout=RESULT_TIMEOUT_MS) as shown:
            screen.open("ct", head_ct)
        refused = shown.args[0]
        assert not refused.intended_use_ok and refused.findings == ()
        assert screen.panel.gate.isVisible()
        message = screen.panel.gate.message.text()
        assert message.startswith(f"{OUTSIDE_INTENDED_USE} (modality CT")
        assert "body part HEAD" in message and message.endswith(").")
        assert "force" not in message  # the engine's command-line advice stays out of the UI
        assert screen.panel.gate.run_anyway.isVisible()
        assert screen.panel.rows == [] and not screen.overlay.has_heatmap()
        with qtbot.waitSignal(screen.controller.resultShown, timeout=RESULT_TIMEOUT_MS) as shown:
            qtbot.mouseClick(screen.panel.gate.run_anyway, Qt.MouseButton.LeftButton)
        forced = shown.args[0]
        assert forced.findings and not forced.intended_use_ok
        assert not screen.panel.gate.isVisible()
        assert len(screen.panel.rows) == 1 and screen.overlay.has_heatmap()
        caution = screen.panel.caution_label  # the reasons stay on the forced result
        assert caution.isVisible() and "modality CT" in caution.text()
        assert caution.text().startswith("Outside the model's intended use: modality CT")
        assert "interpret with caution" in caution.text()
        assert screen.panel.notice.isVisible()
    finally:
        assert screen.controller.shutdown()


def test_clear_negative_maps_toggled_mid_analysis_redo_the_request_with_the_choice(qtbot, screen):
    """The choice goes with the request: one on its way is redone with it; nothing else runs."""
    screen.auto_run = False
    screen.open("large", chest_input(3))
    assert screen.controller.set_heatmaps_for_negatives(True) is None  # nothing to redo
    assert not screen.runner.is_busy()
    first = screen.controller.analyze()
    assert screen.runner.request(first).heatmaps_for_negatives
    redo = screen.controller.set_heatmaps_for_negatives(False)
    assert screen.runner.request(first) is None  # superseded
    assert not screen.runner.request(redo).heatmaps_for_negatives
    with qtbot.waitSignal(screen.controller.resultShown, timeout=RESULT_TIMEOUT_MS):
        pass
    again = screen.controller.set_heatmaps_for_negatives(True)  # a result shown: redone
    assert screen.runner.request(again).heatmaps_for_negatives
    with qtbot.waitSignal(screen.controller.resultShown, timeout=RESULT_TIMEOUT_MS):
        pass
    assert screen.controller.set_heatmaps_for_negatives(True) is None  # unchanged: no rerun
    assert not screen.runner.is_busy() and len(screen.shown) == 2
