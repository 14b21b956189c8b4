"""The segment list and the structured-report panel (widgets only: no I/O, no pixel maths).

`SegmentPanel` lists every segmentation opened, each segment with its colour, label and
algorithm, a check box for visibility and an opacity slider for the selected segments (all of
them when none is selected); `styleChanged` tells the controller to repaint. `ReportPanel`
lists every structured report: its measurement groups (finding, measurements, qualitative
evaluations, comments) in a tree and the whole report as text below.
"""

from __future__ import annotations

from PySide6.QtCore import Qt, Signal
from PySide6.QtGui import QColor, QPixmap
from PySide6.QtWidgets import (
    QHBoxLayout,
    QLabel,
    QPlainTextEdit,
    QSlider,
    QSplitter,
    QTreeWidget,
    QTreeWidgetItem,
    QVBoxLayout,
    QWidget,
)

from viewer import RESEARCH_USE_NOTICE
from viewer.core.seg import DEFAULT_OPACITY, SegStyle

ROLE_KEY = Qt.ItemDataRole.UserRole
AI_NOTE = "Segments and findings made by algorithms: " + RESEARCH_USE_NOTICE


def _notice() -> QLabel:
    label = QLabel(AI_NOTE)
    label.setWordWrap(True)
    label.setStyleSheet("color: #b07000; font-size: 11px;")
    return label


def _swatch(colour: tuple[int, int, int]) -> QPixmap:
    pixmap = QPixmap(14, 14)
    pixmap.fill(QColor(*colour))
    return pixmap


class SegmentPanel(QWidget):
    styleChanged = Signal()

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self._segs: dict[str, object] = {}  # path → Segmentation
        self._visible: dict[tuple[str, int], bool] = {}
        self._opacity: dict[tuple[str, int], float] = {}
        self.tree = QTreeWidget()
        self.tree.setHeaderLabels(["Segment", "Algorithm", "Opacity"])
        self.tree.itemChanged.connect(self._on_item_changed)
        self.tree.itemSelectionChanged.connect(self._show_selected_opacity)
        self.tree.setSelectionMode(QTreeWidget.SelectionMode.ExtendedSelection)
        self.opacity = QSlider(Qt.Orientation.Horizontal)
        self.opacity.setRange(0, 100)
        self.opacity.setValue(round(DEFAULT_OPACITY * 100))
        self.opacity.valueChanged.connect(self._on_opacity)
        self.empty = QLabel("No segmentation opened (File → Open segmentation or report…).")
        self.empty.setWordWrap(True)
        row = QHBoxLayout()
        row.addWidget(QLabel("Opacity"))
        row.addWidget(self.opacity)
        layout = QVBoxLayout(self)
        layout.addWidget(self.empty)
        layout.addWidget(self.tree, 1)
        layout.addLayout(row)
        layout.addWidget(_notice())

    # --- model --------------------------------------------------------------------------------

    def add_segmentation(self, seg) -> None:
        if seg.path in self._segs:
            return
        self._segs[seg.path] = seg
        top = QTreeWidgetItem([seg.description or "Segmentation", seg.seg_type, ""])
        top.setToolTip(0, seg.path)
        self.tree.addTopLevelItem(top)
        for segment in seg.segments:
            key = (seg.path, segment.number)
            self._visible.setdefault(key, not segment.is_background)
            self._opacity.setdefault(key, DEFAULT_OPACITY)
            item = QTreeWidgetItem(
                [f"{segment.number} {segment.label}", segment.algorithm, self._opacity_text(key)]
            )
            item.setData(0, ROLE_KEY, key)
            item.setIcon(0, _swatch(segment.colour))
            item.setToolTip(
                0, " / ".join(p for p in (segment.category, segment.property_type) if p)
            )
            item.setFlags(item.flags() | Qt.ItemFlag.ItemIsUserCheckable)
            item.setCheckState(
                0, Qt.CheckState.Checked if self._visible[key] else Qt.CheckState.Unchecked
            )
            top.addChild(item)
        top.setExpanded(True)
        self.tree.resizeColumnToContents(0)
        self.empty.setVisible(False)

    def clear(self) -> None:
        self._segs.clear()
        self.tree.clear()
        self.empty.setVisible(True)

    def segmentations(self) -> list:
        return list(self._segs.values())

    def styles(self) -> list[SegStyle]:
        """What the controller paints: each segmentation with its segments' visibility/opacity."""
        return [
            SegStyle(
                seg,
                visible={s.number: self._visible[(path, s.number)] for s in seg.segments},
                opacity={s.number: self._opacity[(path, s.number)] for s in seg.segments},
            )
            for path, seg in self._segs.items()
        ]

    def segment_items(self) -> list[QTreeWidgetItem]:
        top = [self.tree.topLevelItem(i) for i in range(self.tree.topLevelItemCount())]
        return [t.child(j) for t in top for j in range(t.childCount())]

    def set_visible(self, path: str, number: int, visible: bool) -> None:
        for item in self.segment_items():
            if item.data(0, ROLE_KEY) == (path, number):
                state = Qt.CheckState.Checked if visible else Qt.CheckState.Unchecked
                item.setCheckState(0, state)

    # --- events ---------------------------------------------------------------------------------

    def _opacity_text(self, key) -> str:
        return f"{round(self._opacity[key] * 100)} %"

    def _on_item_changed(self, item: QTreeWidgetItem, column: int) -> None:
        key = item.data(0, ROLE_KEY)
        if key is None or column != 0:
            return
        visible = item.checkState(0) == Qt.CheckState.Checked
        if self._visible.get(key) != visible:
            self._visible[key] = visible
            self.styleChanged.emit()

    def _targets(self) -> list[QTreeWidgetItem]:
        chosen = [i for i in self.tree.selectedItems() if i.data(0, ROLE_KEY) is not None]
        return chosen or self.segment_items()

    def _show_selected_opacity(self) -> None:
        chosen = [i for i in self.tree.selectedItems() if i.data(0, ROLE_KEY) is not None]
        if chosen:
            self.opacity.blockSignals(True)
            self.opacity.setValue(round(self._opacity[chosen[0].data(0, ROLE_KEY)] * 100))
            self.opacity.blockSignals(False)

    def _on_opacity(self, value: int) -> None:
        self.tree.blockSignals(True)
        for item in self._targets():
            key = item.data(0, ROLE_KEY)
            self._opacity[key] = value / 100.0
            item.setText(2, self._opacity_text(key))
        self.tree.blockSignals(False)
        self.styleChanged.emit()


class ReportPanel(QWidget):
    """Findings of every SR opened, and the selected report's whole text."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self._reports: dict[str, object] = {}
        self.anonymise = False
        self.tree = QTreeWidget()
        self.tree.setHeaderLabels(["Report / finding", "Value"])
        self.tree.currentItemChanged.connect(self._show_text)
        self.text = QPlainTextEdit()
        self.text.setReadOnly(True)
        self.empty = QLabel("No structured report opened.")
        splitter = QSplitter(Qt.Orientation.Vertical)
        splitter.addWidget(self.tree)
        splitter.addWidget(self.text)
        layout = QVBoxLayout(self)
        layout.addWidget(self.empty)
        layout.addWidget(splitter, 1)
        layout.addWidget(_notice())

    def add_report(self, report) -> None:
        if report.path in self._reports:
            return
        self._reports[report.path] = report
        status = ", ".join(p for p in (report.completion, report.verification) if p)
        top = QTreeWidgetItem([report.title, status])
        top.setData(0, ROLE_KEY, report.path)
        top.setToolTip(0, report.kind)  # not the path: folders may be named after the patient
        self.tree.addTopLevelItem(top)
        for group in report.groups:
            node = QTreeWidgetItem([group.title, group.algorithm])
            node.setData(0, ROLE_KEY, report.path)
            for name, value in _group_rows(group):
                child = QTreeWidgetItem([name, value])
                child.setData(0, ROLE_KEY, report.path)
                node.addChild(child)
            top.addChild(node)
        top.setExpanded(True)
        self.empty.setVisible(False)
        if self.tree.currentItem() is None:
            self.tree.setCurrentItem(top)

    def reports(self) -> list:
        return list(self._reports.values())

    def clear(self) -> None:
        self._reports.clear()
        self.tree.clear()
        self.text.clear()
        self.empty.setVisible(True)

    def set_anonymise(self, anonymise: bool) -> None:
        """Names and dates in the reports' text follow "Anonymise on screen" at once."""
        self.anonymise = anonymise
        self._show_text(self.tree.currentItem())

    def _show_text(self, item: QTreeWidgetItem | None, _previous=None) -> None:
        report = self._reports.get(item.data(0, ROLE_KEY)) if item is not None else None
        self.text.setPlainText(report.text(self.anonymise) if report is not None else "")


def _group_rows(group) -> list[tuple[str, str]]:
    rows = []
    for measurement in group.measurements:
        name, _, value = measurement.text().partition(": ")
        rows.append((name, value))
    rows.extend(group.evaluations)
    rows.extend(("Comment", c.partition(": ")[2] or c) for c in group.comments)
    rows.extend((f"Graphic {g.value_type}", g.graphic_type) for g in group.graphics)
    if group.segment:
        rows.append(("Segment", f"{group.segment[1]} of {group.segment[0]}"))
    return rows
