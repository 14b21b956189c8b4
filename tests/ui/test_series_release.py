"""The study opener closes a series another copy of it replaced, once no view shows it."""

from __future__ import annotations

import numpy as np
import pydicom
from pydicom.data import get_testdata_file
from pydicom.uid import DeflatedExplicitVRLittleEndian

from tests.ui.conftest import LOAD_TIMEOUT_MS, load


def deflated_multiframe(folder) -> str:
    """Four frames of CT_small, deflated: the series holds the file open while it reads it."""
    ds = pydicom.dcmread(get_testdata_file("CT_small.dcm"))
    ds.PixelData = np.stack([ds.pixel_array + 7 * k for k in range(4)]).tobytes()
    ds.NumberOfFrames = 4
    ds.file_meta.TransferSyntaxUID = DeflatedExplicitVRLittleEndian
    path = folder / "multi.dcm"
    ds.save_as(path, enforce_file_format=True)
    return str(path)


def test_a_replaced_series_no_view_shows_is_closed(qtbot, main_window, tmp_path):
    path = deflated_multiframe(tmp_path)
    load(qtbot, main_window, [path])
    opener = main_window.opener
    (old,) = opener.series.values()
    old.stored_frame(2)  # the deflated file is open
    assert old._deflated.inflated(path) > 0
    with qtbot.waitSignal(main_window.loader.finished, timeout=LOAD_TIMEOUT_MS):
        opener.index_paths([path], merge=True)  # the same series read again: a new object
    (new,) = opener.series.values()
    assert new is not old and main_window.grid.active.series() is new
    assert old._deflated.inflated(path) == 0  # closed: its file handle and scratch are gone
