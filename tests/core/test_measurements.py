"""Measurements in mm (square and non-square pixels), ROI statistics and the JSON sidecar."""

from __future__ import annotations

import hashlib
import json
import math

import numpy as np
import pydicom
import pytest

from viewer.core.errors import RadLensError
from viewer.core.measurements import (
    Measurement,
    MeasurementStore,
    angle_deg,
    describe,
    ellipse_mask,
    length_mm,
    roi_stats,
    sidecar_path,
)
from viewer.paths import user_data_dir


@pytest.mark.parametrize(
    ("p0", "p1", "spacing", "expected"),
    [
        ((10, 10), (10, 110), (0.5, 0.5), 50.0),  # 100-pixel line at 0.5 mm reads 50 mm
        ((10, 10), (110, 10), (0.5, 0.25), 50.0),  # along the columns: row spacing counts
        ((10, 10), (10, 110), (0.5, 0.25), 25.0),  # along a row: column spacing counts
        ((0, 0), (100, 100), (0.5, 0.25), math.sqrt(50.0**2 + 25.0**2)),
    ],
)
def test_length_in_mm(p0, p1, spacing, expected):
    assert length_mm(p0, p1, spacing) == pytest.approx(expected)


def test_angle_is_measured_in_mm_space():
    assert angle_deg((0, 10), (0, 0), (10, 0), (0.7, 0.7)) == pytest.approx(90.0)
    # in pixels this is 45°, but rows are twice as tall as columns are wide
    assert angle_deg((0, 10), (0, 0), (10, 10), (0.5, 0.25)) == pytest.approx(
        math.degrees(math.atan2(10 * 0.5, 10 * 0.25))
    )
    with pytest.raises(ValueError):
        angle_deg((0, 0), (0, 0), (1, 1), (1, 1))


def test_rectangle_stats_match_numpy_on_a_real_ct(ct_phantom_dir):
    ds = pydicom.dcmread(ct_phantom_dir / "I10")
    values = ds.pixel_array * float(ds.RescaleSlope) + float(ds.RescaleIntercept)
    spacing = tuple(float(s) for s in ds.PixelSpacing)
    box = values[200:241, 150:231]  # rows 200..240, columns 150..230 inclusive
    stats = roi_stats(values, Measurement("rectangle", [(240, 230), (200, 150)]), spacing)
    assert stats.pixel_count == box.size == 41 * 81
    assert stats.mean == pytest.approx(box.mean())
    assert stats.sd == pytest.approx(box.std(ddof=1))
    assert (stats.min, stats.max) == (box.min(), box.max())
    assert stats.area_mm2 == pytest.approx(40 * spacing[0] * 80 * spacing[1])


def test_rectangle_area_with_non_square_pixels():
    values = np.arange(100 * 100, dtype=np.int16).reshape(100, 100)
    rect = Measurement("rectangle", [(9.5, 9.5), (19.5, 29.5)])  # covers 10 x 20 pixels
    stats = roi_stats(values, rect, (0.5, 0.25))
    assert stats.pixel_count == 200
    assert stats.area_mm2 == pytest.approx(5.0 * 5.0)
    assert stats.mean == pytest.approx(values[10:20, 10:30].mean())


def test_ellipse_stats_and_area():
    values = np.zeros((200, 300), dtype=np.float32)
    values[:, 150:] = 100.0  # left half 0, right half 100
    ellipse = Measurement("ellipse", [(50, 100), (150, 200)])  # a circle of radius 50 px
    stats = roi_stats(values, ellipse, (0.5, 0.25))
    assert stats.pixel_count == pytest.approx(math.pi * 50 * 50, rel=0.01)
    assert stats.area_mm2 == pytest.approx(math.pi * 25.0 * 12.5)
    assert stats.mean == pytest.approx(50.0, abs=1.0)  # symmetric across the edge
    assert (stats.min, stats.max) == (0.0, 100.0)
    mask = ellipse_mask(values.shape, (50, 100), (150, 200))
    np.testing.assert_array_equal(mask[50:151], mask[50:151][::-1])  # symmetric about row 100
    np.testing.assert_array_equal(mask[:, 100:201], mask[:, 100:201][:, ::-1])
    assert mask[100, 100] and mask[100, 200] and not mask[50, 100]


def test_describe_says_pixels_without_spacing():
    line = Measurement("length", [(0, 0), (0, 100)])
    assert describe(line, (0.5, 0.5)) == "50.0 mm"
    assert describe(line, None) == "100.0 px"


def test_measurement_json_round_trip_and_validation():
    m = Measurement("angle", [(1, 2), (3, 4), (5, 6.5)], label="Cobb")
    assert Measurement.from_json(json.loads(json.dumps(m.to_json()))) == m
    with pytest.raises(ValueError):
        Measurement("length", [(0, 0)])
    with pytest.raises(ValueError):
        Measurement("polygon", [(0, 0), (1, 1)])


STUDY_UID = "1.2.826.0.1.3680043.8.498.12345"
SOP_UID = "1.2.826.0.1.3680043.8.498.67890"


def test_store_round_trip_per_image_and_frame():
    store = MeasurementStore(STUDY_UID).load()
    line = Measurement("length", [(0, 0), (0, 100)], label="width")
    roi = Measurement("ellipse", [(10, 10), (20, 30)])
    store.add(SOP_UID, 0, line)
    store.add(SOP_UID, 3, roi)
    path = store.save()
    assert path.parent == user_data_dir() / "measurements"
    expected_name = hashlib.sha256(STUDY_UID.encode()).hexdigest()[:32]
    assert expected_name in path.name and STUDY_UID not in path.read_text()
    assert [p.name for p in path.parent.iterdir()] == [path.name]  # no temp file left

    again = MeasurementStore(STUDY_UID).load()
    assert again.get(SOP_UID, 0) == [line]
    assert again.get(SOP_UID, 3) == [roi]
    assert again.get(SOP_UID, 1) == []

    assert again.remove(SOP_UID, 0, line.id) and not again.remove(SOP_UID, 0, line.id)
    again.save()
    assert MeasurementStore(STUDY_UID).load().image_keys() == [f"{SOP_UID}#3"]

    again.delete()
    assert not path.exists()
    assert MeasurementStore(STUDY_UID).load().image_keys() == []


def test_store_never_touches_the_dicom_file(tmp_path, ct_phantom_dir):
    original = (ct_phantom_dir / "I10").read_bytes()
    ds = pydicom.dcmread(ct_phantom_dir / "I10")
    store = MeasurementStore(ds.StudyInstanceUID).load()
    store.add(ds.SOPInstanceUID, 0, Measurement("length", [(0, 0), (5, 5)]))
    saved = store.save()
    assert (ct_phantom_dir / "I10").read_bytes() == original
    assert saved.parent == user_data_dir() / "measurements"


def test_corrupt_sidecar_is_a_clear_error():
    path = sidecar_path(STUDY_UID)
    path.parent.mkdir(parents=True)
    path.write_text("{not json", encoding="utf-8")
    with pytest.raises(RadLensError, match="not a readable measurements file"):
        MeasurementStore(STUDY_UID).load()
