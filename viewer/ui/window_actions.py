"""The main window's menus, toolbar and key bindings, and the View → Window preset menu.

Plain functions taking the window: they create the actions and keep them on the window
(`actions_by_name`, `recent_menu`, `window_menu`, `overlays_action`, `anonymise_action`,
`layout_actions`, `overlay_planes`, `fps_spin`) and connect each to a window command; View's
switches are rows of `view_toggles`, built by `viewer/ui/toggles.py`.
"""

from __future__ import annotations

from PySide6.QtGui import QAction, QActionGroup, QKeySequence
from PySide6.QtWidgets import QInputDialog, QSpinBox

from viewer.core.voi import Window
from viewer.ui import shortcuts
from viewer.ui.layouts import LAYOUT_SHAPES
from viewer.ui.overlay_planes import OverlayPlanes
from viewer.ui.toggles import Toggle, add_toggle
from viewer.ui.view_state import add_user_preset, window_choices

MAX_PRESET_KEYS = 9
TOOLBAR_COMMANDS = ("fit", "actual_size", "rotate", "flip_h", "invert", "auto_window", "cine")


def build_actions(window) -> None:
    """File, View and Help menus, the preset number keys and the viewer toolbar."""
    window.actions_by_name = {}
    items = file_items(window)
    add_items(window, "File", items[:3])
    window.recent_menu = window.menu("File").addMenu("Recent")
    add_items(window, "File", items[3:])
    add_items(window, "View", view_items(window))
    build_view_toggles(window)
    window.overlay_planes = OverlayPlanes(window)
    window.window_menu = window.menu("View").addMenu("Window")
    build_preset_keys(window)
    help_items = [
        (None, "Keyboard shortcuts", window.show_shortcuts),
        (None, "About RadLens", window.show_about),
    ]
    add_items(window, "Help", help_items)
    build_toolbar(window)


def file_items(window) -> list:
    return [
        ("open_files", "Open files…", window.choose_files),
        ("open_folder", "Open folder…", window.choose_folder),
        (None, "Open the sample study", window.open_sample),
        ("export_png", "Export view as PNG…", lambda: window.export_png(True)),
        (None, "Export view as PNG without overlays…", lambda: window.export_png(False)),
        ("quit", "Quit", window.close),
    ]


def view_items(window) -> list:
    v = window.active_viewport
    return [
        ("fit", "Fit", lambda: v().fit()),
        ("actual_size", "1:1", lambda: v().actual_size()),
        ("rotate", "Rotate 90°", lambda: v().state.rotate(1)),
        ("flip_h", "Flip horizontally", lambda: v().state.flip(True)),
        ("flip_v", "Flip vertically", lambda: v().state.flip(False)),
        ("reset", "Reset view", lambda: v().reset()),
        ("auto_window", "Automatic window", lambda: v().auto_window()),
        ("invert", "Invert", lambda: v().state.set_invert(not v().state.invert)),
        ("cine", "Play / stop cine", window.toggle_cine),
    ]


def add_items(window, menu: str, items) -> None:
    for command, text, slot in items:
        action = window.menu(menu).addAction(text)
        if command:
            action.setShortcut(shortcuts.key_for(command))
            window.actions_by_name[command] = action
        action.triggered.connect(lambda _=False, s=slot: s())


def view_toggles(window) -> dict[str, Toggle]:
    """View's switches kept in the settings, by the window attribute holding each action."""
    apply = window.apply_overlay_flags
    return {
        "overlays_action": Toggle("Show overlays", "overlays", "show_overlays", apply),
        "anonymise_action": Toggle("Anonymise on screen", "anonymise", "anonymise", apply),
    }


def build_view_toggles(window) -> None:
    view = window.menu("View")
    view.addSeparator()
    for attribute, toggle in view_toggles(window).items():
        setattr(window, attribute, add_toggle(view, toggle, window.settings))
    layout_menu = view.addMenu("Layout")
    group = QActionGroup(window)
    window.layout_actions = {}
    for name in LAYOUT_SHAPES:
        action = add_toggle(layout_menu, Toggle(name.replace("x", "×")))
        group.addAction(action)
        action.triggered.connect(lambda _=False, n=name: window.set_layout(n))
        window.layout_actions[name] = action


def build_preset_keys(window) -> None:
    for number in range(1, MAX_PRESET_KEYS + 1):
        action = QAction(window)
        action.setShortcut(QKeySequence(str(number)))
        action.triggered.connect(lambda _=False, n=number: window.apply_preset(n - 1))
        window.addAction(action)


def build_toolbar(window) -> None:
    toolbar = window.addToolBar("Viewer")
    toolbar.setObjectName("viewer_toolbar")
    for name in TOOLBAR_COMMANDS:
        toolbar.addAction(window.actions_by_name[name])
    window.fps_spin = QSpinBox()
    window.fps_spin.setRange(1, 60)
    window.fps_spin.setSuffix(" fps")
    window.fps_spin.setValue(window.settings.cine_fps)
    toolbar.addWidget(window.fps_spin)


# --- View → Window: the presets of the shown series ---------------------------------------


def apply_preset(window, position: int) -> None:
    viewport = window.active_viewport()
    choices = window_choices(viewport.series(), viewport.frame_index(), window.settings.presets)
    if 0 <= position < len(choices):
        viewport.state.set_window(choices[position][1])


def rebuild_window_menu(window) -> None:
    menu = window.window_menu
    menu.clear()
    choices = window_choices(
        window.current_series(), window.current_frame_index(), window.settings.presets
    )
    for number, (label, voi) in enumerate(choices, start=1):
        key = f"\t{number}" if number <= MAX_PRESET_KEYS else ""
        action = menu.addAction(f"{label}{key}")
        action.triggered.connect(
            lambda _=False, w=voi: window.active_viewport().state.set_window(w)
        )
    menu.addSeparator()
    menu.addAction("Save current window as preset…", window.save_window_preset)


def save_window_preset(window) -> None:
    series, voi = window.current_series(), window.active_viewport().state.window
    if series is None or not isinstance(voi, Window):
        return
    label, ok = QInputDialog.getText(
        window, "Save window preset", f"Name ({series.info.modality}):"
    )
    if ok and label.strip():
        window.settings.presets = add_user_preset(
            window.settings.presets, series.info.modality, label.strip(), voi
        )
        rebuild_window_menu(window)
