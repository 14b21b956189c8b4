"""The main window: assembles the viewports, docks, menus and the background loader, and
connects them. No file parsing or pixel work happens here.

Hooks for other parts of the UI (AI assist, measurement tools, tag browser):

* `window.active_viewport()` / `window.viewports()` — see `viewport.py` for their accessors.
* `window.current_series()`, `window.current_frame_index()`, `window.current_modality_frame()`.
* `window.imageChanged(series_key, frame_index)` — the active viewport shows a new image
  (new frame, series or window, or another viewport became active).
* `window.indexLoaded(StudyIndex)`, `window.seriesShown(Series)`, `window.loadingFinished()`,
  `window.aboutToClose()` (stop your workers here; the loader is stopped right after).
* `window.anonymiseChanged(bool)` — "Anonymise on screen" was switched: every part that draws
  a patient identifier (name, ID, dates, accession) redraws at once from
  `window.settings.anonymise`.
* `window.menu("File" | "View" | "Tools" | "AI" | "Help")`, `window.add_dock(dock, area)`,
  `window.add_toolbar(toolbar)`, `window.statusBar()`.
* `window.add_paths(paths)` — add files to the open session (a PACS retrieval); only they are
  indexed, the series on screen stay. `window.session` (`viewer/core/session.py`) holds what
  is open and what each view shows; `window.shown_view(viewport)` is a view's `ViewIdentity`.
* `window.begin_busy(token)` / `window.end_busy(token)` — mark background work (e.g. an
  analysis) so `--screenshot` waits for it; `window.is_idle()` is True when nothing is running.
* `window.addons` — the optional parts by typed key (`viewer/ui/addons.py`); `window.ai`,
  `.measurements`, `.seg_sr`, `.report_exporter`, `.report_action` read it.
* `window.settings` — the typed `Settings`; `window.auto_run_ai` — run the model on open
  (the setting, forced on by `--demo`).
"""

from __future__ import annotations

from pathlib import Path

from PySide6.QtCore import Qt, QTimer, QUrl, Signal
from PySide6.QtGui import QAction, QActionGroup, QKeySequence
from PySide6.QtWidgets import (
    QFileDialog,
    QInputDialog,
    QLabel,
    QMainWindow,
    QMessageBox,
    QProgressBar,
    QPushButton,
    QSpinBox,
    QStackedWidget,
    QToolBar,
)

from viewer import RESEARCH_USE_NOTICE, __version__
from viewer.core.errors import RadLensError
from viewer.core.series import open_series
from viewer.core.session import PACS, MergeConflict, Session, ViewIdentity, view_identity
from viewer.core.voi import Window
from viewer.paths import sample_study_dir
from viewer.ui import addons, shortcuts
from viewer.ui.browser_dock import BrowserDock
from viewer.ui.errors import show_error
from viewer.ui.layouts import LAYOUT_SHAPES, ViewportGrid
from viewer.ui.load_task import StudyLoader
from viewer.ui.mpr_view import install_mpr
from viewer.ui.overlay_planes import OverlayPlanes
from viewer.ui.settings import load_settings, save_settings
from viewer.ui.view_state import add_user_preset, window_choices
from viewer.ui.viewport import export_view_png
from viewer.ui.welcome import WelcomePanel

MENUS = ("File", "View", "Tools", "AI", "Help")
MAX_PRESET_KEYS = 9
PROGRESS_MAX_WIDTH = 480  # the loading progress bar grows to show its whole text, up to this
PROGRESS_PADDING = 40


def with_png_suffix(path: str) -> str:
    """The export path with ".png" added when the name typed has no PNG extension."""
    return path if Path(path).suffix.lower() == ".png" else f"{path}.png"


def load_outcome(skipped, shown: bool, searched: list[str]) -> tuple[str, str, str] | None:
    """(title, message, details) telling what a load could not open, or None when there is
    nothing to say. Files are counted once however many of their frames failed; "the rest is
    shown" only when something is; `searched` (the paths of a completed study load) are
    named when they held nothing to open at all."""
    per_file: dict[str, list[str]] = {}
    for item in skipped:
        per_file.setdefault(item.path, []).append(item.reason)
    if not per_file:
        if shown or not searched:
            return None
        return "Nothing to open", f"No DICOM images found in {', '.join(searched)}.", ""
    details = "\n".join(
        f"{path}: {reasons[0]}" + (f" ({len(reasons)} frames)" if len(reasons) > 1 else "")
        for path, reasons in per_file.items()
    )
    files, frames = len(per_file), len(skipped)
    counted = f"{files} file(s)" + (f" ({frames} frames)" if frames > files else "")
    if shown:
        message = f"{counted} could not be opened and were skipped; the rest is shown."
        return "Some files were skipped", message, details
    return "Nothing could be opened", f"None of the files could be opened: {counted}.", details


class MainWindow(QMainWindow):
    imageChanged = Signal(str, int)
    indexLoaded = Signal(object)
    seriesShown = Signal(object)
    loadingFinished = Signal()
    aboutToClose = Signal()
    anonymiseChanged = Signal(bool)

    def __init__(self, settings=None) -> None:
        super().__init__()
        self.setWindowTitle("RadLens")
        self.setAcceptDrops(True)
        self.settings = settings or load_settings()
        self.auto_run_ai = self.settings.auto_run_ai
        self.index = None
        self.addons = addons.AddOns()  # the optional parts installed (viewer/ui/addons.py)
        self.skipped_message: QMessageBox | None = None
        self._series: dict[str, object] = {}
        self._targets: dict[str, object] = {}  # series key → viewport waiting for its first image
        self._load_paths: list[str] = []  # what the running `open_paths` opens, until it ends
        self._skipped: list = []  # SkippedFile of the running load, reported when it ends
        self._busy: set[str] = set()
        self.session = Session()  # what is open and what each view shows (viewer/core/session.py)
        self._indexing: tuple[list[str], bool] = ([], False)  # the load's paths, merged or not
        self._adding = False  # the load running adds to the session: images on screen stay
        self._menus = {name: self.menuBar().addMenu(f"&{name}") for name in MENUS}
        self.loader = StudyLoader(self)
        self._build_central()
        self._build_status_bar()
        self._build_actions()
        self.mpr = install_mpr(self)  # View → MPR, the MPR toolbar (viewer/ui/mpr_view.py)
        self._connect()
        self._apply_settings()
        self.resize(1400, 900)

    # --- assembly ---------------------------------------------------------------------------

    def _build_central(self) -> None:
        self.grid = ViewportGrid()
        self.welcome = WelcomePanel()
        self.stack = QStackedWidget()
        self.stack.addWidget(self.welcome)
        self.stack.addWidget(self.grid)
        self.setCentralWidget(self.stack)
        self.browser = BrowserDock(self)
        self.addDockWidget(Qt.DockWidgetArea.LeftDockWidgetArea, self.browser)

    def _build_status_bar(self) -> None:
        self.probe_label = QLabel("")
        self.progress = QProgressBar()
        self.progress.setMaximumWidth(PROGRESS_MAX_WIDTH)
        self.cancel_button = QPushButton("Cancel")
        self.statusBar().addWidget(self.probe_label, 1)
        self.statusBar().addPermanentWidget(self.progress)
        self.statusBar().addPermanentWidget(self.cancel_button)
        self._show_progress(False)

    def _build_actions(self) -> None:
        v = self.active_viewport
        file_items = [
            ("open_files", "Open files…", self.choose_files),
            ("open_folder", "Open folder…", self.choose_folder),
            (None, "Open the sample study", self.open_sample),
            ("export_png", "Export view as PNG…", lambda: self.export_png(True)),
            (None, "Export view as PNG without overlays…", lambda: self.export_png(False)),
            ("quit", "Quit", self.close),
        ]
        view_items = [
            ("fit", "Fit", lambda: v().fit()),
            ("actual_size", "1:1", lambda: v().actual_size()),
            ("rotate", "Rotate 90°", lambda: v().state.rotate(1)),
            ("flip_h", "Flip horizontally", lambda: v().state.flip(True)),
            ("flip_v", "Flip vertically", lambda: v().state.flip(False)),
            ("reset", "Reset view", lambda: v().reset()),
            ("auto_window", "Automatic window", lambda: v().auto_window()),
            ("invert", "Invert", lambda: v().state.set_invert(not v().state.invert)),
            ("cine", "Play / stop cine", self.toggle_cine),
        ]
        self.actions_by_name = {}
        self._add_items("File", file_items[:3])
        self.recent_menu = self.menu("File").addMenu("Recent")
        self._add_items("File", file_items[3:])
        self._add_items("View", view_items)
        self._build_view_toggles()
        self.overlay_planes = OverlayPlanes(self)
        self.window_menu = self.menu("View").addMenu("Window")
        self._build_preset_keys()
        self._add_items(
            "Help",
            [
                (None, "Keyboard shortcuts", self.show_shortcuts),
                (None, "About RadLens", self.show_about),
            ],
        )
        self._build_toolbar()

    def _add_items(self, menu: str, items) -> None:
        for command, text, slot in items:
            action = self.menu(menu).addAction(text)
            if command:
                action.setShortcut(shortcuts.key_for(command))
                self.actions_by_name[command] = action
            action.triggered.connect(lambda _=False, s=slot: s())

    def _build_view_toggles(self) -> None:
        view = self.menu("View")
        view.addSeparator()
        self.overlays_action = self._toggle(
            view, "Show overlays", "overlays", self.settings.show_overlays
        )
        self.anonymise_action = self._toggle(
            view, "Anonymise on screen", "anonymise", self.settings.anonymise
        )
        self.overlays_action.toggled.connect(self._apply_overlay_flags)
        self.anonymise_action.toggled.connect(self._apply_overlay_flags)
        layout_menu = view.addMenu("Layout")
        group = QActionGroup(self)
        self.layout_actions = {}
        for name in LAYOUT_SHAPES:
            action = self._toggle(layout_menu, name.replace("x", "×"), None, False)
            group.addAction(action)
            action.triggered.connect(lambda _=False, n=name: self.set_layout(n))
            self.layout_actions[name] = action

    def _toggle(self, menu, text: str, command: str | None, checked: bool) -> QAction:
        action = menu.addAction(text)
        action.setCheckable(True)
        action.setChecked(checked)
        if command:
            action.setShortcut(shortcuts.key_for(command))
        return action

    def _build_preset_keys(self) -> None:
        for number in range(1, MAX_PRESET_KEYS + 1):
            action = QAction(self)
            action.setShortcut(QKeySequence(str(number)))
            action.triggered.connect(lambda _=False, n=number: self.apply_preset(n - 1))
            self.addAction(action)

    def _build_toolbar(self) -> None:
        toolbar = self.addToolBar("Viewer")
        toolbar.setObjectName("viewer_toolbar")
        for name in ("fit", "actual_size", "rotate", "flip_h", "invert", "auto_window", "cine"):
            toolbar.addAction(self.actions_by_name[name])
        self.fps_spin = QSpinBox()
        self.fps_spin.setRange(1, 60)
        self.fps_spin.setSuffix(" fps")
        self.fps_spin.setValue(self.settings.cine_fps)
        toolbar.addWidget(self.fps_spin)

    def _connect(self) -> None:
        self.loader.indexReady.connect(self._on_index)
        self.loader.seriesReady.connect(self._on_first_series)
        self.loader.previewReady.connect(self._show_preview)
        self.loader.thumbnailReady.connect(self.browser.set_thumbnail)
        self.loader.progress.connect(self._on_progress)
        self.loader.busyChanged.connect(self._show_progress)
        self.loader.framesSkipped.connect(self._skipped.extend)
        self.loader.finished.connect(lambda: self._end_load(completed=True))
        self.loader.finished.connect(self.loadingFinished.emit)
        self.loader.failed.connect(lambda m, d: show_error(self, "Loading failed", m, d))
        self.loader.failed.connect(lambda *_: self._end_load(completed=False))
        self.loader.cancelled.connect(lambda: self._end_load(completed=False))
        self.cancel_button.clicked.connect(self.loader.cancel)
        self.browser.seriesActivated.connect(lambda key: self.show_series(key))
        self.grid.activeChanged.connect(self._on_active_changed)
        for viewport in self.grid.viewports:
            viewport.imageChanged.connect(
                lambda k, i, vp=viewport: self._on_image_changed(vp, k, i)
            )
            viewport.probed.connect(self._on_probe)
            viewport.seriesDropped.connect(lambda key, vp=viewport: self.show_series(key, vp))
        self.fps_spin.valueChanged.connect(self._set_cine_fps)
        welcome = self.welcome
        welcome.openFolderRequested.connect(self.choose_folder)
        welcome.openFilesRequested.connect(self.choose_files)
        welcome.openSampleRequested.connect(self.open_sample)
        welcome.openRecentRequested.connect(lambda path: self.open_paths([path]))

    def _apply_settings(self) -> None:
        self.set_layout(self.settings.layout)
        self._set_cine_fps(self.settings.cine_fps)
        self._apply_overlay_flags()
        self._refresh_recent()

    # --- hooks --------------------------------------------------------------------------------

    def menu(self, name: str):
        return self._menus[name]

    def add_dock(self, dock, area=Qt.DockWidgetArea.RightDockWidgetArea) -> None:
        self.addDockWidget(area, dock)

    def add_toolbar(self, toolbar: QToolBar) -> None:
        self.addToolBar(toolbar)

    def active_viewport(self):
        return self.grid.active

    def viewports(self):
        return self.grid.shown()

    def current_series(self):
        return self.grid.active.series()

    def current_frame_index(self) -> int:
        return self.grid.active.frame_index()

    def begin_busy(self, token: str) -> None:
        self._busy.add(token)

    def end_busy(self, token: str) -> None:
        self._busy.discard(token)

    def is_idle(self) -> bool:
        return not self.loader.is_busy() and not self._busy

    @property
    def ai(self):
        return self.addons.get(addons.AI_ASSIST)

    @property
    def measurements(self):
        return self.addons.get(addons.MEASUREMENTS)

    @property
    def seg_sr(self):
        return self.addons.get(addons.SEG_SR)

    @property
    def report_exporter(self):
        return self.addons.get(addons.REPORT_EXPORTER)

    @property
    def report_action(self):
        return self.addons.get(addons.REPORT_ACTION)

    # --- opening ------------------------------------------------------------------------------

    def choose_files(self) -> None:
        paths, _ = QFileDialog.getOpenFileNames(
            self,
            "Open DICOM files",
            self.settings.last_folder,
            "DICOM (*.dcm *.zip DICOMDIR *);;Pictures (*.png *.jpg *.jpeg);;All files (*)",
        )
        if paths:
            self.open_paths(paths)

    def choose_folder(self) -> None:
        folder = QFileDialog.getExistingDirectory(self, "Open folder", self.settings.last_folder)
        if folder:
            self.open_paths([folder])

    def open_sample(self) -> None:
        self.open_paths([str(sample_study_dir())])

    def open_paths(self, paths) -> None:
        """Open files/folders/archives in the background; they join Recent once an image of
        theirs is shown, and what could not be opened is reported when the load ends."""
        paths = [str(p) for p in paths]
        if not paths:
            return
        first = Path(paths[0])
        self.settings.last_folder = str(first if first.is_dir() else first.parent)
        self._series.clear()
        self._targets.clear()
        self._skipped.clear()
        self._load_paths = paths
        self.stack.setCurrentWidget(self.grid)
        self.session.open(paths)
        self._adding = False
        self._index_paths(paths, merge=False)

    def add_paths(self, paths, source: str = PACS) -> None:
        """Add `paths` to the session (a study retrieved from a PACS, a prior): only they are
        indexed and merged into the session's index; the series on screen stay where they are."""
        to_index, merge = self.session.request_add([str(p) for p in paths], source)
        self._adding = self.grid.active.series() is not None
        self._index_paths(to_index, merge)

    def _index_paths(self, paths: list[str], merge: bool) -> None:
        self._indexing = (paths, merge)
        self.loader.load(paths)

    def show_series(self, key: str, viewport=None) -> None:
        """Show a series of the index; one not opened yet is decoded in the background first
        and appears (in `viewport`, else the active one) when its first image is ready."""
        if self.index is None:
            return
        viewport = viewport or self.grid.active
        if key in self._series:
            self._show_in(viewport, self._series[key])
            return
        try:
            series = open_series(self.index.find_series(key))
        except RadLensError as exc:
            show_error(self, "Cannot show this series", str(exc))
            return
        self._series[key] = series
        self._targets[key] = viewport
        self._skipped.clear()
        self.loader.prefetch(series)

    def _show_in(self, viewport, series) -> None:
        self.stack.setCurrentWidget(self.grid)
        viewport.set_series(series)
        self.grid.set_active(viewport)
        viewport.setFocus()  # arrows and the wheel work at once
        # The rest waits for the next event-loop pass, so the first image paints sooner.
        QTimer.singleShot(0, lambda: self._after_show(series))

    def _after_show(self, series) -> None:
        self.browser.select_series(series.info.key)
        self._rebuild_window_menu()
        self.seriesShown.emit(series)

    def _on_index(self, index) -> None:
        paths, merge = self._indexing
        if not merge:
            self.session.replace_index(index, paths)
        else:
            try:
                self.session.add_index(index, paths)
            except MergeConflict:  # the files overlap what is open: index everything again
                self._index_paths(self.session.paths, merge=False)
                return
        self._skipped.extend(index.skipped)
        self._show_index(self.session.index)

    def _show_index(self, index) -> None:
        self.index = index
        if not self._adding:  # images of the previous study go
            for viewport in self.grid.viewports:
                if viewport is not self.grid.active or not index.all_series():
                    viewport.set_series(None)
        if not index.all_series():
            self.stack.setCurrentWidget(self.welcome)
        self.browser.set_index(index)
        self.indexLoaded.emit(index)

    def _show_preview(self, series) -> None:
        """The first file's frame while the other headers are read; `seriesReady` replaces it
        (no `seriesShown`: it is not a series of the study index). Not when adding to the
        session: the images on screen stay."""
        if self._adding:
            return
        self.stack.setCurrentWidget(self.grid)
        self.grid.active.set_series(series)

    def _on_first_series(self, series) -> None:
        key = series.info.key
        if self._adding and key not in self._targets:  # added to the session, not shown
            self._series.setdefault(key, series)
            return
        self._series[key] = series
        self._show_in(self._targets.pop(key, self.grid.active), series)
        self._remember_opened()

    def _remember_opened(self) -> None:
        """The paths being opened showed an image: they join File → Recent."""
        for path in reversed(self._load_paths):
            self.settings.add_recent(path)
        if self._load_paths:
            self._refresh_recent()

    def _end_load(self, completed: bool) -> None:
        """Report what the load (or series prefetch) just ended could not open, once; a study
        load that showed nothing goes back to the welcome panel."""
        skipped, paths = list(self._skipped), self._load_paths
        self._skipped.clear()
        self._load_paths = []
        shown = self._shows_this_load()
        if paths and not shown:
            for viewport in self.grid.viewports:  # no image of the previous study stays
                viewport.set_series(None)
            self.stack.setCurrentWidget(self.welcome)
        outcome = load_outcome(skipped, shown, paths if completed else [])
        if outcome is not None:
            self.skipped_message = show_error(self, *outcome)

    def _shows_this_load(self) -> bool:
        return any(
            viewport.series() is not None and viewport.series() in self._series.values()
            for viewport in self.grid.shown()
        )

    # --- view commands ------------------------------------------------------------------------

    def set_layout(self, name: str) -> None:
        self.grid.set_layout(name)
        self.settings.layout = name
        self.layout_actions[name].setChecked(True)

    def apply_preset(self, position: int) -> None:
        viewport = self.active_viewport()
        choices = window_choices(viewport.series(), viewport.frame_index(), self.settings.presets)
        if 0 <= position < len(choices):
            viewport.state.set_window(choices[position][1])

    def toggle_cine(self) -> None:
        self.active_viewport().toggle_cine()

    def export_png(self, with_overlays: bool) -> None:
        path, _ = QFileDialog.getSaveFileName(
            self, "Export view", self.settings.last_folder, "PNG (*.png)"
        )
        if path:
            export_view_png(self.active_viewport(), with_png_suffix(path), with_overlays)

    def show_shortcuts(self) -> None:
        shortcuts.ShortcutsDialog(self).exec()

    def show_about(self) -> None:
        QMessageBox.about(
            self, "About RadLens", f"<b>RadLens {__version__}</b><p>{RESEARCH_USE_NOTICE}</p>"
        )

    def _rebuild_window_menu(self) -> None:
        self.window_menu.clear()
        choices = window_choices(
            self.current_series(), self.current_frame_index(), self.settings.presets
        )
        for number, (label, window) in enumerate(choices, start=1):
            key = f"\t{number}" if number <= MAX_PRESET_KEYS else ""
            action = self.window_menu.addAction(f"{label}{key}")
            action.triggered.connect(
                lambda _=False, w=window: self.active_viewport().state.set_window(w)
            )
        self.window_menu.addSeparator()
        self.window_menu.addAction("Save current window as preset…", self.save_window_preset)

    def save_window_preset(self) -> None:
        series, window = self.current_series(), self.active_viewport().state.window
        if series is None or not isinstance(window, Window):
            return
        label, ok = QInputDialog.getText(
            self, "Save window preset", f"Name ({series.info.modality}):"
        )
        if ok and label.strip():
            self.settings.presets = add_user_preset(
                self.settings.presets, series.info.modality, label.strip(), window
            )
            self._rebuild_window_menu()

    def _apply_overlay_flags(self) -> None:
        anonymise = self.anonymise_action.isChecked()
        changed = anonymise != self.settings.anonymise
        self.settings.show_overlays = self.overlays_action.isChecked()
        self.settings.anonymise = anonymise
        for viewport in self.grid.viewports:
            viewport.state.set_overlays(self.settings.show_overlays, anonymise)
        self.browser.set_anonymise(anonymise)
        if changed:
            self._refresh_recent()
            self.anonymiseChanged.emit(anonymise)

    def _set_cine_fps(self, fps: int) -> None:
        self.settings.cine_fps = int(fps)
        for viewport in self.grid.viewports:
            viewport.set_cine_fps(fps)

    def _refresh_recent(self) -> None:
        """File → Recent and the welcome list; with "Anonymise on screen" the paths (a folder
        may be named after its patient) are replaced by numbered entries."""
        paths = list(self.settings.recent)
        labels = recent_labels(paths, self.settings.anonymise)
        self.recent_menu.clear()
        for path, label in zip(paths, labels, strict=True):
            action = self.recent_menu.addAction(label)
            action.triggered.connect(lambda _=False, p=path: self.open_paths([p]))
        self.welcome.set_recent(paths, labels)

    # --- feedback -----------------------------------------------------------------------------

    def view_name(self, viewport) -> str:
        return f"view-{self.grid.viewports.index(viewport) + 1}"

    def shown_view(self, viewport) -> ViewIdentity | None:
        """What `viewport` shows (series, plane and slab, frame), as the session records it."""
        return self.session.view(self.view_name(viewport))

    def _on_image_changed(self, viewport, key: str, index: int) -> None:
        series = viewport.series() if key else None
        identity = None if series is None else view_identity(series, index)
        self.session.show(self.view_name(viewport), identity)
        if viewport is self.grid.active:
            self.imageChanged.emit(key, index)

    def _on_active_changed(self, viewport) -> None:
        self._rebuild_window_menu()
        if viewport.series() is not None:
            self.browser.select_series(viewport.state.series_key)
            if not viewport.is_waiting_for_frame():  # else its own imageChanged follows
                self.imageChanged.emit(viewport.state.series_key, viewport.frame_index())

    def _on_probe(self, probe) -> None:
        self.probe_label.setText(probe.text() if probe is not None else "")

    def _on_progress(self, stage: str, done: int, total: int) -> None:
        self.progress.setMaximum(max(total, 1))
        self.progress.setValue(done)
        self.progress.setFormat(f"{stage} %v/%m")
        whole = self.progress.fontMetrics().horizontalAdvance(f"{stage} {total}/{total}")
        self.progress.setMinimumWidth(min(whole + PROGRESS_PADDING, PROGRESS_MAX_WIDTH))

    def _show_progress(self, busy: bool) -> None:
        self.progress.setVisible(busy)
        self.cancel_button.setVisible(busy)

    # --- Qt events ----------------------------------------------------------------------------

    def dragEnterEvent(self, event) -> None:  # noqa: N802 - Qt API
        if event.mimeData().hasUrls():
            event.acceptProposedAction()

    def dragMoveEvent(self, event) -> None:  # noqa: N802 - Qt API
        if event.mimeData().hasUrls():
            event.acceptProposedAction()

    def dropEvent(self, event) -> None:  # noqa: N802 - Qt API
        paths = [url.toLocalFile() for url in event.mimeData().urls() if QUrl(url).isLocalFile()]
        if paths:
            event.acceptProposedAction()
            self.open_paths(paths)

    def closeEvent(self, event) -> None:  # noqa: N802 - Qt API
        self.aboutToClose.emit()
        for viewport in self.grid.viewports:
            viewport.shutdown()
        self.loader.shutdown()
        self.settings.window_geometry = bytes(self.saveGeometry().toHex()).decode("ascii")
        save_settings(self.settings)
        super().closeEvent(event)


def recent_labels(paths: list[str], anonymise: bool) -> list[str]:
    if not anonymise:
        return list(paths)
    return [
        f"Recent study {i} (path hidden: anonymise on screen)" for i in range(1, len(paths) + 1)
    ]
