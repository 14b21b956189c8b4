"""`radlens render` end to end: real files in, PNG out, checked against pydicom."""

from __future__ import annotations

import copy
import os

import numpy as np
import pydicom
import pytest
from PIL import Image
from pydicom.data import get_testdata_file
from pydicom.pixels import apply_modality_lut, apply_windowing

from viewer.cli import main
from viewer.core.index import build_index
from viewer.paths import sample_study_dir

STUDY_DIR = sample_study_dir() / "demo-study"


def _render(tmp_path, *args: str) -> tuple[int, np.ndarray | None]:
    out = tmp_path / "out.png"
    status = main(["render", *args, "--out", str(out)])
    if not out.exists():
        return status, None
    with Image.open(out) as image:
        return status, np.asarray(image).copy()


def _quantise(unit: np.ndarray) -> np.ndarray:
    return np.floor(np.clip(unit, 0, 1) * 255 + 0.5).astype(np.uint8)


def test_file_without_voi_renders_its_full_range(tmp_path):
    path = get_testdata_file("CT_small.dcm")  # no window in the file
    status, png = _render(tmp_path, path)
    values = apply_modality_lut(pydicom.dcmread(path).pixel_array, pydicom.dcmread(path))
    expected = _quantise((values - values.min()) / (values.max() - values.min()))
    assert status == 0 and png.dtype == np.uint8 and png.shape == values.shape
    np.testing.assert_array_equal(png, expected)


def test_ct_lung_preset_matches_pydicom_windowing(tmp_path, ct_phantom_dir):
    status, png = _render(tmp_path, str(ct_phantom_dir), "--preset", "lung", "--frame", "5")
    assert status == 0
    ds = pydicom.dcmread(_only_series(ct_phantom_dir).frames[5].path)
    ds.WindowCenter, ds.WindowWidth = -600, 1500
    values = apply_modality_lut(ds.pixel_array, ds)
    windowed = apply_windowing(values, copy.deepcopy(ds))
    low, high = -1024.0, 4095.0 - 1024.0  # pydicom's output range for 12-bit, intercept -1024
    np.testing.assert_array_equal(png, _quantise((windowed - low) / (high - low)))


def _only_series(folder):
    """The one stack the index finds in `folder` (frames in the order `--frame` counts)."""
    (info,) = [s for s in build_index([folder]).all_series() if s.frames]
    return info


def test_explicit_window_and_invert(tmp_path):
    path = get_testdata_file("MR_small.dcm")
    _, plain = _render(tmp_path, path, "--window", "600", "1600")
    status, inverted = _render(tmp_path, path, "--window", "600", "1600", "--invert")
    assert status == 0
    np.testing.assert_array_equal(inverted.astype(int), 255 - plain.astype(int))
    ds = pydicom.dcmread(path)
    expected = apply_windowing(ds.pixel_array, copy.deepcopy(ds))  # the file's own 600/1600
    np.testing.assert_array_equal(plain, _quantise((expected + 32768) / 65535))


def test_sample_mr_by_series_uid_and_frame(tmp_path):
    ds = pydicom.dcmread(_only_series(STUDY_DIR / "mr-sag-t1").frames[17].path)
    status, png = _render(
        tmp_path, str(STUDY_DIR), "--series", ds.SeriesInstanceUID, "--frame", "17"
    )
    assert status == 0 and png.shape == (256, 256)
    window = float(ds.WindowCenter), float(ds.WindowWidth)
    center, width = window[0] - 0.5, window[1] - 1
    unit = (ds.pixel_array - center) / width + 0.5  # PS3.3 C.11.2.1.2.1, clipped
    np.testing.assert_array_equal(png, _quantise(unit))


def test_monochrome1_sample_renders_upright(tmp_path, cxr_dir):
    status, png = _render(tmp_path, str(STUDY_DIR / "chest-ap-3.dcm"))
    source = cxr_dir / "samples-fullres" / "NORMAL" / "IM-0117-0001.jpeg"
    assert status == 0
    np.testing.assert_array_equal(png, np.asarray(Image.open(source).convert("L")))


def test_colour_file_writes_rgb(tmp_path):
    path = get_testdata_file("SC_rgb_rle.dcm")
    status, png = _render(tmp_path, path)
    assert status == 0 and png.shape[-1] == 3
    np.testing.assert_array_equal(png, pydicom.dcmread(path).pixel_array)


@pytest.mark.parametrize(
    ("args", "reason"),
    [
        (["--frame", "35"], "frame 35 is out of range"),
        (["--series", "1.2.3.4.5"], "no series with UID 1.2.3.4.5"),
        (["--preset", "lung"], "no window preset 'lung'"),
        (["--window", "40", "0"], "width of at least 1"),
    ],
)
def test_bad_requests_are_clear_errors(tmp_path, capsys, args, reason):
    mr_dir = STUDY_DIR / "mr-sag-t1"
    status, png = _render(tmp_path, str(mr_dir), *args)
    err = capsys.readouterr().err
    assert status != 0 and png is None
    assert reason in err and str(mr_dir) in err and "Traceback" not in err
    assert "RADLENS" not in err and "DEMO-0001" not in err  # no patient identifiers


def test_nothing_renderable_names_the_input(tmp_path, capsys):
    folder = tmp_path / "notes"
    folder.mkdir()
    (folder / "readme.txt").write_text("not DICOM", encoding="utf-8")
    status, png = _render(tmp_path, str(folder))
    err = capsys.readouterr().err
    assert status != 0 and png is None
    assert str(folder) in err and "nothing renderable" in err


def test_write_is_atomic_and_leaves_no_temp_files(tmp_path):
    status, _ = _render(tmp_path, get_testdata_file("MR_small.dcm"))
    assert status == 0
    assert sorted(os.listdir(tmp_path)) == ["out.png"]


def test_full_preset_leaves_pixel_padding_out(tmp_path):
    ds = pydicom.dcmread(get_testdata_file("CT_small.dcm"))  # int16 CT, intercept -1024
    stored = ds.pixel_array.copy()
    stored[:, :20] = -2000  # a padded border, as scanners write outside the field of view
    ds.PixelData = stored.tobytes()
    ds.add_new("PixelPaddingValue", "SS", -2000)
    path = tmp_path / "padded.dcm"
    ds.save_as(path)
    status, png = _render(tmp_path, str(path), "--preset", "full")
    assert status == 0
    values = apply_modality_lut(stored, ds)
    kept = values[:, 20:]
    expected = _quantise((values - kept.min()) / (kept.max() - kept.min()))
    np.testing.assert_array_equal(png, expected)
    assert png[:, :20].max() == 0 and png[:, 20:].max() == 255
