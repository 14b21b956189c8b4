"""RadLens's small exception hierarchy; caught at the UI/CLI boundary and shown as `file: reason`."""

from __future__ import annotations


class RadLensError(Exception):
    """Base for every error RadLens reports to the user without a traceback."""


class DicomReadError(RadLensError):
    """A file could not be read as DICOM (or its pixels could not be decoded)."""

    def __init__(self, path: str, reason: str) -> None:
        super().__init__(f"{path}: {reason}")
        self.path = path
        self.reason = reason


class LoadCancelled(RadLensError):
    """A background load was cancelled by the user (not an error to report)."""
