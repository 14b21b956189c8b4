"""Opening studies in the main window: the file dialogs, the background load's answers
(index, preview, first series, skipped files), showing a series in a viewport, File → Recent
and the welcome panel's list, and the message telling what a load could not open.

`StudyOpener` holds the state of the load running; the window keeps `open_paths`,
`add_paths` and `show_series` as its public commands and hands them to it.
"""

from __future__ import annotations

from pathlib import Path

from PySide6.QtCore import QTimer
from PySide6.QtWidgets import QFileDialog

from viewer.core.errors import RadLensError
from viewer.core.series import Series, open_series
from viewer.core.session import PACS, MergeConflict
from viewer.paths import sample_study_dir
from viewer.ui.errors import show_error
from viewer.ui.window_actions import rebuild_window_menu

OPEN_FILTERS = "DICOM (*.dcm *.zip DICOMDIR *);;Pictures (*.png *.jpg *.jpeg);;All files (*)"


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


def recent_labels(paths: list[str], anonymise: bool) -> list[str]:
    if not anonymise:
        return list(paths)
    return [
        f"Recent study {i} (path hidden: anonymise on screen)" for i in range(1, len(paths) + 1)
    ]


class StudyOpener:
    """Opens files into the window's session and shows what the loader delivers."""

    def __init__(self, window) -> None:
        self.window = window
        self.index = None
        self.series: dict[str, Series] = {}
        self.targets: dict[str, object] = {}  # series key → viewport waiting for its first image
        self.load_paths: list[str] = []  # what the running `open_paths` opens, until it ends
        self.skipped: list = []  # SkippedFile of the running load, reported when it ends
        self.indexing: tuple[list[str], bool] = ([], False)  # the load's paths, merged or not
        self.adding = False  # the load running adds to the session: images on screen stay

    def connect(self, loader) -> None:
        loader.indexReady.connect(self.on_index)
        loader.seriesReady.connect(self.on_first_series)
        loader.previewReady.connect(self.show_preview)
        loader.framesSkipped.connect(self.skipped.extend)
        loader.finished.connect(lambda: self.end_load(completed=True))
        loader.failed.connect(lambda m, d: show_error(self.window, "Loading failed", m, d))
        loader.failed.connect(lambda *_: self.end_load(completed=False))
        loader.cancelled.connect(lambda: self.end_load(completed=False))

    # --- asking -------------------------------------------------------------------------------

    def choose_files(self) -> None:
        folder = self.window.settings.last_folder
        paths, _ = QFileDialog.getOpenFileNames(
            self.window, "Open DICOM files", folder, OPEN_FILTERS
        )
        if paths:
            self.open_paths(paths)

    def choose_folder(self) -> None:
        folder = QFileDialog.getExistingDirectory(
            self.window, "Open folder", self.window.settings.last_folder
        )
        if folder:
            self.open_paths([folder])

    def open_sample(self) -> None:
        self.open_paths([str(sample_study_dir())])

    def open_paths(self, paths) -> None:
        paths = [str(p) for p in paths]
        if not paths:
            return
        window = self.window
        first = Path(paths[0])
        window.settings.last_folder = str(first if first.is_dir() else first.parent)
        self.close_series()
        self.targets.clear()
        self.skipped.clear()
        self.load_paths = paths
        window.stack.setCurrentWidget(window.grid)
        window.session.open(paths)
        self.adding = False
        self.index_paths(paths, merge=False)

    def close_series(self) -> None:
        """Drop the series of the study open, releasing their files (a view still showing one
        until the new study arrives reads its frames again if asked)."""
        for series in self.series.values():
            series.close()
        self.series.clear()

    def add_paths(self, paths, source: str = PACS) -> None:
        to_index, merge = self.window.session.request_add([str(p) for p in paths], source)
        self.adding = self.window.grid.active.series() is not None
        self.index_paths(to_index, merge)

    def index_paths(self, paths: list[str], merge: bool) -> None:
        self.indexing = (paths, merge)
        self.window.loader.load(paths)

    # --- showing ------------------------------------------------------------------------------

    def show_series(self, key: str, viewport=None) -> None:
        if self.index is None:
            return
        viewport = viewport or self.window.grid.active
        if key in self.series:
            self.show_in(viewport, self.series[key])
            return
        try:
            series = open_series(self.index.find_series(key))
        except RadLensError as exc:
            show_error(self.window, "Cannot show this series", str(exc))
            return
        self.series[key] = series
        self.targets[key] = viewport
        self.skipped.clear()
        self.window.loader.prefetch(series)

    def show_in(self, viewport, series) -> None:
        self.window.stack.setCurrentWidget(self.window.grid)
        viewport.set_series(series)
        self.window.grid.set_active(viewport)
        viewport.setFocus()  # arrows and the wheel work at once
        # The rest waits for the next event-loop pass, so the first image paints sooner.
        QTimer.singleShot(0, lambda: self.after_show(series))

    def after_show(self, series) -> None:
        self.window.browser.select_series(series.info.key)
        rebuild_window_menu(self.window)
        self.window.seriesShown.emit(series)

    # --- the loader's answers -------------------------------------------------------------------

    def on_index(self, index) -> None:
        paths, merge = self.indexing
        session = self.window.session
        if not merge:
            session.replace_index(index, paths)
        else:
            try:
                session.add_index(index, paths)
            except MergeConflict:  # the files overlap what is open: index everything again
                self.index_paths(session.paths, merge=False)
                return
        self.skipped.extend(index.skipped)
        self.show_index(session.index)

    def show_index(self, index) -> None:
        window = self.window
        self.index = index
        if not self.adding:  # images of the previous study go
            for viewport in window.grid.viewports:
                if viewport is not window.grid.active or not index.all_series():
                    viewport.set_series(None)
        if not index.all_series():
            window.stack.setCurrentWidget(window.welcome)
        window.browser.set_index(index)
        window.indexLoaded.emit(index)

    def show_preview(self, series) -> None:
        """The first file's frame while the other headers are read; `seriesReady` replaces it
        (no `seriesShown`: it is not a series of the study index). Not when adding to the
        session: the images on screen stay."""
        if self.adding:
            return
        self.window.stack.setCurrentWidget(self.window.grid)
        self.window.grid.active.set_series(series)

    def on_first_series(self, series) -> None:
        key = series.info.key
        if self.adding and key not in self.targets:  # added to the session, not shown
            self.series.setdefault(key, series)
            return
        replaced, self.series[key] = self.series.get(key), series
        self.show_in(self.targets.pop(key, self.window.grid.active), series)
        self.release(replaced, series)
        self.remember_opened()

    def release(self, replaced, series) -> None:
        """Close the series `series` replaced, unless it is that one or a view still shows it.
        (One dropped by `setdefault` above is not closed here: the loader still decodes it.)"""
        if replaced is None or replaced is series:
            return
        if any(viewport.series() is replaced for viewport in self.window.grid.viewports):
            return
        replaced.close()

    def end_load(self, completed: bool) -> None:
        """Report what the load (or series prefetch) just ended could not open, once; a study
        load that showed nothing goes back to the welcome panel."""
        window = self.window
        skipped, paths = list(self.skipped), self.load_paths
        self.skipped.clear()
        self.load_paths = []
        shown = self.shows_this_load()
        if paths and not shown:
            for viewport in window.grid.viewports:  # no image of the previous study stays
                viewport.set_series(None)
            window.stack.setCurrentWidget(window.welcome)
        outcome = load_outcome(skipped, shown, paths if completed else [])
        if outcome is not None:
            window.skipped_message = show_error(window, *outcome)

    def shows_this_load(self) -> bool:
        return any(
            viewport.series() is not None and viewport.series() in self.series.values()
            for viewport in self.window.grid.shown()
        )

    # --- File → Recent and the welcome list -----------------------------------------------------

    def remember_opened(self) -> None:
        """The paths being opened showed an image: they join File → Recent."""
        for path in reversed(self.load_paths):
            self.window.settings.add_recent(path)
        if self.load_paths:
            self.refresh_recent()

    def refresh_recent(self) -> None:
        """File → Recent and the welcome list; with "Anonymise on screen" the paths (a folder
        may be named after its patient) are replaced by numbered entries."""
        window = self.window
        paths = list(window.settings.recent)
        labels = recent_labels(paths, window.settings.anonymise)
        window.recent_menu.clear()
        for path, label in zip(paths, labels, strict=True):
            action = window.recent_menu.addAction(label)
            action.triggered.connect(lambda _=False, p=path: window.open_paths([p]))
        window.welcome.set_recent(paths, labels)
