"""Error reporting at the UI boundary: a dialog for the user, a patient-free line in the log.

* `show_error(parent, title, message, details)` — non-modal message box; details are on screen
  only (they may name files), never logged.
* `log_exception(exc)` — logs the exception type and the code locations of its traceback, not
  its message (messages can carry paths or header values).
* `install_excepthook(parent_getter)` — unexpected exceptions in slots (including the results of
  a crashed background task) show the dialog instead of killing the app.
"""

from __future__ import annotations

import logging
import sys
import traceback

from PySide6.QtWidgets import QMessageBox, QWidget

from viewer.core.errors import RadLensError

log = logging.getLogger("radlens.ui")


def safe_summary(exc: BaseException) -> str:
    """One line for the log: the type and where it happened, without the message."""
    frames = traceback.extract_tb(exc.__traceback__)
    where = " <- ".join(f"{f.name}:{f.lineno}" for f in reversed(frames[-4:]))
    return f"{type(exc).__name__} at {where or 'unknown'}"


def log_exception(exc: BaseException, what: str = "background task failed") -> None:
    log.error("%s: %s", what, safe_summary(exc))


def user_message(exc: BaseException) -> str:
    """What the user reads: our own errors are already `file: reason`; others get their type."""
    if isinstance(exc, RadLensError):
        return str(exc)
    return f"Unexpected {type(exc).__name__}: {exc}"


def details_text(exc: BaseException) -> str:
    return "".join(traceback.format_exception(type(exc), exc, exc.__traceback__))


def show_error(parent: QWidget | None, title: str, message: str, details: str = "") -> QMessageBox:
    box = QMessageBox(
        QMessageBox.Icon.Warning, title, message, QMessageBox.StandardButton.Ok, parent
    )
    if details:
        box.setDetailedText(details)
    box.setModal(False)
    box.show()
    return box


def install_excepthook(parent_getter) -> None:
    """Route uncaught exceptions to a dialog; `parent_getter()` returns the window or None."""
    previous = sys.excepthook

    def hook(exc_type, exc, tb):
        if issubclass(exc_type, KeyboardInterrupt):
            previous(exc_type, exc, tb)
            return
        exc = exc if exc is not None else exc_type()
        exc.__traceback__ = tb
        log_exception(exc, "unexpected error")
        show_error(parent_getter(), "RadLens error", user_message(exc), details_text(exc))

    sys.excepthook = hook
