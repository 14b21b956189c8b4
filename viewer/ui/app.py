"""Application bootstrap for `radlens [PATH...] [--demo] [--screenshot FILE]`.

Sets pyqtgraph's row-major image axis order once, installs the error hook, builds the main
window, lets optional extensions attach (`viewer.ui.ai_controller.install_ai(window)`), opens
what was asked and runs the event loop. `--screenshot FILE` waits until loading (and any work
marked with `window.begin_busy`) is done, saves a picture of the window and exits.
"""

from __future__ import annotations

import argparse
import ctypes
import logging
import sys
from collections.abc import Callable

from PySide6.QtCore import QByteArray, QObject, QTimer
from PySide6.QtWidgets import QApplication

from viewer.paths import sample_study_dir
from viewer.ui.addons import AddOn
from viewer.ui.ai_controller import install_ai
from viewer.ui.measurement_tools import install_tools
from viewer.ui.pacs_panel import install_pacs
from viewer.ui.report_dialog import install_report_action
from viewer.ui.seg_sr_controller import install_seg_sr

log = logging.getLogger("radlens.ui")

SCREENSHOT_POLL_MS = 250
SCREENSHOT_STABLE_POLLS = 4  # idle for this many polls in a row (1 s) before the picture
SCREENSHOT_TIMEOUT_S = 300


# PySide6 6.12.0 on CPython 3.11 drops references it does not own:
# * every Python-side `SignalInstance.emit()` drops one reference to `True` (reproduce: emit a
#   no-argument signal 10 times and compare `sys.getrefcount(True)`);
# * every void Qt call drops one reference to `None` (reproduce: call
#   `QTreeWidgetItem().setHidden(False)` 10 times and compare `sys.getrefcount(None)`).
# pyqtgraph emits on every mouse move and range change and the tag browser makes thousands of
# void calls, so a session or a test run eventually frees the singleton and aborts with "Fatal
# Python error: bool_dealloc" / "none_dealloc" (exit 134). pyproject pins PySide6-Essentials
# <6.12 (6.11.3 measured leak-free); for users on 6.12 the singletons get the protection
# CPython 3.12+ gives them (immortal) by adding a large reference count, only when the leak is
# measured.
SINGLETON_GUARD = 1 << 40
PROBE_CALLS = 32
_guarded: set[int] = set()  # id() of the singletons given the guard


def drops_references(singleton: object, call: Callable[[], object]) -> bool:
    """True when `call()` made PROBE_CALLS times leaves `singleton` with at least half as many
    references fewer (a margin for unrelated reference changes)."""
    before = sys.getrefcount(singleton)
    for _ in range(PROBE_CALLS):
        call()
    return before - sys.getrefcount(singleton) >= PROBE_CALLS // 2


def guard_singletons(singletons: tuple[object, ...], leaks: Callable[[], bool]) -> bool:
    """Give `singletons` SINGLETON_GUARD extra references if `leaks()` measures references
    being dropped; True when they are guarded (now or before)."""
    if all(id(singleton) in _guarded for singleton in singletons):
        return True
    if sys.version_info >= (3, 12) or not leaks():
        return False
    for singleton in singletons:
        ctypes.c_ssize_t.from_address(id(singleton)).value += SINGLETON_GUARD
        _guarded.add(id(singleton))
    return True


def _emit_drops_true_references() -> bool:
    from PySide6.QtCore import QObject, Signal

    class _Probe(QObject):
        ping = Signal()

    probe = _Probe()
    return drops_references(True, probe.ping.emit)


def _void_calls_drop_none_references() -> bool:
    from PySide6.QtWidgets import QTreeWidgetItem

    item = QTreeWidgetItem()
    return drops_references(None, lambda: item.setHidden(False))


def protect_singletons() -> bool:
    """Work around the PySide6 6.12 refcount bugs (see above); True if a guard is in place."""
    bools = guard_singletons((True, False), _emit_drops_true_references)
    none = guard_singletons((None,), _void_calls_drop_none_references)
    return bools or none


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="radlens", description="RadLens DICOM viewer")
    parser.add_argument(
        "paths", nargs="*", metavar="PATH", help="DICOM files, folders, .zip, DICOMDIR"
    )
    parser.add_argument(
        "--demo", action="store_true", help="open the bundled sample study and analyse it"
    )
    parser.add_argument(
        "--screenshot", metavar="FILE", help="save a PNG of the window when ready, then exit"
    )
    return parser


def _configure_pyqtgraph() -> None:
    import pyqtgraph as pg

    pg.setConfigOptions(imageAxisOrder="row-major", antialias=True)


# Optional UI parts (`viewer/ui/addons.py`), installed in this order: measurement tools + DICOM
# tag browser, File → Export report…, AI assist (dock, menu, model), the PACS panel, DICOM
# SEG/SR (segment list, report panel, overlays).
EXTENSIONS = (
    AddOn("Measurement tools", install_tools),
    AddOn("Report export", install_report_action),
    AddOn("AI assist", install_ai),
    AddOn("PACS", install_pacs),
    AddOn("Segmentations and reports", install_seg_sr),
)


def install_extensions(window) -> list:
    """Let optional UI parts attach themselves; a failing one is reported, not fatal."""
    installed = []
    for addon in EXTENSIONS:
        try:
            installed.append(addon.install(window))
        except Exception as exc:  # noqa: BLE001 - the viewer stays usable without the part
            from viewer.ui.errors import details_text, log_exception, show_error, user_message

            log_exception(exc, f"{addon.title} unavailable")
            show_error(window, f"{addon.title} unavailable", user_message(exc), details_text(exc))
    return installed


class ScreenshotWhenReady(QObject):
    """Polls the window; once loading is over and it stays idle, saves the picture and exits."""

    def __init__(self, window, path: str, app: QApplication) -> None:
        super().__init__(window)
        self._window, self._path, self._app = window, path, app
        self._load_over = False
        self._stable = 0
        self._polls_left = SCREENSHOT_TIMEOUT_S * 1000 // SCREENSHOT_POLL_MS
        for signal in (window.loader.finished, window.loader.failed, window.loader.cancelled):
            signal.connect(self._mark_load_over)
        self._timer = QTimer(self)
        self._timer.timeout.connect(self._poll)
        self._timer.start(SCREENSHOT_POLL_MS)

    def _mark_load_over(self, *_) -> None:
        self._load_over = True

    def _poll(self) -> None:
        self._polls_left -= 1
        ready = self._load_over and self._window.is_idle() and not self._window.addons.busy()
        self._stable = self._stable + 1 if ready else 0
        if self._stable >= SCREENSHOT_STABLE_POLLS or self._polls_left <= 0:
            if self._polls_left <= 0:
                print(
                    "radlens: screenshot taken before the work finished (timeout)", file=sys.stderr
                )
            self._timer.stop()
            self._app.exit(self._save())

    def _save(self) -> int:
        from viewer.core.atomic import atomic_write_bytes
        from viewer.ui.viewport import png_bytes

        try:
            atomic_write_bytes(self._path, png_bytes(self._window.grab().toImage()))
        except OSError as exc:
            print(f"radlens: could not save the screenshot: {exc}", file=sys.stderr)
            return 1
        return 0


def build_window(settings=None, demo: bool = False):
    """The main window as `radlens` shows it: every optional part installed (`EXTENSIONS`).
    `settings` default to the user's saved ones; `demo` forces automatic analysis on."""
    from viewer.ui.main_window import MainWindow

    window = MainWindow(settings)
    if demo:
        window.auto_run_ai = True
    window.extensions = install_extensions(window)
    return window


def run_app(argv: list[str]) -> int:
    args = build_parser().parse_args(argv)
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s")
    protect_singletons()
    app = QApplication.instance() or QApplication([sys.argv[0] if sys.argv else "radlens"])
    app.setApplicationName("RadLens")
    _configure_pyqtgraph()
    from viewer.ui.errors import install_excepthook

    window = build_window(demo=args.demo)
    install_excepthook(lambda: window)
    if window.settings.window_geometry and not (args.demo or args.screenshot):
        window.restoreGeometry(QByteArray.fromHex(window.settings.window_geometry.encode("ascii")))
    paths = [str(sample_study_dir())] if args.demo else list(args.paths)
    if args.screenshot:
        ScreenshotWhenReady(window, args.screenshot, app)
    window.show()
    if paths:
        window.open_paths(paths)
    status = app.exec()
    window.close()
    return int(status)
