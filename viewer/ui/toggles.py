"""Checkable menu entries, built one way: a `Toggle` row says the text, the shortcut command,
the `Settings` field it starts from and is saved to, and what toggling does;
`add_toggle(menu, toggle, settings)` makes the action. The View and AI menus list theirs."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from PySide6.QtGui import QAction

from viewer.ui import shortcuts


@dataclass(frozen=True)
class Toggle:
    text: str
    command: str | None = None  # its key, from viewer/ui/shortcuts.py
    setting: str | None = None  # the Settings field it starts from and is saved to when toggled
    on_toggled: Callable[..., object] | None = None  # given `checked`, after the setting is saved
    checked: bool = False  # how it starts where no setting says
    tip: str = ""


def add_toggle(menu, toggle: Toggle, settings=None) -> QAction:
    """A checkable entry at the end of `menu` (its shortcut, tooltip, setting and slot wired)."""
    action = menu.addAction(toggle.text)
    action.setCheckable(True)
    key = toggle.setting
    action.setChecked(bool(getattr(settings, key)) if key else toggle.checked)
    if toggle.command:
        action.setShortcut(shortcuts.key_for(toggle.command))
    if toggle.tip:
        action.setToolTip(toggle.tip)
    if key:
        action.toggled.connect(lambda on: setattr(settings, key, bool(on)))
    if toggle.on_toggled is not None:
        action.toggled.connect(toggle.on_toggled)
    return action
