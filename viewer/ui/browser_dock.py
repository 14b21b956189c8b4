"""Study/series browser dock: patient → study → series tree with thumbnails and details.

Signals: `seriesActivated(key)` when a series is clicked. Series items can be dragged onto a
viewport (MIME type `viewport.SERIES_MIME`, payload the series key). The core's warnings show
as a ⚠ mark on their series and in the details pane. `set_anonymise(True)` hides names and IDs.
"""

from __future__ import annotations

import numpy as np
from PySide6.QtCore import QMimeData, Qt, Signal
from PySide6.QtGui import QIcon, QImage, QPixmap
from PySide6.QtWidgets import (
    QAbstractItemView,
    QDockWidget,
    QSplitter,
    QTextBrowser,
    QTreeWidget,
    QTreeWidgetItem,
)

from viewer.core.formatting import description, sex_age, transfer_syntax_name
from viewer.ui.overlays import ANONYMISED, format_date, format_person_name
from viewer.ui.viewport import SERIES_MIME

KEY_ROLE = Qt.ItemDataRole.UserRole
WARNING_MARK = "⚠ "


def array_to_qimage(image: np.ndarray) -> QImage:
    """uint8 HxW or HxWx3 → a QImage that owns a copy of the pixels."""
    image = np.ascontiguousarray(image)
    height, width = image.shape[:2]
    if image.ndim == 2:
        fmt, stride = QImage.Format.Format_Grayscale8, width
    else:
        fmt, stride = QImage.Format.Format_RGB888, width * 3
    return QImage(image.data, width, height, stride, fmt).copy()


def series_label(info) -> str:
    """ "4: MR t1_fl2d_sag [35]"; a split series says first what sets the stack apart
    ("6: time point 2 · MR REST1 w SMS… [6]") so an elided row still tells them apart."""
    number = f"{info.number}: " if info.number is not None else ""
    mark = WARNING_MARK if info.warnings else ""
    stack = f"{info.stack_label} · " if getattr(info, "stack_label", "") else ""
    text = description(info.description) or "(no description)"
    kind = f"{info.modality} " if info.modality else ""
    return f"{mark}{number}{stack}{kind}{text} [{len(info.frames)}]"


def series_details(info, anonymise: bool) -> str:
    study, patient = info.study, info.study.patient
    name = ANONYMISED if anonymise else format_person_name(patient.name)
    pid = "" if anonymise else str(patient.patient_id or "")
    rows = [
        ("Patient", name),
        ("Patient ID", pid),
        ("Age, sex", sex_age(patient.sex, patient.age, patient.birth_date, study.date)),
        ("Study date", "" if anonymise else format_date(study.date)),
        ("Study", description(study.description)),
        ("Accession", "" if anonymise else str(study.accession_number or "")),
        (
            "Series",
            f"{'' if info.number is None else info.number} {description(info.description)}".strip(),
        ),
        ("Modality", info.modality),
        ("Images", f"{len(info.frames)} × {info.columns}×{info.rows}"),
        ("Photometric", info.photometric),
        ("Transfer syntax", transfer_syntax_name(info.transfer_syntax)),
    ]
    html = "".join(f"<tr><td><b>{k}</b></td><td>{_escape(v)}</td></tr>" for k, v in rows if v)
    warnings = "".join(f"<li>{_escape(w)}</li>" for w in info.warnings)
    if warnings:
        html += f"</table><p><b>Warnings</b></p><ul>{warnings}</ul>"
        return f"<table>{html}"
    return f"<table>{html}</table>"


def _escape(text) -> str:
    return str(text).replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def _labelled_item(parent, text: str) -> QTreeWidgetItem:
    """A patient or study row; the tooltip keeps the whole text when the dock elides it."""
    item = QTreeWidgetItem(parent, [text])
    item.setToolTip(0, text)
    return item


class _SeriesTree(QTreeWidget):
    """Tree whose series items drag out as series keys."""

    def mimeData(self, items):  # noqa: N802 - Qt API
        keys = [item.data(0, KEY_ROLE) for item in items if item.data(0, KEY_ROLE)]
        if not keys:
            return None
        data = QMimeData()
        data.setData(SERIES_MIME, keys[0].encode("utf-8"))
        return data

    def mimeTypes(self):  # noqa: N802 - Qt API
        return [SERIES_MIME]


class BrowserDock(QDockWidget):
    seriesActivated = Signal(str)

    def __init__(self, parent=None) -> None:
        super().__init__("Studies", parent)
        self.setObjectName("browser_dock")
        self.tree = _SeriesTree()
        self.tree.setHeaderHidden(True)
        self.tree.setIconSize(QPixmap(64, 64).size())
        self.tree.setDragEnabled(True)
        self.tree.setDragDropMode(QAbstractItemView.DragDropMode.DragOnly)
        self.details = QTextBrowser()
        splitter = QSplitter(Qt.Orientation.Vertical)
        splitter.addWidget(self.tree)
        splitter.addWidget(self.details)
        splitter.setSizes([400, 200])
        self.setWidget(splitter)
        self.setMinimumWidth(300)
        self._index = None
        self._items: dict[str, QTreeWidgetItem] = {}
        self._anonymise = False
        self.tree.currentItemChanged.connect(self._on_current)
        self.tree.itemClicked.connect(self._on_clicked)

    def set_index(self, index) -> None:
        self._index = index
        self._rebuild()

    def set_anonymise(self, anonymise: bool) -> None:
        self._anonymise = anonymise
        self._rebuild()

    def set_thumbnail(self, key: str, image: np.ndarray) -> None:
        item = self._items.get(key)
        if item is not None:
            item.setIcon(0, QIcon(QPixmap.fromImage(array_to_qimage(image))))

    def select_series(self, key: str) -> None:
        item = self._items.get(key)
        if item is not None:
            self.tree.blockSignals(True)
            self.tree.setCurrentItem(item)
            self.tree.blockSignals(False)
            self._show_details(key)

    def series_keys(self) -> list[str]:
        return list(self._items)

    def _rebuild(self) -> None:
        """Refill the tree; the series selected before stays selected with its details shown,
        and the details pane is emptied when that series is gone."""
        selected = self.selected_key()
        icons = {key: item.icon(0) for key, item in self._items.items()}
        self.tree.clear()
        self._items.clear()
        self.details.clear()
        if self._index is None:
            return
        for patient in self._index.patients:
            patient_item = _labelled_item(self.tree, self._patient_label(patient))
            for study in patient.studies:
                study_item = _labelled_item(patient_item, self._study_label(study))
                for info in study.series:
                    self._add_series(study_item, info, icons.get(info.key))
        self.tree.expandAll()
        if selected in self._items:
            self.select_series(selected)

    def selected_key(self) -> str | None:
        item = self.tree.currentItem()
        return item.data(0, KEY_ROLE) if item is not None else None

    def _add_series(self, parent: QTreeWidgetItem, info, icon: QIcon | None) -> None:
        item = QTreeWidgetItem(parent, [series_label(info)])
        item.setData(0, KEY_ROLE, info.key)
        item.setFlags(item.flags() | Qt.ItemFlag.ItemIsDragEnabled)
        item.setToolTip(0, "\n".join([series_label(info), *info.warnings]))
        if icon is not None:
            item.setIcon(0, icon)
        self._items[info.key] = item

    def _patient_label(self, patient) -> str:
        if self._anonymise:
            return ANONYMISED
        name = format_person_name(patient.name) or "(no name)"
        return f"{name} ({patient.patient_id})" if patient.patient_id else name

    def _study_label(self, study) -> str:
        date = "" if self._anonymise else format_date(study.date)
        return " ".join(v for v in (date, description(study.description) or "(study)") if v)

    def _on_current(self, current, _previous) -> None:
        key = current.data(0, KEY_ROLE) if current is not None else None
        if key:
            self._show_details(key)

    def _on_clicked(self, item, _column) -> None:
        key = item.data(0, KEY_ROLE)
        if key:
            self.seriesActivated.emit(key)

    def _show_details(self, key: str) -> None:
        if self._index is not None:
            self.details.setHtml(series_details(self._index.find_series(key), self._anonymise))
