"""Help → Keyboard shortcuts lists every shortcut the real window (with its extensions) binds."""

from __future__ import annotations

from collections import Counter

import pytest
from PySide6.QtGui import QAction, QKeySequence

from viewer.ui import shortcuts
from viewer.ui.app import EXTENSIONS

pytestmark = pytest.mark.gui
PORTABLE = QKeySequence.SequenceFormat.PortableText


def _bound_keys(window) -> list[tuple[str, str]]:
    """(key sequence, action text) for every shortcut of every QAction in the window."""
    return [
        (sequence.toString(PORTABLE), action.text())
        for action in window.findChildren(QAction)
        for sequence in action.shortcuts()
        if not sequence.isEmpty()
    ]


def _help_keys(dialog: shortcuts.ShortcutsDialog) -> set[str]:
    table = dialog.table
    listed = set()
    for row in range(table.rowCount()):
        listed |= shortcuts.expand_keys(table.item(row, 0).text())
    return listed


def test_every_action_shortcut_is_listed_in_the_help(qtbot, main_window):
    assert len(main_window.extensions) == len(EXTENSIONS)  # built as `radlens` builds it
    bound = _bound_keys(main_window)
    dialog = shortcuts.ShortcutsDialog(main_window)
    qtbot.addWidget(dialog)
    listed = _help_keys(dialog)
    keys = {key for key, _ in bound}
    assert {"Ctrl+I", "Ctrl+Shift+I", "Shift+H", "L", "Shift+L", "E", "Shift+E"} <= keys
    assert {"Del", "Ctrl+T", "Ctrl+Shift+E", "Ctrl+O", "1", "9"} <= keys
    missing = sorted((key, text) for key, text in bound if key not in listed)
    assert not missing, f"bound but not in Help → Keyboard shortcuts: {missing}"
    twice = [key for key, count in Counter(key for key, _ in bound).items() if count > 1]
    assert not twice, f"ambiguous shortcuts (Qt fires neither): {twice}"


def test_help_entries_expand_to_key_sequences():
    assert shortcuts.expand_keys("1-3") == {"1", "2", "3"}
    assert shortcuts.expand_keys("Down, Right, Wheel down") == {"Down", "Right"}
    assert shortcuts.expand_keys("Left drag, Ctrl+Wheel") == set()
    assert shortcuts.expand_keys("Delete") == {"Del"}


def test_the_help_table_shows_every_column_whole(qtbot):
    dialog = shortcuts.ShortcutsDialog()
    qtbot.addWidget(dialog)
    dialog.show()
    qtbot.waitExposed(dialog)
    table = dialog.table
    assert table.horizontalScrollBar().maximum() == 0  # nothing cut off at the right
    assert table.rowCount() == len(shortcuts.SHORTCUTS)
