"""The PACS dock: nodes, Echo, search, results (patient → study → series with counts),
Retrieve with progress and Cancel, Send. `install_pacs(window)` adds it (View menu toggle).

All network work runs in `PacsRunner`'s thread as jobs built from `viewer.core.pacs`; this
module only reads fields and shows results. Retrieved studies land in the local cache
(`RetrievalCache`, size limit from the settings) and join the open session through
`window.add_paths` (the study on screen stays open).
"""

from __future__ import annotations

from PySide6.QtCore import Qt
from PySide6.QtWidgets import (
    QComboBox,
    QDialog,
    QDialogButtonBox,
    QDockWidget,
    QFileDialog,
    QFormLayout,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QProgressBar,
    QPushButton,
    QTreeWidget,
    QTreeWidgetItem,
    QVBoxLayout,
    QWidget,
)

from viewer.core.errors import RadLensError
from viewer.core.formatting import description
from viewer.core.pacs.client import find_tree, open_client, retrieve, send
from viewer.core.pacs.query import Query
from viewer.core.pacs.retrieve import RetrievalCache
from viewer.core.pacs.servers import parse_server, save_secret
from viewer.ui.addons import PACS
from viewer.ui.overlays import ANONYMISED, format_date, format_person_name
from viewer.ui.pacs_worker import PacsRunner

UID_ROLE = Qt.ItemDataRole.UserRole  # (study UID, series UID or "")
SEARCH_FIELDS = (
    ("patient_id", "Patient ID"),
    ("patient_name", "Patient name (* ?)"),
    ("modality", "Modality"),
    ("study_date", "Study date (YYYYMMDD-YYYYMMDD)"),
    ("accession", "Accession"),
)


class NodeDialog(QDialog):
    """Name, address, CA file and (kept in the secrets file) a password or token."""

    def __init__(self, parent=None) -> None:
        super().__init__(parent)
        self.setWindowTitle("Add PACS node")
        form = QFormLayout(self)
        self.name, self.url, self.ca_file = QLineEdit(), QLineEdit(), QLineEdit()
        self.url.setPlaceholderText("dicom://AET@host:104 or https://user@host/dicom-web")
        self.secret_kind = QComboBox()
        self.secret_kind.addItems(["none", "password (basic)", "token (bearer)"])
        self.secret = QLineEdit()
        self.secret.setEchoMode(QLineEdit.EchoMode.Password)
        for label, widget in (
            ("Name", self.name),
            ("Address", self.url),
            ("CA file (TLS)", self.ca_file),
            ("Authentication", self.secret_kind),
            ("Secret", self.secret),
        ):
            form.addRow(label, widget)
        buttons = QDialogButtonBox(
            QDialogButtonBox.StandardButton.Ok | QDialogButtonBox.StandardButton.Cancel
        )
        buttons.accepted.connect(self.accept)
        buttons.rejected.connect(self.reject)
        form.addRow(buttons)

    def node(self) -> dict:
        return {
            "name": self.name.text().strip(),
            "url": self.url.text().strip(),
            "ca_file": self.ca_file.text().strip(),
        }

    def save_secret(self) -> None:
        kind, value = self.secret_kind.currentIndex(), self.secret.text()
        save_secret(
            self.node()["name"],
            password=value if kind == 1 else "",
            token=value if kind == 2 else "",
        )


class PacsPanel(QDockWidget):
    def __init__(self, window) -> None:
        super().__init__("PACS", window)
        self.setObjectName("pacs_dock")
        self.window_ = window
        self.settings = window.settings
        self.runner = PacsRunner(self)
        self._on_result = None
        self._shown_tree = None  # the last search's results, redrawn when anonymising changes
        self._build()
        self._connect()
        self._refresh_nodes()

    # --- assembly ------------------------------------------------------------------------------

    def _build(self) -> None:
        body = QWidget()
        layout = QVBoxLayout(body)
        nodes = QHBoxLayout()
        self.node_box = QComboBox()
        self.add_button, self.remove_button = QPushButton("Add…"), QPushButton("Remove")
        self.echo_button = QPushButton("Echo")
        for widget in (self.node_box, self.add_button, self.remove_button, self.echo_button):
            nodes.addWidget(widget)
        nodes.setStretch(0, 1)
        layout.addLayout(nodes)
        form = QFormLayout()
        self.fields = {}
        for key, label in SEARCH_FIELDS:
            self.fields[key] = QLineEdit()
            form.addRow(label, self.fields[key])
        layout.addLayout(form)
        self.search_button = QPushButton("Search")
        layout.addWidget(self.search_button)
        self.results = QTreeWidget()
        self.results.setHeaderLabels(["Patient / study / series", "Date", "Modality", "Images"])
        layout.addWidget(self.results, 1)
        actions = QHBoxLayout()
        self.retrieve_button = QPushButton("Retrieve")
        self.send_series_button = QPushButton("Send current series")
        self.send_files_button = QPushButton("Send files…")
        self.cancel_button = QPushButton("Cancel")
        for widget in (
            self.retrieve_button,
            self.send_series_button,
            self.send_files_button,
            self.cancel_button,
        ):
            actions.addWidget(widget)
        layout.addLayout(actions)
        self.progress = QProgressBar()
        self.status = QLabel("")
        self.status.setWordWrap(True)
        layout.addWidget(self.progress)
        layout.addWidget(self.status)
        self.setWidget(body)
        self._set_busy(False)

    def _connect(self) -> None:
        self.add_button.clicked.connect(self.add_node)
        self.remove_button.clicked.connect(self.remove_node)
        self.echo_button.clicked.connect(self.echo)
        self.search_button.clicked.connect(self.search)
        self.retrieve_button.clicked.connect(self.retrieve_selected)
        self.send_series_button.clicked.connect(self.send_current_series)
        self.send_files_button.clicked.connect(self.choose_files_to_send)
        self.cancel_button.clicked.connect(self.runner.cancel)
        self.window_.anonymiseChanged.connect(self._redraw_results)
        self.runner.progress.connect(self._on_progress)
        self.runner.finished.connect(self._on_finished)
        self.runner.failed.connect(lambda message: self._say(f"Failed: {message}"))
        self.runner.cancelled.connect(lambda message: self._say(f"Cancelled: {message}"))
        self.runner.busyChanged.connect(self._set_busy)
        self.window_.aboutToClose.connect(self.runner.shutdown)

    # --- nodes ---------------------------------------------------------------------------------

    def _refresh_nodes(self) -> None:
        self.node_box.clear()
        for node in self.settings.pacs_nodes:
            self.node_box.addItem(node.get("name") or node.get("url", ""))

    def add_node(self, node: dict | None = None) -> None:
        """Add a node from the dialog (or, from code, a ready dict)."""
        if not isinstance(node, dict):
            dialog = NodeDialog(self)
            if dialog.exec() != QDialog.DialogCode.Accepted:
                return
            node = dialog.node()
            try:
                parse_server(node["url"])
            except RadLensError as exc:
                self._say(str(exc))
                return
            dialog.save_secret()
        node.setdefault("name", node["url"])
        self.settings.pacs_nodes = [
            n for n in self.settings.pacs_nodes if n.get("name") != node["name"]
        ] + [node]
        self._refresh_nodes()
        self.node_box.setCurrentIndex(self.node_box.count() - 1)

    def remove_node(self) -> None:
        index = self.node_box.currentIndex()
        if index >= 0:
            name = self.settings.pacs_nodes[index].get("name", "")
            save_secret(name)
            del self.settings.pacs_nodes[index]
            self._refresh_nodes()

    def _client(self):
        index = self.node_box.currentIndex()
        if index < 0:
            raise RadLensError("no PACS node: add one first")
        node = self.settings.pacs_nodes[index]
        server = parse_server(
            node["url"], ca_file=node.get("ca_file", ""), name=node.get("name", "")
        )
        return open_client(server, self.settings.pacs_aet)

    # --- actions (each one job on the PACS thread) ---------------------------------------------

    def _start(self, what: str, job, on_result) -> None:
        try:
            client = self._client()
        except RadLensError as exc:
            self._say(str(exc))
            return
        self._on_result = on_result
        self._say(f"{what}…")
        self.runner.start(lambda progress, cancel: job(client, progress, cancel))

    def echo(self) -> None:
        self._start(
            "Echo", lambda c, _p, _x: c.echo() or c.label, lambda label: self._say(f"{label}: OK")
        )

    def query(self) -> Query:
        return Query(**{key: field.text().strip() for key, field in self.fields.items()})

    def search(self) -> None:
        query = self.query()
        self._start("Searching", lambda c, _p, _x: find_tree(c, query), self.show_results)

    def retrieve_selected(self) -> None:
        item = self.results.currentItem()
        uids = item.data(0, UID_ROLE) if item is not None else None
        if not uids:
            self._say("Select a study or a series to retrieve.")
            return
        study_uid, series_uid = uids
        cache = RetrievalCache(max_bytes=int(self.settings.pacs_cache_gb) * 1024**3)

        def job(client, progress, cancel):
            result = retrieve(client, study_uid, cache.root, series_uid, progress, cancel)
            cache.touch(result.studies)
            cache.trim(keep=result.studies)
            return result

        self._start("Retrieving", job, self._on_retrieved)

    def send_current_series(self) -> None:
        series = self.window_.current_series()
        if series is None:
            self._say("No series on screen to send.")
            return
        self.send_paths(sorted({frame.path for frame in series.info.frames}))

    def choose_files_to_send(self) -> None:
        paths, _ = QFileDialog.getOpenFileNames(self, "Send to PACS", self.settings.last_folder)
        if paths:
            self.send_paths(paths)

    def send_paths(self, paths: list[str]) -> None:
        self._start(
            "Sending",
            lambda c, progress, cancel: send(c, paths, progress, cancel),
            lambda count: self._say(f"{count} instance(s) sent."),
        )

    # --- results -------------------------------------------------------------------------------

    def _redraw_results(self) -> None:
        if self._shown_tree is not None:
            self.show_results(self._shown_tree)

    def show_results(self, tree) -> None:
        self._shown_tree = tree
        self.results.clear()
        patients: dict[str, QTreeWidgetItem] = {}
        for study, series_rows in tree:
            key = f"{study.get('PatientID', '')}|{study.get('PatientName', '')}"
            if key not in patients:
                patients[key] = QTreeWidgetItem(self.results, [self._patient_label(study)])
            study_item = QTreeWidgetItem(
                patients[key],
                [
                    description(study.get("StudyDescription", "")) or "(study)",
                    "" if self.settings.anonymise else format_date(study.get("StudyDate", "")),
                    "/".join(study.get("ModalitiesInStudy", [])),
                    str(study.get("NumberOfStudyRelatedInstances", "")),
                ],
            )
            study_uid = study["StudyInstanceUID"]
            study_item.setData(0, UID_ROLE, (study_uid, ""))
            for row in series_rows:
                number = row.get("SeriesNumber")
                series_item = QTreeWidgetItem(
                    study_item,
                    [
                        f"{'' if number is None else number} "
                        f"{description(row.get('SeriesDescription', ''))}".strip(),
                        "",
                        row.get("Modality", ""),
                        str(row.get("NumberOfSeriesRelatedInstances", "")),
                    ],
                )
                series_item.setData(0, UID_ROLE, (study_uid, row.get("SeriesInstanceUID", "")))
        self.results.expandAll()
        self._say(f"{len(tree)} study(ies) found.")

    def _patient_label(self, study: dict) -> str:
        """Like the Studies browser: names, IDs and dates hidden when anonymising on screen."""
        if self.settings.anonymise:
            return ANONYMISED
        name = format_person_name(study.get("PatientName", "")) or "(no name)"
        return f"{name} ({study.get('PatientID', '')})"

    def _on_retrieved(self, result) -> None:
        refused = f"; {len(result.skipped)} refused" if result.skipped else ""
        self._say(f"{len(result.files)} instance(s) retrieved{refused}.")
        if result.studies:
            self.window_.add_paths([str(p) for p in result.studies])

    # --- feedback ------------------------------------------------------------------------------

    def _on_finished(self, result) -> None:
        handler, self._on_result = self._on_result, None
        if handler is not None:
            handler(result)

    def _on_progress(self, done: int, total: int) -> None:
        self.progress.setMaximum(max(total, 1))
        self.progress.setValue(done)

    def _set_busy(self, busy: bool) -> None:
        self.cancel_button.setEnabled(busy)
        self.progress.setVisible(busy)
        for button in (
            self.echo_button,
            self.search_button,
            self.retrieve_button,
            self.send_series_button,
            self.send_files_button,
        ):
            button.setEnabled(not busy)
        if busy:
            self.progress.setValue(0)

    def _say(self, text: str) -> None:
        self.status.setText(text)

    def is_busy(self) -> bool:
        return self.runner.is_busy()


def install_pacs(window) -> PacsPanel:
    panel = PacsPanel(window)
    window.add_dock(panel, Qt.DockWidgetArea.LeftDockWidgetArea)
    window.tabifyDockWidget(window.browser, panel)
    window.browser.raise_()
    window.menu("View").addAction(panel.toggleViewAction())
    window.addons.register(PACS, panel)
    return panel
