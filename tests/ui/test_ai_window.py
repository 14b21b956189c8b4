"""AI assist and tools installed in the real main window, on the bundled sample study."""

from __future__ import annotations

import shutil

import numpy as np
import pytest
from PySide6.QtCore import QPointF

from inference.registry import find_model
from tests.ui.conftest import load
from tests.ui.test_ai_worker import analysis_model_dir, trained_model_dir
from viewer import RESEARCH_USE_NOTICE
from viewer.paths import sample_study_dir, user_models_dir
from viewer.ui import ai_controller
from viewer.ui.ai_controller import model_card_text
from viewer.ui.inference_worker import default_analyzer_factory
from viewer.ui.settings import Settings

pytestmark = pytest.mark.gui
RESULT_TIMEOUT_MS = 120_000


@pytest.fixture
def ai_window(qtbot, make_window, tmp_path_factory, cxr_dir):
    """The `radlens` window analysing automatically with the test's model, on the CPU."""
    model_dir = analysis_model_dir(tmp_path_factory, cxr_dir)
    study = sample_study_dir()
    if not study.is_dir():
        pytest.skip(f"sample study not found at {study}")
    window = make_window(Settings(model_name=str(model_dir), device="cpu", auto_run_ai=True))
    return window, window.ai


def _dx_keys(window) -> list[str]:
    series = window.index.all_series()
    return [s.key for s in series if s.modality in ("DX", "CR")]


def _pixel_centre(row: int, col: int) -> QPointF:
    return QPointF(col + 0.5, row + 0.5)


def test_opening_the_study_analyses_the_shown_radiograph(qtbot, ai_window):
    window, installed = ai_window
    controller = installed.controller
    with qtbot.waitSignal(controller.resultShown, timeout=RESULT_TIMEOUT_MS):
        load(qtbot, window, [sample_study_dir()])
        keys = _dx_keys(window)
        window.show_series(keys[0])
    viewport = window.active_viewport()
    overlay = controller.overlay
    assert overlay.item.parentItem() is viewport.image_item
    assert overlay.heatmap().shape == viewport.modality_frame().shape
    assert controller.current_key() == (keys[0], viewport.frame_index())
    assert installed.dock.isVisible() and controller.panel.notice.isVisible()

    heat = overlay.heatmap()
    peak = np.unravel_index(int(np.argmax(heat)), heat.shape)
    for turn in ("rotate", "flip_h", "rotate", "flip_v"):
        if turn == "rotate":
            viewport.state.rotate(1)
        else:
            viewport.state.flip(turn == "flip_h")
        on_heatmap = overlay.item.mapToScene(_pixel_centre(*peak))
        on_image = viewport.image_item.mapToScene(_pixel_centre(*peak))
        assert (on_heatmap.x(), on_heatmap.y()) == pytest.approx((on_image.x(), on_image.y()))
        row, col = viewport.scene_to_pixel(on_heatmap)
        assert (row, col) == pytest.approx(peak)  # the same image pixel, after every turn


def test_switching_series_mid_analysis_keeps_results_on_their_image(qtbot, ai_window):
    window, installed = ai_window
    controller = installed.controller
    load(qtbot, window, [sample_study_dir()])
    first, second = _dx_keys(window)[:2]
    window.show_series(first)

    # The analysis of the image shown while loading starts when loading ends; its result may
    # still land while `first` is on screen (rightly). Wait for the one shown on `second`.
    def on_second(_result) -> bool:
        return controller.current_key()[0] == second

    with qtbot.waitSignal(
        controller.resultShown, timeout=RESULT_TIMEOUT_MS, check_params_cb=on_second
    ) as shown:
        window.show_series(second)  # the first image's analysis is now stale
    viewport = window.active_viewport()
    assert controller.current_key() == (second, viewport.frame_index())
    assert controller.overlay.heatmap().shape == viewport.modality_frame().shape
    label = shown.args[0].findings[0].label
    assert shown.args[0].heatmaps[label].shape == viewport.modality_frame().shape
    qtbot.waitUntil(lambda: not installed.is_busy(), timeout=RESULT_TIMEOUT_MS)
    qtbot.waitUntil(window.is_idle, timeout=RESULT_TIMEOUT_MS)  # the AI's busy mark is gone


def test_analyze_action_and_close_stop_the_worker(qtbot, ai_window):
    window, installed = ai_window
    window.auto_run_ai = False
    installed.actions["auto_run"].setChecked(False)
    assert window.settings.auto_run_ai is False
    load(qtbot, window, [sample_study_dir()])
    window.show_series(_dx_keys(window)[0])
    assert installed.controller.shown_result() is None
    with qtbot.waitSignal(installed.controller.resultShown, timeout=RESULT_TIMEOUT_MS):
        installed.actions["analyze"].trigger()
    window.close()
    assert not installed.controller.runner.is_running()


def test_tools_measure_mm_and_browse_tags_in_the_window(qtbot, main_window, ct_phantom_dir):
    installed = main_window.measurements
    load(qtbot, main_window, [ct_phantom_dir])
    viewport = main_window.active_viewport()
    layer = installed.active_layer()
    assert layer.context() is not None
    spacing = viewport.pixel_spacing()
    installed.actions["length"].trigger()
    assert layer.placing() == "length"
    graphic = None
    for point in ((100, 100), (100, 300)):
        graphic = layer.place_point(point)
    assert graphic.text() == f"{200 * spacing[1]:.1f} mm"
    viewport.state.step_frame(1)
    assert layer.graphics() == []
    viewport.state.step_frame(-1)
    assert [g.measurement.id for g in layer.graphics()] == [graphic.measurement.id]

    dock = installed.tag_browser
    dock.dock.show()
    qtbot.waitUntil(lambda: dock.browser.tree.topLevelItemCount() > 0, timeout=5000)
    dock.browser.search.setText("PixelSpacing")
    qtbot.waitUntil(lambda: dock.browser.visible_tags() == ["(0028,0030)"], timeout=2000)
    viewport.state.step_frame(1)  # another file: the dock follows, the search stays
    assert dock.browser.visible_tags() == ["(0028,0030)"]
    assert dock.browser.caption.text().endswith("frame 2")


def test_model_menu_switches_to_a_user_model_and_reanalyses(
    qtbot, ai_window, tmp_path_factory, cxr_dir
):
    window, installed = ai_window
    tiny = trained_model_dir(tmp_path_factory, cxr_dir)
    shutil.copytree(tiny, user_models_dir() / tiny.name)
    load(qtbot, window, [sample_study_dir()])
    window.show_series(_dx_keys(window)[0])
    installed.rebuild_model_menu()
    entries = {a.text(): a for a in installed.model_menu.actions() if a.isEnabled()}
    assert "Tiny CXR test model 1.0.0" in entries
    with qtbot.waitSignal(installed.controller.resultShown, timeout=RESULT_TIMEOUT_MS) as shown:
        entries["Tiny CXR test model 1.0.0"].trigger()
    assert window.settings.model_name == "tiny-cxr"
    assert shown.args[0].model_name == "Tiny CXR test model"
    text = model_card_text(find_model("tiny-cxr"))
    assert "Intended use: test model" in text and RESEARCH_USE_NOTICE in text


def test_the_model_loads_only_once_the_study_has_loaded(
    qtbot, make_window, tmp_path_factory, cxr_dir, monkeypatch
):
    """Building the analyzer imports torch on the worker, which holds the GIL: not while loading."""
    from tests.conftest import _shared_dir
    from tests.ui.long_series import build_long_ct_series

    long_ct = build_long_ct_series(
        _shared_dir("dicom", "ct-phantom-54sl"), tmp_path_factory.mktemp("ct200"), 200
    )
    build = default_analyzer_factory(str(analysis_model_dir(tmp_path_factory, cxr_dir)), "cpu")
    loading_during_build = []

    def recording_factory():
        loading_during_build.append(main_window.loader.is_busy())
        analyzer = build()
        loading_during_build.append(main_window.loader.is_busy())
        return analyzer

    monkeypatch.setattr(ai_controller, "default_analyzer_factory", lambda *_: recording_factory)
    main_window = make_window(Settings(auto_run_ai=True))
    installed = main_window.ai
    panel = installed.controller.panel
    with qtbot.waitSignal(installed.controller.resultShown, timeout=RESULT_TIMEOUT_MS):
        main_window.open_paths([long_ct])  # as `radlens PATH` does, right after install_ai
        qtbot.waitSignal(main_window.seriesShown, timeout=RESULT_TIMEOUT_MS).wait()
        assert main_window.loader.is_busy()
        assert "when loading has finished" in panel.status.text()
    assert loading_during_build == [False, False]


def test_an_adult_radiograph_is_not_analysed_until_run_anyway_and_keeps_its_reason(
    qtbot, make_window, tmp_path
):
    """The issue's case in the real window: a chest radiograph of a patient born 1940."""
    import pydicom
    from pydicom.uid import generate_uid
    from PySide6.QtCore import Qt

    source = sample_study_dir() / "demo-study" / "chest-ap-2.dcm"
    if not source.is_file():
        pytest.skip(f"sample study not found at {source}")
    adult = pydicom.dcmread(source)
    adult.PatientBirthDate = "19400101"
    adult.SOPInstanceUID = adult.file_meta.MediaStorageSOPInstanceUID = generate_uid()
    adult.StudyInstanceUID, adult.SeriesInstanceUID = generate_uid(), generate_uid()
    adult.save_as(tmp_path / "adult.dcm")
    window = make_window(Settings(device="cpu", auto_run_ai=True))  # the default model
    controller, panel = window.ai.controller, window.ai.controller.panel
    with qtbot.waitSignal(controller.resultShown, timeout=RESULT_TIMEOUT_MS) as shown:
        load(qtbot, window, [tmp_path])
    assert shown.args[0].findings == () and panel.rows == []
    assert panel.gate.isVisible() and "patient age 84 years" in panel.gate.message.text()
    with qtbot.waitSignal(controller.resultShown, timeout=RESULT_TIMEOUT_MS) as shown:
        qtbot.mouseClick(panel.gate.run_anyway, Qt.MouseButton.LeftButton)
    forced = shown.args[0]
    assert forced.findings and forced.intended_use_reasons == (
        "patient age 84 years (model: aged 1–5 years)",
    )
    assert len(panel.rows) == 1 and panel.caution_label.isVisible()
    assert "patient age 84 years" in panel.caution_label.text()
