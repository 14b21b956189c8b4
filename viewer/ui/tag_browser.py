"""DICOM tag browser: the current image's header as a tree (sequences expanded), with search.

`dataset_nodes` turns a pydicom Dataset into plain `TagNode`s and `TagNode.matches` decides a
search hit, both Qt-free; the widget only fills a QTreeWidget and hides what does not match.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from pydicom.dataelem import DataElement
from pydicom.dataset import Dataset
from PySide6.QtCore import QObject, Qt
from PySide6.QtGui import QAction, QKeySequence
from PySide6.QtWidgets import (
    QDockWidget,
    QLabel,
    QLineEdit,
    QTreeWidget,
    QTreeWidgetItem,
    QVBoxLayout,
    QWidget,
)

MAX_VALUE_CHARS = 200
BINARY_VRS = {"OB", "OD", "OF", "OL", "OV", "OW", "UN"}
COLUMNS = ("Tag", "Name", "VR", "Value")


@dataclass(frozen=True)
class TagNode:
    tag: str  # "(0010,0010)", or "Item 1" for a sequence item
    name: str
    vr: str
    value: str
    children: tuple[TagNode, ...] = field(default=())

    def matches(self, query: str) -> bool:
        """Case-insensitive hit on tag (with or without punctuation), keyword/name, or value."""
        needle = query.strip().lower()
        if not needle:
            return True
        compact = needle.replace("(", "").replace(")", "").replace(",", "").replace(" ", "")
        tag_digits = self.tag.lower().replace("(", "").replace(")", "").replace(",", "")
        haystacks = (self.tag.lower(), self.name.lower(), self.value.lower())
        return any(needle in text for text in haystacks) or (
            bool(compact) and compact in tag_digits
        )


def dataset_nodes(dataset: Dataset) -> tuple[TagNode, ...]:
    """Nodes for the file meta group (when the dataset has one) and every element, in order."""
    meta = getattr(dataset, "file_meta", None) or ()
    return tuple(_element_node(element) for element in (*meta, *dataset))


def _element_node(element: DataElement) -> TagNode:
    tag = f"({element.tag.group:04X},{element.tag.element:04X})"
    name = element.keyword or element.name
    if element.VR == "SQ":
        items = tuple(
            TagNode(f"Item {number}", "", "", "", dataset_nodes(item))
            for number, item in enumerate(element.value or (), start=1)
        )
        return TagNode(tag, name, "SQ", f"{len(items)} item(s)", items)
    return TagNode(tag, name, str(element.VR), _value_text(element))


def _value_text(element: DataElement) -> str:
    value = element.value
    if element.VR in BINARY_VRS or isinstance(value, bytes | bytearray):
        return f"<{len(value or b'')} bytes>"
    text = "" if value is None else str(value)
    return text if len(text) <= MAX_VALUE_CHARS else text[: MAX_VALUE_CHARS - 1] + "…"


class TagBrowser(QWidget):
    """Search box over a tree of the header; the tree shows every tag, sequences opened."""

    def __init__(self, parent: QWidget | None = None):
        super().__init__(parent)
        self.setObjectName("TagBrowser")
        self.search = QLineEdit()
        self.search.setPlaceholderText("Search keyword, tag (0010,0020) or value")
        self.search.setClearButtonEnabled(True)
        self.tree = QTreeWidget()
        self.tree.setColumnCount(len(COLUMNS))
        self.tree.setHeaderLabels(COLUMNS)
        self.tree.setUniformRowHeights(True)
        self.caption = QLabel("No image.")
        layout = QVBoxLayout(self)
        layout.setContentsMargins(2, 2, 2, 2)
        layout.addWidget(self.search)
        layout.addWidget(self.tree, 1)
        layout.addWidget(self.caption)
        self.search.textChanged.connect(self.apply_filter)

    def set_dataset(self, dataset: Dataset | None, caption: str = "") -> None:
        self.tree.clear()
        if dataset is None:
            self.caption.setText(caption or "No image.")
            return
        for node in dataset_nodes(dataset):
            self.tree.addTopLevelItem(self._build_item(node))
        self.tree.expandAll()
        for column in range(len(COLUMNS) - 1):
            self.tree.resizeColumnToContents(column)
        self.caption.setText(caption)
        self.apply_filter(self.search.text())

    def _build_item(self, node: TagNode) -> QTreeWidgetItem:
        item = QTreeWidgetItem([node.tag, node.name, node.vr, node.value])
        item.setToolTip(3, node.value)
        for child in node.children:
            item.addChild(self._build_item(child))
        return item

    def apply_filter(self, query: str) -> None:
        """Hide rows that neither match nor hold a match; a match keeps its whole subtree."""
        for index in range(self.tree.topLevelItemCount()):
            self._filter_item(self.tree.topLevelItem(index), query)

    def _filter_item(self, item: QTreeWidgetItem, query: str) -> bool:
        if _row_node(item).matches(query):
            _show_subtree(item)
            return True
        child_hits = [self._filter_item(item.child(i), query) for i in range(item.childCount())]
        visible = any(child_hits)
        item.setHidden(not visible)
        return visible

    def visible_tags(self) -> list[str]:
        """Tags of the rows now shown, depth first (what a user would see scrolling down)."""
        shown: list[str] = []
        stack = [self.tree.topLevelItem(i) for i in reversed(range(self.tree.topLevelItemCount()))]
        while stack:
            item = stack.pop()
            if item.isHidden():
                continue
            shown.append(item.text(0))
            stack.extend(item.child(i) for i in reversed(range(item.childCount())))
        return shown


def _row_node(item: QTreeWidgetItem) -> TagNode:
    return TagNode(*(item.text(column) for column in range(len(COLUMNS))))


def _show_subtree(item: QTreeWidgetItem) -> None:
    item.setHidden(False)
    for index in range(item.childCount()):
        _show_subtree(item.child(index))


TAG_BROWSER_SHORTCUT = "Ctrl+T"


class TagBrowserDock(QObject):
    """The browser in a dock that follows the active image; rebuilt only while it is visible."""

    def __init__(self, main_window):
        super().__init__(main_window)
        self.main_window = main_window
        self.browser = TagBrowser()
        self.dock = QDockWidget("DICOM tags", main_window)
        self.dock.setObjectName("TagBrowserDock")
        self.dock.setWidget(self.browser)
        self._shown_key: tuple | None = None
        self.dock.visibilityChanged.connect(lambda visible: visible and self.refresh())

    def refresh(self, *_args: object) -> None:
        if not self.dock.isVisible():
            return
        series = self.main_window.current_series()
        frame = self.main_window.current_frame_index()
        key = None if series is None else (series.info.key, frame)
        if key == self._shown_key:
            return
        self._shown_key = key
        if series is None:
            self.browser.set_dataset(None)
            return
        name = Path(series.info.frames[frame].path).name
        self.browser.set_dataset(series.header(frame), f"{name}, frame {frame + 1}")


def install_tag_browser(main_window) -> TagBrowserDock:
    """A hidden-by-default 'DICOM tags' dock with a Tools menu toggle (Ctrl+T)."""
    installed = TagBrowserDock(main_window)
    main_window.add_dock(installed.dock, Qt.DockWidgetArea.RightDockWidgetArea)
    installed.dock.hide()
    action: QAction = installed.dock.toggleViewAction()
    action.setText("DICOM tags")
    action.setShortcut(QKeySequence(TAG_BROWSER_SHORTCUT))
    main_window.menu("Tools").addAction(action)
    main_window.imageChanged.connect(installed.refresh)
    return installed
