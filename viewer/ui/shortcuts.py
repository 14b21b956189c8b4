"""Keyboard shortcuts, declared once: every action takes its keys from `key_for(command)`,
the viewport reads the navigation keys, and Help → Keyboard shortcuts lists the same table, so
the help cannot drift from what the keys do."""

from __future__ import annotations

from dataclasses import dataclass

from PySide6.QtCore import Qt
from PySide6.QtGui import QKeySequence
from PySide6.QtWidgets import QDialog, QDialogButtonBox, QTableWidget, QTableWidgetItem, QVBoxLayout


@dataclass(frozen=True)
class Shortcut:
    command: str
    keys: str  # QKeySequence text; several keys separated by ", "
    description: str


# Slice navigation, handled by the focused viewport (key → frame step).
NAVIGATION_KEYS: dict[int, str] = {
    Qt.Key.Key_Down: "next",
    Qt.Key.Key_Right: "next",
    Qt.Key.Key_Up: "previous",
    Qt.Key.Key_Left: "previous",
    Qt.Key.Key_PageDown: "page_down",
    Qt.Key.Key_PageUp: "page_up",
    Qt.Key.Key_Home: "first",
    Qt.Key.Key_End: "last",
}
PAGE_STEP = 10
DIALOG_HEIGHT = 640  # Help → Keyboard shortcuts

SHORTCUTS: tuple[Shortcut, ...] = (
    Shortcut("open_files", "Ctrl+O", "Open DICOM files (.dcm, .zip, DICOMDIR)"),
    Shortcut("open_folder", "Ctrl+Shift+O", "Open a folder"),
    Shortcut("export_png", "Ctrl+E", "Export the current view as PNG"),
    Shortcut("export_report", "Ctrl+Shift+E", "Export a report (PDF, DICOM SC/SR)"),
    Shortcut("quit", "Ctrl+Q", "Quit"),
    Shortcut("next", "Down, Right, Wheel down", "Next slice"),
    Shortcut("previous", "Up, Left, Wheel up", "Previous slice"),
    Shortcut("page", "PgDown, PgUp", f"Move {PAGE_STEP} slices"),
    Shortcut("ends", "Home, End", "First / last slice"),
    Shortcut("cine", "Space", "Play / stop cine"),
    Shortcut("presets", "1-9", "Window presets for the modality (see View → Window)"),
    Shortcut("auto_window", "A", "Automatic window"),
    Shortcut("invert", "I", "Invert grey scale"),
    Shortcut("fit", "F", "Fit image to viewport"),
    Shortcut("actual_size", "Ctrl+1", "1:1 (one image pixel per screen pixel)"),
    Shortcut("rotate", "R", "Rotate 90° clockwise"),
    Shortcut("flip_h", "H", "Flip horizontally"),
    Shortcut("flip_v", "V", "Flip vertically"),
    Shortcut("reset", "Escape", "Reset window, zoom, rotation and flips"),
    Shortcut("overlays", "O", "Show / hide corner overlays"),
    Shortcut("overlay_planes", "Shift+O", "Show / hide overlay planes (the file's 60xx graphics)"),
    Shortcut("anonymise", "Ctrl+Shift+A", "Anonymise on screen"),
    Shortcut("pan_zoom", "Left drag, Ctrl+Wheel", "Pan / zoom (a measurement tool draws)"),
    Shortcut("window_level", "Right drag", "Window / level (x: width, y: centre)"),
    Shortcut("length", "L", "Measure a length"),
    Shortcut("angle", "Shift+L", "Measure an angle"),
    Shortcut("ellipse", "E", "Ellipse ROI"),
    Shortcut("rectangle", "Shift+E", "Rectangle ROI"),
    Shortcut("delete_measurement", "Delete", "Delete the selected measurement"),
    Shortcut("tag_browser", "Ctrl+T", "Show / hide the DICOM tags"),
    Shortcut("analyze", "Ctrl+I", "AI: analyse the image"),
    Shortcut("cancel_analysis", "Ctrl+Shift+I", "AI: cancel the analysis"),
    Shortcut("toggle_heatmap", "Shift+H", "AI: show / hide the heatmap"),
)


TABLE_START = "<!-- shortcuts: generated from viewer/ui/shortcuts.py -->"
TABLE_END = "<!-- end of shortcuts -->"


def markdown_table() -> str:
    """The table above in Markdown, as docs/USER_GUIDE.md carries it between TABLE_START and
    TABLE_END (`python scripts/update_shortcut_table.py` writes it there)."""
    rows = [f"| {s.keys} | {s.description} |" for s in SHORTCUTS]
    return "\n".join(["| keys | action |", "|---|---|", *rows])


def with_markdown_table(document: str) -> str:
    """`document` with the text between the table markers replaced by `markdown_table()`."""
    head, start, rest = document.partition(TABLE_START)
    _, end, tail = rest.partition(TABLE_END)
    if not start or not end:
        raise ValueError("the shortcut table markers are missing")
    return f"{head}{start}\n{markdown_table()}\n{end}{tail}"


def key_for(command: str) -> QKeySequence:
    """The key sequence an action for `command` uses (the first of its keys)."""
    for shortcut in SHORTCUTS:
        if shortcut.command == command:
            return QKeySequence(shortcut.keys.split(", ")[0])
    raise KeyError(command)


def expand_keys(keys: str) -> set[str]:
    """The key sequences one help entry stands for, in portable text ("1-9": each digit;
    mouse gestures such as "Left drag" are no key sequence and give nothing)."""
    expanded = set()
    for part in keys.split(", "):
        first, dash, last = part.partition("-")
        if dash and first.isdigit() and last.isdigit():
            expanded.update(str(n) for n in range(int(first), int(last) + 1))
        else:
            expanded.add(QKeySequence(part).toString(QKeySequence.SequenceFormat.PortableText))
    expanded.discard("")
    return expanded


class ShortcutsDialog(QDialog):
    """Help → Keyboard shortcuts: the table above, read-only."""

    def __init__(self, parent=None) -> None:
        super().__init__(parent)
        self.setWindowTitle("Keyboard shortcuts")
        self.table = table = QTableWidget(len(SHORTCUTS), 2, self)
        table.setHorizontalHeaderLabels(["Keys", "Action"])
        for row, shortcut in enumerate(SHORTCUTS):
            table.setItem(row, 0, QTableWidgetItem(shortcut.keys))
            table.setItem(row, 1, QTableWidgetItem(shortcut.description))
        table.setEditTriggers(QTableWidget.EditTrigger.NoEditTriggers)
        table.verticalHeader().hide()
        table.resizeColumnsToContents()
        table.horizontalHeader().setStretchLastSection(True)
        buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Close, parent=self)
        buttons.rejected.connect(self.reject)
        layout = QVBoxLayout(self)
        layout.addWidget(table)
        layout.addWidget(buttons)
        self.resize(_full_width(table, layout), DIALOG_HEIGHT)


def _full_width(table: QTableWidget, layout: QVBoxLayout) -> int:
    """A dialog width that shows every column whole (no sideways scrolling)."""
    margins = layout.contentsMargins()
    scroll_bar = table.verticalScrollBar().sizeHint().width()
    chrome = 2 * table.frameWidth() + scroll_bar + margins.left() + margins.right()
    return table.horizontalHeader().length() + chrome + 8
