"""Layouts in the window `radlens` builds (AI assist installed, a heatmap shown): showing a
series in a second viewport, by clicking the viewport then a series or by dragging a series
onto it, works in 1×2 and 2×2, and the heatmap follows without an item changing scenes.

Before the fix one heatmap item was re-parented from one viewport's scene to the other's and
the app died with signal 11; the layout tests had built the window without the AI panel.
"""

from __future__ import annotations

import pytest
from PySide6.QtCore import QMimeData, QPoint, Qt

from tests.ui.conftest import load, send_drop
from tests.ui.test_ai_worker import analysis_model_dir
from viewer.paths import sample_study_dir
from viewer.ui.layouts import LAYOUT_SHAPES
from viewer.ui.settings import Settings, load_settings
from viewer.ui.viewport import SERIES_MIME

pytestmark = pytest.mark.gui
RESULT_TIMEOUT_MS = 120_000


def _radiograph_keys(window) -> list[str]:
    return [s.key for s in window.index.all_series() if s.modality in ("DX", "CR")]


def _click_viewport(qtbot, viewport) -> None:
    centre = QPoint(viewport.graphics.width() // 2, viewport.graphics.height() // 2)
    qtbot.mouseClick(viewport.graphics.viewport(), Qt.MouseButton.LeftButton, pos=centre)


def _click_series(qtbot, window, key: str) -> None:
    """A left click on the series row in the study browser, as a user does."""
    tree = window.browser.tree
    item = window.browser._items[key]  # noqa: SLF001 - the row the user clicks
    tree.scrollToItem(item)
    rect = tree.visualItemRect(item)
    qtbot.mouseClick(tree.viewport(), Qt.MouseButton.LeftButton, pos=rect.center())


def _drop_series(viewport, key: str) -> None:
    mime = QMimeData()
    mime.setData(SERIES_MIME, key.encode("utf-8"))
    assert send_drop(viewport, mime).isAccepted()


def _heatmap_items(window) -> dict:
    """Every heatmap item under a viewport's image item → the scene it lives in."""
    overlay_items = {}
    for viewport in window.grid.viewports:
        for child in viewport.image_item.childItems():
            if child.zValue() == window.ai.controller.overlay.item.zValue():
                overlay_items[child] = child.scene()
    return overlay_items


@pytest.fixture
def analysed(qtbot, make_window, tmp_path_factory, cxr_dir):
    """The radlens window in a layout, its first radiograph analysed and its heatmap shown."""

    def build(layout: str):
        if not sample_study_dir().is_dir():
            pytest.skip(f"sample study not found at {sample_study_dir()}")
        model_dir = analysis_model_dir(tmp_path_factory, cxr_dir)
        window = make_window(
            Settings(model_name=str(model_dir), device="cpu", auto_run_ai=True, layout=layout)
        )
        controller = window.ai.controller
        load(qtbot, window, [sample_study_dir()])
        first = _radiograph_keys(window)[0]
        with qtbot.waitSignal(controller.resultShown, timeout=RESULT_TIMEOUT_MS):
            window.show_series(first)
        assert controller.overlay.has_heatmap() and controller.overlay.item.isVisible()
        return window

    return build


@pytest.mark.parametrize("layout", ["1x2", "2x2"])
@pytest.mark.parametrize("how", ["click", "drop"])
def test_a_series_shown_in_another_viewport_moves_the_heatmap_safely(qtbot, analysed, layout, how):
    window = analysed(layout)
    controller = window.ai.controller
    first_viewport, target = window.viewports()[0], window.viewports()[-1]
    second = _radiograph_keys(window)[1]
    scenes_before = _heatmap_items(window)

    with qtbot.waitSignal(controller.resultShown, timeout=RESULT_TIMEOUT_MS):
        if how == "click":
            _click_viewport(qtbot, target)
            assert window.active_viewport() is target
            _click_series(qtbot, window, second)
        else:
            _drop_series(target, second)
    assert target.state.series_key == second and window.active_viewport() is target
    assert controller.current_key() == (second, 0)
    overlay = controller.overlay
    assert overlay.item.parentItem() is target.image_item
    assert overlay.item.scene() is target.graphics.scene() and overlay.item.isVisible()
    assert overlay.heatmap().shape == target.modality_frame().shape

    _click_viewport(qtbot, first_viewport)  # back: its cached result, on its own item
    assert overlay.item.parentItem() is first_viewport.image_item and overlay.item.isVisible()
    shown = [item for item in _heatmap_items(window) if item.isVisible()]
    assert shown == [overlay.item], "one heatmap on screen: the active image's"

    scenes_after = _heatmap_items(window)
    for item, scene in scenes_before.items():
        assert scenes_after[item] is scene, "a heatmap item changed scenes"
    assert len(scenes_after) == 2  # one per viewport that showed a heatmap, no more


@pytest.mark.parametrize("layout", ["1x3", "1x2", "2x2"])
def test_a_saved_layout_reopens(make_window, layout):
    """Chosen from View → Layout, saved when the window closes, shown again by the next window
    built from the saved settings, as `radlens` starts (1×3 came back as 1×1 in 0.2.0)."""
    first = make_window(Settings(auto_run_ai=False))
    first.layout_actions[layout].trigger()
    assert first.grid.layout_name == layout
    first.close()
    assert load_settings().layout == layout
    again = make_window(load_settings())
    rows, columns = LAYOUT_SHAPES[layout]
    assert again.grid.layout_name == layout
    assert len(again.grid.shown()) == rows * columns
    assert again.layout_actions[layout].isChecked()


@pytest.mark.parametrize("layout", ["2x2", "1x3"])
def test_every_cell_of_a_layout_is_the_same_size(qtbot, make_window, layout):
    """An image shown in 1×1, then 1×2, then the layout: the image's cell and the empty drop
    targets share the grid equally (in 2×2 the image's row kept 600 of 815 px before)."""
    if not sample_study_dir().is_dir():
        pytest.skip(f"sample study not found at {sample_study_dir()}")
    window = make_window(Settings(auto_run_ai=False))
    window.resize(1400, 900)
    load(qtbot, window, [sample_study_dir()])
    first = window.viewports()[0]
    qtbot.waitUntil(lambda: first.series() is not None)
    for name in ("1x2", layout):
        window.set_layout(name)
        qtbot.wait(300)  # let the grid lay the cells out

    sizes = [viewport.size() for viewport in window.grid.shown()]
    assert max(s.height() for s in sizes) - min(s.height() for s in sizes) <= 2, sizes
    assert max(s.width() for s in sizes) - min(s.width() for s in sizes) <= 2, sizes
