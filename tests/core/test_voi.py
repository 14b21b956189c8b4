"""VOI (PS3.3 C.11.2) checked against pydicom's own implementation on real files."""

from __future__ import annotations

import copy
import os

import numpy as np
import pydicom
import pytest
from pydicom.data import get_testdata_file
from pydicom.dataset import Dataset
from pydicom.pixels import apply_modality_lut
from pydicom.pixels import apply_voi as pydicom_apply_voi
from pydicom.pixels import apply_voi_lut as pydicom_apply_voi_lut
from pydicom.pixels import apply_windowing as pydicom_apply_windowing

from viewer.core.voi import (
    VoiLut,
    Window,
    apply_voi,
    auto_window,
    full_range_window,
    padding_mask,
    voi_luts_from_dataset,
    voi_to_uint8,
    voi_to_unit,
    window_spanning,
    windows_from_dataset,
)

TEST_FILES = os.path.dirname(get_testdata_file("CT_small.dcm"))

# Real files with Window Center/Width: (relative name, number of windows)
WINDOWED_FILES = [
    ("MR_small.dcm", 1),
    ("examples_overlay.dcm", 2),
    ("J2K_pixelrep_mismatch.dcm", 3),
    ("dicomdirtests/77654033/CR1/6154", 1),  # MONOCHROME1 CR with rescale slope 0.684
    ("dicomdirtests/77654033/CT2/17106", 1),
]


def _read(name: str) -> Dataset:
    return pydicom.dcmread(os.path.join(TEST_FILES, name))


def _modality_values(ds: Dataset) -> np.ndarray:
    return apply_modality_lut(ds.pixel_array, ds)


def _pydicom_unit_range(ds: Dataset) -> tuple[float, float]:
    """The y_min/y_max pydicom's apply_windowing maps to (PS3.3 C.11.2.1.2.1 output range)."""
    if ds.PixelRepresentation == 0:
        low, high = 0.0, 2.0**ds.BitsStored - 1
    else:
        low, high = -(2.0 ** (ds.BitsStored - 1)), 2.0 ** (ds.BitsStored - 1) - 1
    slope, intercept = ds.get("RescaleSlope"), ds.get("RescaleIntercept")
    if slope is not None and intercept is not None:
        low, high = low * float(slope) + float(intercept), high * float(slope) + float(intercept)
    return low, high


def _pydicom_windowed_unit(values: np.ndarray, ds: Dataset, index: int) -> np.ndarray:
    low, high = _pydicom_unit_range(ds)
    return (pydicom_apply_windowing(values, copy.deepcopy(ds), index) - low) / (high - low)


@pytest.mark.parametrize(("name", "count"), WINDOWED_FILES)
@pytest.mark.parametrize("function", ["LINEAR", "LINEAR_EXACT", "SIGMOID"])
def test_windows_match_pydicom_apply_windowing(name, count, function):
    ds = _read(name)
    ds.VOILUTFunction = function
    values = _modality_values(ds)
    windows = windows_from_dataset(ds)
    assert len(windows) == count
    for index, window in enumerate(windows):
        assert window.function == function
        expected = _pydicom_windowed_unit(values, ds, index)
        np.testing.assert_allclose(voi_to_unit(values, window), expected, atol=1e-5)


def test_multiple_windows_keep_their_explanations_by_index():
    ds = _read("examples_overlay.dcm")
    ds.WindowCenterWidthExplanation = ["SOFT", "SHARP"]
    windows = windows_from_dataset(ds)
    assert [(w.center, w.width, w.explanation) for w in windows] == [
        (450.0, 790.0, "SOFT"),
        (200.0, 443.0, "SHARP"),
    ]


def test_real_ct_window_matches_pydicom(ct_phantom_dir):
    ds = pydicom.dcmread(ct_phantom_dir / "I10")
    values = _modality_values(ds)
    window = windows_from_dataset(ds)[0]
    expected = _pydicom_windowed_unit(values, ds, 0)
    np.testing.assert_allclose(voi_to_unit(values, window), expected, atol=1e-5)
    # uint8 agrees with pydicom's result quantised the same way, to the unit
    expected_u8 = np.floor(expected * 255 + 0.5)
    np.testing.assert_array_equal(voi_to_uint8(values, window), expected_u8.astype(np.uint8))


def test_apply_voi_does_not_modify_input_and_scales_to_out_range():
    ds = _read("MR_small.dcm")
    values = _modality_values(ds)
    before = values.copy()
    window = windows_from_dataset(ds)[0]
    scaled = apply_voi(values, window)
    assert scaled.dtype == np.float32
    np.testing.assert_array_equal(values, before)
    np.testing.assert_allclose(scaled, voi_to_unit(values, window) * 255, atol=1e-3)
    assert scaled.min() >= 0 and scaled.max() <= 255


@pytest.mark.parametrize(
    "window",
    [
        Window(40, 0.5),
        Window(40, 0, "LINEAR_EXACT"),
        Window(40, -3, "SIGMOID"),
        Window(1, 1, "GAMMA"),
    ],
)
def test_unusable_windows_are_refused(window):
    with pytest.raises(ValueError):
        voi_to_unit(np.arange(10), window)


def test_file_windows_with_unusable_width_are_dropped():
    ds = _read("MR_small.dcm")
    ds.WindowCenter, ds.WindowWidth = [600, 100], [0, 50]
    assert windows_from_dataset(ds) == [Window(100.0, 50.0)]


# --- VOI LUT Sequence ------------------------------------------------------------------------


def _add_voi_lut(ds: Dataset, first: int, table: np.ndarray, bits: int, vr: str) -> Dataset:
    item = Dataset()
    descriptor_vr = "SS" if ds.PixelRepresentation == 1 else "US"
    item.add_new("LUTDescriptor", descriptor_vr, [len(table) % 65536, first, bits])
    item.LUTExplanation = "TEST LUT"
    if vr == "OW":
        item.add_new("LUTData", "OW", table.astype("<u2").tobytes())
    else:
        item.add_new("LUTData", "US", [int(v) for v in table])
    ds.VOILUTSequence = [item]
    return ds


@pytest.mark.parametrize(
    ("name", "first", "entries", "bits", "vr"),
    [
        ("MR_small.dcm", 200, 1500, 16, "US"),  # values below and above the table are clamped
        ("MR_small.dcm", 0, 4096, 12, "OW"),
        ("CT_small.dcm", -1024, 2048, 16, "US"),  # negative first mapped value (signed data)
        ("MR_small.dcm", 600, 256, 8, "US"),
        ("dicomdirtests/77654033/CR1/6154", 1500, 700, 10, "OW"),
    ],
)
def test_voi_lut_sequence_matches_pydicom_apply_voi(name, first, entries, bits, vr):
    ds = _read(name)
    rng = np.random.default_rng(7)
    table = np.sort(rng.integers(0, 2**bits, entries))
    ds = _add_voi_lut(ds, first, table, bits, vr)
    ds = pydicom.dcmread(_roundtrip(ds))  # read back as a file would be
    values = _modality_values(ds)
    values = np.round(values).astype(np.int32)  # VOI LUTs map integer inputs
    (lut,) = voi_luts_from_dataset(ds)
    assert (lut.first_mapped, lut.bits, len(lut.table)) == (first, bits, entries)
    assert lut.explanation == "TEST LUT"
    reference_input = values
    if bits == 8:  # pydicom indexes an 8-bit table in uint8, which wraps: clamp for it first
        reference_input = np.clip(values, first, first + entries - 1)
    expected = pydicom_apply_voi(reference_input, ds, 0) / (2.0**bits - 1)
    np.testing.assert_allclose(voi_to_unit(values, lut), expected, atol=1e-6)
    # the same through pydicom's combined entry point, which prefers the LUT
    combined = pydicom_apply_voi_lut(reference_input, ds) / (2.0**bits - 1)
    np.testing.assert_allclose(voi_to_unit(values, lut), combined, atol=1e-6)


def _roundtrip(ds: Dataset):
    import io

    buffer = io.BytesIO()
    ds.save_as(buffer, enforce_file_format=True)
    buffer.seek(0)
    return buffer


def test_voi_lut_entries_above_declared_bits_do_not_saturate():
    lut = VoiLut(first_mapped=0, bits=8, table=np.array([0, 1000, 4095], dtype=np.uint16))
    np.testing.assert_allclose(voi_to_unit(np.array([0, 1, 2, 9]), lut), [0, 1000 / 4095, 1, 1])


# --- automatic and full-range windows -------------------------------------------------------


def test_full_range_window_maps_min_to_black_and_max_to_white(ct_phantom_dir):
    values = _modality_values(pydicom.dcmread(ct_phantom_dir / "I10"))
    window = full_range_window(values)
    shown = voi_to_uint8(values, window)
    assert shown[values == values.min()].max() == 0
    assert shown[values == values.max()].min() == 255
    # a monotone mapping: the order of values is kept
    order = np.argsort(values, axis=None, kind="stable")
    assert np.all(np.diff(shown.ravel()[order].astype(int)) >= 0)


def test_full_range_window_for_real_values_uses_linear_exact():
    values = np.array([[0.25, 0.5], [1.0, 1.75]], dtype=np.float32)
    window = full_range_window(values)
    assert window.function == "LINEAR_EXACT"
    np.testing.assert_allclose(voi_to_unit(values, window), [[0, 1 / 6], [0.5, 1]], atol=1e-6)


def test_auto_window_keeps_pixel_padding_out():
    ds = _read("J2K_pixelrep_mismatch.dcm")  # CT whose outside-FOV pixels hold -2000
    values = _modality_values(ds)
    padded = values == -2000
    assert padded.mean() > 0.1
    with_padding = auto_window(values)
    without = auto_window(values, padding=-2000)
    assert with_padding.center - with_padding.width / 2 < -1999  # padding drags the window down
    low = without.center - without.width / 2
    kept = values[~padded]
    assert low > kept.min() - 1 and low > -1500
    # about 0.5 % of the real pixels fall below the window, 0.5 % above
    below = np.mean(kept < low)
    above = np.mean(kept > without.center + without.width / 2)
    assert 0.002 < below < 0.01 and 0.002 < above < 0.01


def test_padding_range_is_inclusive_in_either_order():
    values = np.array([-3000, -2001, -2000, -1500, -1000, 0])
    expected = [False, True, True, True, False, False]
    np.testing.assert_array_equal(padding_mask(values, (-1500, -2001)), expected)
    np.testing.assert_array_equal(padding_mask(values, (-2001, -1500)), expected)


def test_window_spanning_integer_bounds_are_exact():
    window = window_spanning(-100, 300)
    assert voi_to_uint8(np.array([-100, 300]), window).tolist() == [0, 255]


def test_auto_window_on_real_mr(mr_sag_dir):
    path = sorted((mr_sag_dir / "3_t1_fl2d_sag").iterdir())[17]
    values = _modality_values(pydicom.dcmread(path))
    window = auto_window(values, padding=0)
    shown = voi_to_uint8(values, window)
    assert np.mean(shown == 255) < 0.01  # at most ~0.5 % of the non-zero pixels saturate
    assert shown.std() > 30  # and the picture has contrast


def test_sigmoid_saturates_without_warnings():
    import warnings

    with warnings.catch_warnings():
        warnings.simplefilter("error")
        unit = voi_to_unit(np.array([-1e6, 40.0, 1e6]), Window(40, 2, "SIGMOID"))
    np.testing.assert_allclose(unit, [0.0, 0.5, 1.0])


def test_voi_lut_in_big_endian_ow_matches_pydicom():
    ds = _read("MR_small_bigendian.dcm")
    table = np.linspace(0, 4095, 2048).astype(np.uint16)
    item = Dataset()
    item.add_new("LUTDescriptor", "SS", [2048, 100, 12])
    item.add_new("LUTData", "OW", table.astype(">u2").tobytes())
    ds.VOILUTSequence = [item]
    values = ds.pixel_array
    (lut,) = voi_luts_from_dataset(ds)
    np.testing.assert_array_equal(lut.table, table)
    expected = pydicom_apply_voi(values, ds, 0) / 4095.0
    np.testing.assert_allclose(voi_to_unit(values, lut), expected, atol=1e-6)
