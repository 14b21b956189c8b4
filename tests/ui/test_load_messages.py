"""What the window says when a load opens little or nothing: an empty folder is named and stays
out of Recent, a folder of non-DICOM files never reads "the rest is shown", and a multi-frame
file whose frames fail counts as one file."""

from __future__ import annotations

import numpy as np
import pydicom
import pytest
from pydicom.encaps import encapsulate
from pydicom.uid import RLELossless, generate_uid

from tests.ui.conftest import load
from viewer.core.scan import SkippedFile
from viewer.ui.study_opener import load_outcome

pytestmark = pytest.mark.gui
FRAMES = 24


def _recent_entries(window) -> list[str]:
    return [action.text() for action in window.recent_menu.actions()]


def test_an_empty_folder_is_named_and_not_added_to_recent(qtbot, main_window, tmp_path):
    empty = tmp_path / "nothing-here"
    empty.mkdir()
    load(qtbot, main_window, [empty])
    box = main_window.skipped_message
    assert box is not None and box.isVisible()
    assert box.text() == f"No DICOM images found in {empty}."
    assert main_window.stack.currentWidget() is main_window.welcome
    assert str(empty) not in main_window.settings.recent
    assert str(empty) not in _recent_entries(main_window)


def test_a_folder_of_non_dicom_files_does_not_claim_the_rest_is_shown(qtbot, main_window, tmp_path):
    (tmp_path / "notes.txt").write_text("not DICOM")
    (tmp_path / "scan.jpg").write_bytes(b"\xff\xd8\xff\xe0 not really a JPEG")
    (tmp_path / "data.bin").write_bytes(bytes(range(256)) * 8)
    load(qtbot, main_window, [tmp_path])
    box = main_window.skipped_message
    assert "the rest is shown" not in box.text()
    assert box.text().startswith("None of the files could be opened: 3 file(s)")
    for name in ("notes.txt", "scan.jpg", "data.bin"):
        assert name in box.detailedText()
    assert main_window.current_series() is None
    assert str(tmp_path) not in main_window.settings.recent


def test_an_opened_folder_joins_recent_once_its_image_shows(qtbot, main_window, ct_phantom_dir):
    load(qtbot, main_window, [ct_phantom_dir])
    assert main_window.current_series() is not None
    assert main_window.settings.recent[0] == str(ct_phantom_dir)
    assert _recent_entries(main_window)[0] == str(ct_phantom_dir)
    assert main_window.skipped_message is None


def _multiframe_with_broken_frames(ct_phantom_dir, target):
    """A real CT slice as an RLE multi-frame object; every frame after the first is junk."""
    ds = pydicom.dcmread(sorted(p for p in ct_phantom_dir.iterdir() if p.is_file())[0])
    pixels = ds.pixel_array[::8, ::8].copy()  # 64×64 keeps the encoding quick
    ds.Rows, ds.Columns = pixels.shape
    ds.PixelData = pixels.tobytes()
    ds.compress(RLELossless, encoding_plugin="pydicom")
    first = pydicom.encaps.generate_frames(ds.PixelData, number_of_frames=1)
    frames = [next(first)] + [b"\x00junk, not an RLE frame\x00"] * (FRAMES - 1)
    ds.PixelData = encapsulate(frames, has_bot=True)
    ds.NumberOfFrames = FRAMES
    ds.SOPInstanceUID = ds.file_meta.MediaStorageSOPInstanceUID = generate_uid()
    ds.SeriesInstanceUID = generate_uid()
    ds.save_as(target, enforce_file_format=True)
    return pixels


def test_failed_frames_of_one_file_count_as_one_file(qtbot, main_window, ct_phantom_dir, tmp_path):
    folder = tmp_path / "mf"
    folder.mkdir()
    pixels = _multiframe_with_broken_frames(ct_phantom_dir, folder / "multi.dcm")
    load(qtbot, main_window, [folder])
    series = main_window.current_series()
    assert series is not None and len(series) == FRAMES
    assert np.array_equal(series.modality_frame(0).shape, pixels.shape)
    box = main_window.skipped_message
    assert box.text().startswith("1 file(s)") and "could not be opened" in box.text()
    assert box.detailedText().count("multi.dcm") == 1
    assert str(FRAMES - 1) in box.detailedText()  # how many of its frames failed


def test_outcome_wording():
    broken = [SkippedFile("a.dcm", "truncated"), SkippedFile("b.dcm", "no pixel data")]
    assert load_outcome([], shown=True, searched=["x"]) is None
    assert load_outcome([], shown=False, searched=[]) is None  # a cancelled load says nothing
    title, message, details = load_outcome(broken, shown=True, searched=["x"])
    assert message == "2 file(s) could not be opened and were skipped; the rest is shown."
    assert details == "a.dcm: truncated\nb.dcm: no pixel data"
    _, message, _ = load_outcome(broken[:1] * 3, shown=False, searched=["x"])
    assert message == "None of the files could be opened: 1 file(s) (3 frames)."
