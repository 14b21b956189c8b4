"""The main window: assembles the viewports, docks, menus and the background loader, and
connects them. No file parsing or pixel work happens here. The work is in its collaborators:
`study_opener.py` (`window.opener`: opening, the loader's answers, showing a series, Recent),
`window_actions.py` (menus, toolbar, preset keys) and `load_status.py` (the status bar).

Hooks for other parts of the UI (AI assist, measurement tools, tag browser):

* `window.active_viewport()` / `window.viewports()` — see `viewport.py` for their accessors.
* `window.current_series()`, `window.current_frame_index()` (the modality frame: `window.active_viewport().modality_frame()`).
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

from PySide6.QtCore import Qt, QUrl, Signal
from PySide6.QtWidgets import (
    QFileDialog,
    QMainWindow,
    QMenu,
    QMessageBox,
    QStackedWidget,
    QToolBar,
)

from viewer import RESEARCH_USE_NOTICE, __version__
from viewer.core.session import PACS, Session, ViewIdentity, view_identity
from viewer.ui import addons, shortcuts, window_actions
from viewer.ui.browser_dock import BrowserDock
from viewer.ui.layouts import ViewportGrid
from viewer.ui.load_status import LoadStatus
from viewer.ui.load_task import StudyLoader
from viewer.ui.mpr_view import install_mpr
from viewer.ui.settings import load_settings, save_settings
from viewer.ui.study_opener import StudyOpener
from viewer.ui.viewport import export_view_png
from viewer.ui.welcome import WelcomePanel

MENUS = ("File", "View", "Tools", "AI", "Help")


def with_png_suffix(path: str) -> str:
    """The export path with ".png" added when the name typed has no PNG extension."""
    return path if Path(path).suffix.lower() == ".png" else f"{path}.png"


def show_menu_tooltips(menu: QMenu) -> None:
    """Tooltips visible on `menu` and on its submenus (a submenu is its parent's child)."""
    for each in (menu, *menu.findChildren(QMenu)):
        each.setToolTipsVisible(True)


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
        self._anonymised = self.settings.anonymise  # as last applied (apply_overlay_flags)
        self.addons = addons.AddOns()  # the optional parts installed (viewer/ui/addons.py)
        self.skipped_message: QMessageBox | None = None
        self._busy: set[str] = set()
        self.session = Session()  # what is open and what each view shows (viewer/core/session.py)
        self.opener = StudyOpener(self)  # open, load, show a series, Recent (study_opener.py)
        self._menus = {name: self._top_menu(name) for name in MENUS}
        self.loader = StudyLoader(self)
        self._build_central()
        self.load_status = LoadStatus(self.statusBar())  # probe, progress, Cancel
        self.probe_label = self.load_status.probe_label
        self.progress = self.load_status.progress
        self.cancel_button = self.load_status.cancel_button
        window_actions.build_actions(self)  # menus, toolbar, keys (window_actions.py)
        self.mpr = install_mpr(self)  # View → MPR, the MPR toolbar (viewer/ui/mpr_view.py)
        self._connect()
        self._apply_settings()
        self.resize(1400, 900)

    # --- assembly ---------------------------------------------------------------------------

    def _top_menu(self, name: str) -> QMenu:
        """A menu bar menu whose entries' tooltips show (Qt hides menu tooltips by default),
        and so do those of every submenu added to it, by RadLens or an add-on."""
        menu = self.menuBar().addMenu(f"&{name}")
        show_menu_tooltips(menu)
        menu.aboutToShow.connect(lambda: show_menu_tooltips(menu))
        return menu

    def _build_central(self) -> None:
        self.grid = ViewportGrid()
        self.welcome = WelcomePanel()
        self.stack = QStackedWidget()
        self.stack.addWidget(self.welcome)
        self.stack.addWidget(self.grid)
        self.setCentralWidget(self.stack)
        self.browser = BrowserDock(self)
        self.addDockWidget(Qt.DockWidgetArea.LeftDockWidgetArea, self.browser)

    def _connect(self) -> None:
        self.opener.connect(self.loader)
        self.load_status.connect(self.loader)
        self.loader.thumbnailReady.connect(self.browser.set_thumbnail)
        self.loader.finished.connect(self.loadingFinished.emit)
        self.browser.seriesActivated.connect(lambda key: self.show_series(key))
        self.grid.activeChanged.connect(self._on_active_changed)
        for viewport in self.grid.viewports:
            viewport.imageChanged.connect(
                lambda k, i, vp=viewport: self._on_image_changed(vp, k, i)
            )
            viewport.probed.connect(self.load_status.on_probe)
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
        self.apply_overlay_flags()
        self.opener.refresh_recent()

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
    def index(self):
        """The study index shown in the browser (None before the first load)."""
        return self.opener.index

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

    # --- opening (study_opener.py) -------------------------------------------------------------

    def choose_files(self) -> None:
        self.opener.choose_files()

    def choose_folder(self) -> None:
        self.opener.choose_folder()

    def open_sample(self) -> None:
        self.opener.open_sample()

    def open_paths(self, paths) -> None:
        """Open files/folders/archives in the background; they join Recent once an image of
        theirs is shown, and what could not be opened is reported when the load ends."""
        self.opener.open_paths(paths)

    def add_paths(self, paths, source: str = PACS) -> None:
        """Add `paths` to the session (a study retrieved from a PACS, a prior): only they are
        indexed and merged into the session's index; the series on screen stay where they are."""
        self.opener.add_paths(paths, source)

    def show_series(self, key: str, viewport=None) -> None:
        """Show a series of the index; one not opened yet is decoded in the background first
        and appears (in `viewport`, else the active one) when its first image is ready."""
        self.opener.show_series(key, viewport)

    # --- view commands ------------------------------------------------------------------------

    def set_layout(self, name: str) -> None:
        self.grid.set_layout(name)
        self.settings.layout = name
        self.layout_actions[name].setChecked(True)

    def apply_preset(self, position: int) -> None:
        window_actions.apply_preset(self, position)

    def save_window_preset(self) -> None:
        window_actions.save_window_preset(self)

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

    def apply_overlay_flags(self) -> None:
        """Corner overlays and on-screen anonymising as View's switches (saved in the settings
        as they toggle) say; a change of anonymising refreshes Recent and is announced."""
        anonymise = self.settings.anonymise
        changed, self._anonymised = anonymise != self._anonymised, anonymise
        for viewport in self.grid.viewports:
            viewport.state.set_overlays(self.settings.show_overlays, anonymise)
        self.browser.set_anonymise(anonymise)
        if changed:
            self.opener.refresh_recent()
            self.anonymiseChanged.emit(anonymise)

    def _set_cine_fps(self, fps: int) -> None:
        self.settings.cine_fps = int(fps)
        for viewport in self.grid.viewports:
            viewport.set_cine_fps(fps)

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
        window_actions.rebuild_window_menu(self)
        if viewport.series() is not None:
            self.browser.select_series(viewport.state.series_key)
            if not viewport.is_waiting_for_frame():  # else its own imageChanged follows
                self.imageChanged.emit(viewport.state.series_key, viewport.frame_index())

    def _on_progress(self, stage: str, done: int, total: int) -> None:
        self.load_status.on_progress(stage, done, total)

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
