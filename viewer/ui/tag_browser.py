"""DICOM tag browser: the current image's header as a tree (sequences expanded), with search.

`dataset_nodes` turns a pydicom Dataset into plain `TagNode`s and `TagNode.matches` decides a
search hit, both Qt-free; the widget only fills a QTreeWidget and hides what does not match.
With "Anonymise on screen" the values of identifying elements (`is_identifying`: every person
name, date and date-time, and the IDs, addresses and institution elements listed in
`IDENTIFYING_KEYWORDS`) read "Anonymised" and a search cannot find them; the file name leaves
the caption.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from pathlib import Path

from pydicom.dataelem import DataElement
from pydicom.dataset import Dataset
from PySide6.QtCore import QObject, Qt, QTimer
from PySide6.QtGui import QAction
from PySide6.QtWidgets import (
    QDockWidget,
    QLabel,
    QLineEdit,
    QTreeWidget,
    QTreeWidgetItem,
    QVBoxLayout,
    QWidget,
)

from viewer.ui import shortcuts
from viewer.ui.overlays import ANONYMISED

MAX_VALUE_CHARS = 200
BINARY_VRS = {"OB", "OD", "OF", "OL", "OV", "OW", "UN"}
COLUMNS = ("Tag", "Name", "VR", "Value")
SEARCH_DELAY_MS = 150  # rebuild once typing pauses
MIN_WIDTH = 460  # the dock opens wide enough for tag, name, VR and the start of the value
NAME_MAX_WIDTH = 220  # a long keyword does not push the value out of sight
IDENTIFYING_VRS = {"PN", "DA", "DT"}  # person names, dates, date-times
IDENTIFYING_KEYWORDS = {
    "AccessionNumber",
    "AdmissionID",
    "BranchOfService",
    "CountryOfResidence",
    "DeviceSerialNumber",
    "InstitutionAddress",
    "InstitutionName",
    "InstitutionalDepartmentName",
    "IssuerOfPatientID",
    "MedicalRecordLocator",
    "MilitaryRank",
    "OtherPatientIDs",
    "OtherPatientIDsSequence",
    "OtherPatientNames",
    "PatientAddress",
    "PatientBirthTime",
    "PatientComments",
    "PatientID",
    "PatientTelephoneNumbers",
    "PerformedProcedureStepID",
    "ReferencedPatientSequence",
    "RegionOfResidence",
    "RequestAttributesSequence",
    "ScheduledProcedureStepID",
    "StationName",
    "StudyID",
}


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


def is_identifying(element: DataElement) -> bool:
    """Whether the element can identify the patient (hidden when anonymised on screen)."""
    return element.VR in IDENTIFYING_VRS or element.keyword in IDENTIFYING_KEYWORDS


def dataset_nodes(dataset: Dataset, anonymise: bool = False) -> tuple[TagNode, ...]:
    """Nodes for the file meta group (when the dataset has one) and every element, in order;
    with `anonymise`, identifying values (and whole identifying sequences) are replaced."""
    meta = getattr(dataset, "file_meta", None) or ()
    return tuple(_element_node(element, anonymise) for element in (*meta, *dataset))


def _element_node(element: DataElement, anonymise: bool) -> TagNode:
    tag = f"({element.tag.group:04X},{element.tag.element:04X})"
    name = element.keyword or element.name
    if anonymise and is_identifying(element):
        return TagNode(tag, name, str(element.VR), ANONYMISED)
    if element.VR == "SQ":
        items = tuple(
            TagNode(f"Item {number}", "", "", "", dataset_nodes(item, anonymise))
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


def filter_nodes(nodes: tuple[TagNode, ...], query: str) -> tuple[TagNode, ...]:
    """What the search shows: a match with its whole subtree, and the parents of deeper matches
    holding only the branches that lead to them."""
    kept = []
    for node in nodes:
        if node.matches(query):
            kept.append(node)
            continue
        children = filter_nodes(node.children, query)
        if children:
            kept.append(replace(node, children=children))
    return tuple(kept)


class TagBrowser(QWidget):
    """Search box over a tree of the header; the tree shows every tag, sequences opened.

    Rows are made only by QTreeWidgetItem constructors, and a search rebuilds the tree rather
    than hiding rows: PySide6 6.12 on CPython 3.11 drops a reference to None on every call of a
    void method (setHidden, addChild, ...), so per-row calls on a large header would use it up.
    """

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
        self.caption.setWordWrap(True)
        self.setMinimumWidth(MIN_WIDTH)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(2, 2, 2, 2)
        layout.addWidget(self.search)
        layout.addWidget(self.tree, 1)
        layout.addWidget(self.caption)
        self._nodes: tuple[TagNode, ...] = ()
        self._debounce = QTimer(self)
        self._debounce.setSingleShot(True)
        self._debounce.setInterval(SEARCH_DELAY_MS)
        self._debounce.timeout.connect(lambda: self.apply_filter(self.search.text()))
        self.search.textChanged.connect(lambda _text: self._debounce.start())

    def set_dataset(
        self, dataset: Dataset | None, caption: str = "", anonymise: bool = False
    ) -> None:
        self._nodes = () if dataset is None else dataset_nodes(dataset, anonymise)
        self.caption.setText(caption or ("" if dataset is not None else "No image."))
        self.apply_filter(self.search.text())
        for column in range(len(COLUMNS) - 1):
            self.tree.resizeColumnToContents(column)
        self.tree.setColumnWidth(1, min(self.tree.columnWidth(1), NAME_MAX_WIDTH))

    def apply_filter(self, query: str) -> None:
        """Show the rows the search keeps (every row for an empty search), all expanded."""
        self._debounce.stop()
        self.tree.clear()
        _add_items(self.tree, filter_nodes(self._nodes, query))
        self.tree.expandAll()

    def visible_tags(self) -> list[str]:
        """Tags of the rows now shown, depth first (what a user would see scrolling down)."""
        shown: list[str] = []
        stack = [self.tree.topLevelItem(i) for i in reversed(range(self.tree.topLevelItemCount()))]
        while stack:
            item = stack.pop()
            shown.append(item.text(0))
            stack.extend(item.child(i) for i in reversed(range(item.childCount())))
        return shown


def _add_items(parent: QTreeWidget | QTreeWidgetItem, nodes: tuple[TagNode, ...]) -> None:
    for node in nodes:
        item = QTreeWidgetItem(parent, [node.tag, node.name, node.vr, node.value])
        _add_items(item, node.children)


class TagBrowserDock(QObject):
    """The browser in a dock that follows the active image; rebuilt only while it is visible."""

    def __init__(self, main_window):
        super().__init__(main_window)
        self.main_window = main_window
        self.browser = TagBrowser()
        self.dock = QDockWidget("DICOM tags", main_window)
        self.dock.setObjectName("TagBrowserDock")
        self.dock.setWidget(self.browser)
        # (SOP Instance UID, anonymised) of the header shown
        self._shown_key: tuple[str, bool] | None = None
        self.dock.visibilityChanged.connect(lambda visible: visible and self.refresh())

    def refresh(self, *_args: object) -> None:
        """Show the active image's header; frames of one multi-frame file share one tree."""
        if not self.dock.isVisible():
            return
        series = self.main_window.current_series()
        if series is None:
            self._shown_key = None
            self.browser.set_dataset(None)
            return
        anonymise = bool(self.main_window.settings.anonymise)
        frame = self.main_window.current_frame_index()
        ref = series.info.frames[frame]
        file_name = "" if anonymise else f"{Path(ref.path).name}, "  # names may carry the patient's
        caption = f"{file_name}frame {frame + 1}"
        if (ref.sop_instance_uid, anonymise) == self._shown_key:
            self.browser.caption.setText(caption)
            return
        self._shown_key = (ref.sop_instance_uid, anonymise)
        self.browser.set_dataset(series.header(frame), caption, anonymise)


def install_tag_browser(main_window) -> TagBrowserDock:
    """A hidden-by-default 'DICOM tags' dock with a Tools menu toggle (Ctrl+T)."""
    installed = TagBrowserDock(main_window)
    main_window.add_dock(installed.dock, Qt.DockWidgetArea.RightDockWidgetArea)
    installed.dock.hide()
    action: QAction = installed.dock.toggleViewAction()
    action.setText("DICOM tags")
    action.setShortcut(shortcuts.key_for("tag_browser"))
    main_window.menu("Tools").addAction(action)
    main_window.imageChanged.connect(installed.refresh)
    main_window.anonymiseChanged.connect(installed.refresh)
    return installed
