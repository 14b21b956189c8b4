"""render_array: VOI → MONOCHROME1 inversion (once) → invert toggle → uint8, on real files."""

from __future__ import annotations

import copy
import os

import numpy as np
import pydicom
import pytest
from pydicom.data import get_testdata_file
from pydicom.pixels import apply_modality_lut
from pydicom.pixels import apply_voi_lut as pydicom_apply_voi_lut

from viewer.core.render import display_inverted, render_array
from viewer.core.voi import Window, windows_from_dataset

TEST_FILES = os.path.dirname(get_testdata_file("CT_small.dcm"))
CR_MONOCHROME1 = os.path.join(TEST_FILES, "dicomdirtests", "77654033", "CR1", "6154")


def _pydicom_display(ds: pydicom.Dataset) -> np.ndarray:
    """Independent reference: pydicom's modality + VOI, normalised, MONOCHROME1 flipped, 8-bit."""
    values = apply_modality_lut(ds.pixel_array, ds)
    windowed = pydicom_apply_voi_lut(values, copy.deepcopy(ds))
    low = float(ds.RescaleIntercept)
    high = (2.0**ds.BitsStored - 1) * float(ds.RescaleSlope) + low
    unit = (windowed - low) / (high - low)
    if ds.PhotometricInterpretation == "MONOCHROME1":
        unit = 1.0 - unit
    return np.floor(unit * 255 + 0.5).astype(np.uint8)


def test_monochrome1_is_inverted_once_like_pydicom():
    ds = pydicom.dcmread(CR_MONOCHROME1)
    values = apply_modality_lut(ds.pixel_array, ds)
    window = windows_from_dataset(ds)[0]
    shown = render_array(values, window, ds.PhotometricInterpretation)
    np.testing.assert_array_equal(shown, _pydicom_display(ds))
    # the same numbers as MONOCHROME2 are the exact negative
    as_mono2 = render_array(values, window, "MONOCHROME2")
    np.testing.assert_array_equal(shown.astype(int), 255 - as_mono2.astype(int))


def test_invert_toggle_xors_with_monochrome1():
    ds = pydicom.dcmread(CR_MONOCHROME1)
    values = apply_modality_lut(ds.pixel_array, ds)
    window = windows_from_dataset(ds)[0]
    toggled = render_array(values, window, "MONOCHROME1", invert=True)
    np.testing.assert_array_equal(toggled, render_array(values, window, "MONOCHROME2"))
    assert display_inverted("MONOCHROME1") and not display_inverted("MONOCHROME1", True)
    assert display_inverted("MONOCHROME2", True) and not display_inverted("MONOCHROME2")


def test_real_ct_renders_like_pydicom(ct_phantom_dir):
    ds = pydicom.dcmread(ct_phantom_dir / "I10")
    values = apply_modality_lut(ds.pixel_array, ds)
    shown = render_array(values, windows_from_dataset(ds)[0], "MONOCHROME2")
    assert shown.dtype == np.uint8 and shown.shape == (512, 512)
    np.testing.assert_array_equal(shown, _pydicom_display(ds))


def test_input_array_is_never_modified():
    ds = pydicom.dcmread(CR_MONOCHROME1)
    values = apply_modality_lut(ds.pixel_array, ds)
    before = values.copy()
    render_array(values, windows_from_dataset(ds)[0], "MONOCHROME1", invert=True)
    render_array(values, None, "MONOCHROME1")
    np.testing.assert_array_equal(values, before)


def test_no_window_means_full_range():
    values = pydicom.dcmread(get_testdata_file("MR_small.dcm")).pixel_array
    shown = render_array(values, None)
    assert shown[values == values.min()].max() == 0
    assert shown[values == values.max()].min() == 255


def test_full_range_skips_padding():
    values = np.array([[-2000, -2000], [0, 100]], dtype=np.int16)
    shown = render_array(values, None, padding=-2000)
    assert shown.tolist() == [[0, 0], [0, 255]]


@pytest.mark.parametrize("name", ["SC_rgb_rle.dcm", "SC_rgb_rle_16bit.dcm"])
def test_colour_passes_through_and_inverts(name):
    ds = pydicom.dcmread(get_testdata_file(name))
    rgb = ds.pixel_array
    shown = render_array(rgb, None, ds.PhotometricInterpretation)
    assert shown.dtype == np.uint8 and shown.shape == rgb.shape
    expected = rgb if rgb.dtype == np.uint8 else np.floor(rgb / 65535.0 * 255 + 0.5)
    np.testing.assert_array_equal(shown, expected.astype(np.uint8))
    inverted = render_array(rgb, None, ds.PhotometricInterpretation, invert=True)
    np.testing.assert_array_equal(inverted.astype(int), 255 - shown.astype(int))
    assert shown is not rgb


@pytest.mark.parametrize("dtype", ["int16", ">i2", "uint16", "uint8", "int8"])
def test_integer_lookup_path_equals_direct_computation(dtype):
    stored = pydicom.dcmread(get_testdata_file("CT_small.dcm")).pixel_array  # int16, 128..2191
    values = (stored.astype(np.int64) - 1024).clip(np.iinfo(dtype).min, np.iinfo(dtype).max)
    values = values.astype(dtype)
    for window in (Window(40, 400), Window(-600, 1500, "SIGMOID"), None):
        for photometric in ("MONOCHROME1", "MONOCHROME2"):
            via_table = render_array(values, window, photometric)
            direct = render_array(values.astype(np.float64), window, photometric)
            np.testing.assert_array_equal(via_table, direct)


def test_render_frame_on_a_real_series_matches_pydicom(ct_phantom_dir):
    from viewer.core.index import build_index
    from viewer.core.render import render_frame
    from viewer.core.series import open_series

    (info,) = [s for s in build_index([ct_phantom_dir]).all_series() if s.frames]
    series = open_series(info)
    for i in (0, len(series) // 2):
        ds = pydicom.dcmread(info.frames[i].path)
        np.testing.assert_array_equal(render_frame(series, i), _pydicom_display(ds))
        inverted = render_frame(series, i, invert=True)
        np.testing.assert_array_equal(inverted.astype(int), 255 - _pydicom_display(ds).astype(int))


def test_render_frame_of_an_enhanced_multiframe_uses_its_per_frame_window(enhanced_mr_dir):
    from viewer.core.index import build_index
    from viewer.core.render import render_frame
    from viewer.core.series import open_series

    path = enhanced_mr_dir / "Philips" / "IM_0027_fMAP.dcm"
    info = next(s for s in build_index([path]).all_series() if s.frames)
    series = open_series(info)
    ds = pydicom.dcmread(path)
    i = 10
    groups = ds.PerFrameFunctionalGroupsSequence[info.frames[i].frame_index]
    rescale = groups.PixelValueTransformationSequence[0]
    voi = groups.FrameVOILUTSequence[0]
    values = ds.pixel_array[info.frames[i].frame_index] * float(rescale.RescaleSlope) + float(
        rescale.RescaleIntercept
    )
    center, width = float(voi.WindowCenter) - 0.5, float(voi.WindowWidth) - 1  # C.11.2.1.2.1
    expected = np.floor(np.clip((values - center) / width + 0.5, 0, 1) * 255 + 0.5)
    np.testing.assert_array_equal(render_frame(series, i), expected.astype(np.uint8))


def _padded_ct(source, target, padding_value: int = 4000):
    """A real CT slice with a padded top border, PixelPaddingValue set and no window of its own."""
    ds = pydicom.dcmread(source)
    stored = ds.pixel_array.copy()
    stored[:20, :] = padding_value
    ds.PixelData = stored.tobytes()
    ds.add_new("PixelPaddingValue", "US", padding_value)
    del ds.WindowCenter, ds.WindowWidth
    ds.save_as(target)
    return ds


def test_initial_voi_leaves_ct_padding_out_once_rescaled(ct_phantom_dir, tmp_path):
    from viewer.core.index import build_index
    from viewer.core.render import modality_padding, render_frame
    from viewer.core.series import open_series

    ds = _padded_ct(ct_phantom_dir / "I10", tmp_path / "padded.dcm")
    (info,) = build_index([tmp_path / "padded.dcm"]).all_series()
    series = open_series(info)
    (padding_hu,) = apply_modality_lut(np.array([4000]), ds)  # stored 4000 → HU, by pydicom
    assert modality_padding(series, 0) == (padding_hu, padding_hu)
    values = apply_modality_lut(ds.pixel_array, ds)
    low, high = values[20:].min(), values[20:].max()  # the padding must not set the window's top
    expected = np.floor(np.clip((values - low) / (high - low), 0, 1) * 255 + 0.5)
    shown = render_frame(series, 0)
    assert np.abs(shown.astype(int) - expected.astype(int)).max() <= 1  # float32 rounding
    assert shown[20:][values[20:] == high].min() == 255


def test_modality_padding_follows_the_per_frame_rescale_of_enhanced_mr(enhanced_mr_dir, tmp_path):
    from viewer.core.index import build_index
    from viewer.core.render import modality_padding
    from viewer.core.series import open_series

    ds = pydicom.dcmread(enhanced_mr_dir / "Philips" / "IM_0027_fMAP.dcm")
    ds.add_new("PixelPaddingValue", "US", 100)
    ds.save_as(tmp_path / "padded.dcm")
    stacks = build_index([tmp_path / "padded.dcm"]).all_series()
    assert len(stacks) == 2
    for info in stacks:
        series = open_series(info)
        for i in (0, len(series) - 1):
            groups = ds.PerFrameFunctionalGroupsSequence[info.frames[i].frame_index]
            rescale = groups.PixelValueTransformationSequence[0]
            (expected,) = apply_modality_lut(np.array([100]), rescale)
            assert modality_padding(series, i) == pytest.approx((expected, expected))


@pytest.mark.parametrize("dtype", ["<u2", "<i2", ">i2", "u1", "<f4"])
@pytest.mark.parametrize("photometric", ["MONOCHROME2", "MONOCHROME1"])
def test_argb32_packs_exactly_the_render_array_pixels_of_any_strided_view(dtype, photometric):
    from viewer.core.render import render_argb32

    rng = np.random.default_rng(3)
    values = rng.integers(-1024, 3000 if dtype != "u1" else 255, (90, 70)).astype(dtype)
    view = values[5:80:3, 2:66:2]  # a screen-sized sample of a frame, not contiguous
    window = Window(40, 400)
    packed = render_argb32(view, window, photometric, invert=True)
    grey = render_array(view, window, photometric, invert=True)
    assert packed.dtype == np.uint32 and packed.shape == grey.shape
    for shift in (0, 8, 16):
        np.testing.assert_array_equal((packed >> shift) & 0xFF, grey)
    np.testing.assert_array_equal(packed >> 24, 0xFF)


def test_argb32_of_colour_keeps_the_channels():
    from viewer.core.render import render_argb32

    rgb = np.random.default_rng(4).integers(0, 256, (20, 30, 3)).astype(np.uint8)
    packed = render_argb32(rgb, None)
    for channel, shift in enumerate((16, 8, 0)):
        np.testing.assert_array_equal((packed >> shift) & 0xFF, rgb[..., channel])
