"""The View and AI menus' switches of the real window: each checkable, with its key, starting
from its setting and saving to it when toggled (one builder, `viewer/ui/toggles.py`)."""

from __future__ import annotations

import pytest
from PySide6.QtGui import QKeySequence

from viewer.ui.settings import Settings, load_settings

pytestmark = pytest.mark.gui
PORTABLE = QKeySequence.SequenceFormat.PortableText
SAVED = Settings(auto_run_ai=False, show_overlays=False, anonymise=True, heatmap_for_negatives=True)


def switches(window, menu: str) -> dict[str, tuple[str, bool]]:
    """text → (key, checked) of the menu's checkable entries."""
    return {
        action.text(): (action.shortcut().toString(PORTABLE), action.isChecked())
        for action in window.menu(menu).actions()
        if action.isCheckable()
    }


def test_switches_start_from_their_settings_and_save_them(qtbot, make_window):
    window = make_window(SAVED)
    assert switches(window, "View") == {
        "Show overlays": ("O", False),
        "Anonymise on screen": ("Ctrl+Shift+A", True),
        "Show overlay planes": ("Shift+O", True),
        "PACS": ("", True),  # the dock's own show/hide entry
    }
    assert switches(window, "AI") == {
        "Show heatmap": ("Shift+H", True),
        "Show heatmap for clear negatives": ("", True),
        "Analyze automatically on open": ("", False),
        "Findings panel": ("", True),
    }
    state = window.active_viewport().state
    assert (state.show_overlays, state.anonymise) == (False, True)
    window.overlays_action.trigger()
    assert state.show_overlays and window.settings.show_overlays
    with qtbot.waitSignal(window.anonymiseChanged) as changed:
        window.anonymise_action.trigger()
    assert changed.args == [False] and not state.anonymise
    for name in ("heatmap_for_negatives", "auto_run"):
        window.ai.actions[name].trigger()
    assert window.ai.controller.heatmaps_for_negatives is False and window.auto_run_ai
    window.close()
    stored = load_settings()
    assert (stored.show_overlays, stored.anonymise) == (True, False)
    assert (stored.heatmap_for_negatives, stored.auto_run_ai) == (False, True)


def test_menu_tooltips_are_shown_in_every_menu_and_submenu(qtbot, make_window):
    """Qt hides QMenu tooltips by default: the window's menus (and the submenus RadLens and its
    add-ons add, e.g. View → MPR, AI → Model) show them, so "Show heatmap for clear negatives"
    explains itself on hover."""
    from PySide6.QtWidgets import QMenu

    window = make_window(SAVED)
    ai = window.menu("AI")
    (negatives,) = [a for a in ai.actions() if a.text() == "Show heatmap for clear negatives"]
    assert negatives.toolTip() not in ("", negatives.text())
    menus = []
    for name in ("File", "View", "Tools", "AI", "Help"):
        menu = window.menu(name)
        menu.popup(window.mapToGlobal(window.rect().center()))
        qtbot.waitUntil(menu.isVisible)
        menus += [menu, *menu.findChildren(QMenu)]
        menu.hide()
    submenus = {m.title() for m in menus} - {
        f"&{n}" for n in ("File", "View", "Tools", "AI", "Help")
    }
    assert {"Recent", "Window", "Layout", "MPR", "Model"} <= submenus
    assert [m.title() for m in menus if not m.toolTipsVisible()] == []
