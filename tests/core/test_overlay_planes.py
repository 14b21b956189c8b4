"""Overlay planes (60xx): pydicom's Siemens MR with a 323-pixel overlay, and variants of it."""

from __future__ import annotations

import numpy as np
import pydicom
import pytest
from PIL import Image
from pydicom.data import get_testdata_file

from viewer.core.index import build_index
from viewer.core.overlay_planes import OVERLAY_COLOUR, burn_overlay, frame_overlay, overlay_mask
from viewer.core.series import open_series

OVERLAY_FILE = "MR-SIEMENS-DICOM-WithOverlays.dcm"
OVERLAY_PIXELS = 323


@pytest.fixture(scope="module")
def overlay_path():
    path = get_testdata_file(OVERLAY_FILE)  # an exact name: wildcards search (slowly) online
    if path is None:
        pytest.skip(f"{OVERLAY_FILE} not installed (pip install pydicom-data)")
    return path


def test_the_overlay_of_a_real_file_is_its_323_pixels(overlay_path):
    series = open_series(build_index([overlay_path]).all_series()[0])
    mask = frame_overlay(series, 0)
    assert mask.sum() == OVERLAY_PIXELS
    expected = pydicom.dcmread(overlay_path).overlay_array(0x6000).astype(bool)
    np.testing.assert_array_equal(mask, expected)


def test_origin_places_the_plane_and_clips_it(overlay_path):
    ds = pydicom.dcmread(overlay_path)
    reference = ds.overlay_array(0x6000).astype(bool)
    ds[0x6000, 0x0050].value = [11, -19]  # 10 rows down, 20 columns left
    mask = overlay_mask(ds, 0, ds.Rows, ds.Columns)
    shifted = np.zeros_like(reference)
    shifted[10:, :-20] = reference[:-10, 20:]
    np.testing.assert_array_equal(mask, shifted)


def test_per_frame_overlays_follow_the_image_frame(overlay_path):
    ds = pydicom.dcmread(overlay_path)
    plane = ds.overlay_array(0x6000).astype(np.uint8)
    second = np.zeros_like(plane)
    second[:5, :7] = 1
    packed = np.packbits(np.concatenate([plane.ravel(), second.ravel()]), bitorder="little")
    ds[0x6000, 0x3000].value = packed.tobytes()
    ds[0x6000, 0x0015].value = 2  # NumberOfFramesInOverlay
    ds[0x6000, 0x0051].value = 3  # ImageFrameOrigin: overlay frames are image frames 3 and 4
    rows, cols = ds.Rows, ds.Columns
    assert overlay_mask(ds, 1, rows, cols) is None
    assert overlay_mask(ds, 2, rows, cols).sum() == OVERLAY_PIXELS
    assert overlay_mask(ds, 3, rows, cols).sum() == 35
    assert overlay_mask(ds, 4, rows, cols) is None


def test_an_overlay_embedded_in_the_pixel_values(overlay_path):
    ds = pydicom.dcmread(overlay_path)
    plane = ds.overlay_array(0x6000).astype(bool)
    stored = ds.pixel_array.astype(np.uint16) & 0x0FFF
    stored[plane] |= 1 << 13
    del ds[0x6000, 0x3000]
    ds[0x6000, 0x0100].value = 16  # OverlayBitsAllocated: in the pixel data
    ds[0x6000, 0x0102].value = 13  # OverlayBitPosition
    mask = overlay_mask(ds, 0, ds.Rows, ds.Columns, stored)
    np.testing.assert_array_equal(mask, plane)


def test_a_header_promising_more_bits_than_the_data_is_left_out(overlay_path):
    ds = pydicom.dcmread(overlay_path)
    ds[0x6000, 0x0010].value = 60000  # OverlayRows far beyond the data
    assert overlay_mask(ds, 0, ds.Rows, ds.Columns) is None


def test_render_draws_the_planes_unless_asked_not_to(overlay_path, tmp_path):
    from viewer.cli import main

    with_planes, without = tmp_path / "with.png", tmp_path / "without.png"
    assert main(["render", overlay_path, "--out", str(with_planes)]) == 0
    assert main(["render", overlay_path, "--out", str(without), "--no-overlay-planes"]) == 0
    drawn = np.asarray(Image.open(with_planes).convert("RGB"))
    assert np.all(drawn == OVERLAY_COLOUR, axis=2).sum() == OVERLAY_PIXELS
    assert Image.open(without).mode == "L"


def test_the_report_key_image_carries_the_planes(overlay_path):
    from viewer.report.compose import compose_report

    series = open_series(build_index([overlay_path]).all_series()[0])
    key = compose_report(series, 0).key_images[0].display
    assert np.all(key == OVERLAY_COLOUR, axis=2).sum() == OVERLAY_PIXELS
    plain = compose_report(series, 0, overlay_planes=False).key_images[0].display
    assert plain.ndim == 2


def test_burning_leaves_an_image_without_planes_alone():
    image = np.zeros((4, 4), np.uint8)
    assert burn_overlay(image, None) is image
    assert burn_overlay(image, np.zeros((4, 4), bool)) is image


def test_a_series_without_planes_reads_no_header_for_them(ct_phantom_dir, overlay_path):
    ct = open_series(build_index([ct_phantom_dir]).all_series()[0])
    assert not ct.info.has_overlay_planes
    read_before = list(ct._headers)  # noqa: SLF001 - the headers the series has read
    assert frame_overlay(ct, 3) is None
    assert list(ct._headers) == read_before  # noqa: SLF001 - nothing more was read
    assert build_index([overlay_path]).all_series()[0].has_overlay_planes
