"""build_index + open_series on the real CT, MR and enhanced MR data."""

from __future__ import annotations

import numpy as np
import pydicom
import pytest
from pydicom.multival import MultiValue
from pydicom.pixels import apply_modality_lut

from viewer.core.index import build_index
from viewer.core.scan import header_value
from viewer.core.series import open_series
from viewer.core.sorting import slice_normal


def _distances(info) -> np.ndarray:
    normal = slice_normal(info.frames[0].orientation)
    return np.array([np.dot(f.position, normal) for f in info.frames])


def test_ct_phantom_is_one_sorted_stack(ct_phantom_dir):
    index = build_index([ct_phantom_dir])
    (info,) = index.all_series()
    assert info.modality == "CT" and (info.rows, info.columns) == (512, 512)
    assert len(info.frames) == 54
    steps = np.diff(_distances(info))
    assert np.all(steps > 0), "frames must ascend along the slice normal"
    assert info.key.startswith(info.series_instance_uid)
    assert index.find_series(info.series_instance_uid) is info
    assert info.study.patient.studies[0] is info.study


def test_ct_modality_values_match_pydicom(ct_phantom_dir):
    info = build_index([ct_phantom_dir]).all_series()[0]
    series = open_series(info)
    for i in (0, 27, 53):
        ds = pydicom.dcmread(info.frames[i].path)
        expected = apply_modality_lut(ds.pixel_array, ds)
        got = series.modality_frame(i)
        assert got.dtype == np.float32
        np.testing.assert_allclose(got, expected, rtol=0, atol=1e-3)


def test_mr_identity_rescale_keeps_stored_dtype(mr_sag_dir):
    index = build_index([mr_sag_dir / "3_t1_fl2d_sag"])
    (info,) = index.all_series()
    series = open_series(info)
    ds = pydicom.dcmread(info.frames[10].path)
    frame = series.modality_frame(10)
    assert frame.dtype == ds.pixel_array.dtype
    np.testing.assert_array_equal(frame, ds.pixel_array)
    window = series.windows(10)[0]
    assert (window.center, window.width) == (float(ds.WindowCenter), float(ds.WindowWidth))
    assert series.default_window(10) == window


def test_sagittal_geometry_and_letters(mr_sag_dir):
    info = build_index([mr_sag_dir / "3_t1_fl2d_sag"]).all_series()[0]
    series = open_series(info)
    geometry = series.geometry(0)
    ds = series.header(0)
    spacing = [float(v) for v in ds.PixelSpacing]
    assert geometry.spacing == (spacing[0], spacing[1])
    np.testing.assert_allclose(
        geometry.pixel_to_patient(0, 0), [float(v) for v in ds.ImagePositionPatient]
    )
    iop = np.array([float(v) for v in ds.ImageOrientationPatient])
    expected = (
        np.array([float(v) for v in ds.ImagePositionPatient])
        + 3 * spacing[0] * iop[3:]
        + 5 * spacing[1] * iop[:3]
    )
    np.testing.assert_allclose(geometry.pixel_to_patient(3, 5), expected)
    # Sagittal: columns run anterior→posterior, rows run head→foot.
    assert geometry.row_direction_letters()[0] == "P"
    assert geometry.column_direction_letters()[0] == "F"
    assert geometry.edge_labels()["top"][0] == "H"


def test_diffusion_frames_sharing_a_position_warn(mr_sag_dir):
    index = build_index([mr_sag_dir / "4_ep2d_diff_mddw_20_p2"])
    (info,) = index.all_series()
    assert len(info.frames) == 13
    assert any("distinct slice positions" in w for w in info.warnings)
    numbers = [f.instance_number for f in info.frames]
    assert numbers == sorted(numbers)


def test_enhanced_mr_splits_magnitude_and_field_map(enhanced_mr_dir):
    index = build_index([enhanced_mr_dir / "Philips"])
    stacks = index.all_series()
    assert [len(s.frames) for s in stacks] == [32, 32]
    assert {s.series_instance_uid for s in stacks} == {stacks[0].series_instance_uid}
    assert len({s.key for s in stacks}) == 2
    for info in stacks:
        assert np.all(np.diff(_distances(info)) > 0)


def test_enhanced_mr_per_frame_rescale_and_voi(enhanced_mr_dir):
    path = enhanced_mr_dir / "Philips" / "IM_0027_fMAP.dcm"
    ds = pydicom.dcmread(path)
    stored = ds.pixel_array
    for info in build_index([path]).all_series():
        series = open_series(info)
        for i in (0, len(series) - 1):
            k = info.frames[i].frame_index
            group = ds.PerFrameFunctionalGroupsSequence[k]
            transform = group.PixelValueTransformationSequence[0]
            expected = stored[k] * float(transform.RescaleSlope) + float(transform.RescaleIntercept)
            np.testing.assert_allclose(series.modality_frame(i), expected, rtol=1e-6, atol=1e-3)
            voi = group.FrameVOILUTSequence[0]
            window = series.windows(i)[0]
            assert (window.center, window.width) == (
                float(voi.WindowCenter),
                float(voi.WindowWidth),
            )
            position = [float(v) for v in group.PlanePositionSequence[0].ImagePositionPatient]
            np.testing.assert_allclose(series.geometry(i).pixel_to_patient(0, 0), position)


def test_enhanced_siemens_split_by_acquisition(enhanced_mr_dir):
    stacks = build_index([enhanced_mr_dir / "Siemens"]).all_series()
    assert len(stacks) == 4 and all(len(s.frames) == 6 for s in stacks)
    for info in stacks:
        assert len({f.path for f in info.frames}) == 1


def test_progress_and_cancel(ct_phantom_dir):
    seen = []
    build_index([ct_phantom_dir], progress=lambda done, total: seen.append((done, total)))
    assert seen[-1] == (54, 54) and len(seen) == 54
    calls = iter(range(1000))
    index = build_index([ct_phantom_dir], cancel=lambda: next(calls) >= 10)
    assert len(index.all_series()[0].frames) == 10


def test_frame_index_out_of_range(ct_phantom_dir):
    series = open_series(build_index([ct_phantom_dir]).all_series()[0])
    with pytest.raises(IndexError):
        series.modality_frame(54)


SCAN_KEYWORDS = [
    "SOPInstanceUID",
    "SOPClassUID",
    "InstanceNumber",
    "Modality",
    "SeriesInstanceUID",
    "SeriesNumber",
    "SeriesDescription",
    "AcquisitionNumber",
    "ImageType",
    "Rows",
    "Columns",
    "BitsAllocated",
    "BitsStored",
    "SamplesPerPixel",
    "PixelRepresentation",
    "PhotometricInterpretation",
    "NumberOfFrames",
    "ImagePositionPatient",
    "ImageOrientationPatient",
    "RescaleSlope",
    "RescaleIntercept",
    "PatientName",
    "PatientID",
    "PatientBirthDate",
    "PatientSex",
    "PatientAge",
    "StudyInstanceUID",
    "StudyDate",
    "StudyTime",
    "StudyDescription",
    "AccessionNumber",
    "ReferringPhysicianName",
    "InstitutionName",
]


def _normalised(value) -> list[str]:
    if value is None or value == "":
        return []
    values = value if isinstance(value, list | MultiValue) else [value]
    return [str(v) for v in values]


def test_raw_header_values_equal_pydicom_conversion(ct_phantom_dir, mr_sag_dir, enhanced_mr_dir):
    from pathlib import Path

    test_files = Path(pydicom.data.__file__).parent / "test_files"
    paths = [ct_phantom_dir / "I10", next((mr_sag_dir / "3_t1_fl2d_sag").iterdir())]
    paths += sorted(enhanced_mr_dir.rglob("*.dcm"))[:2]
    paths += [
        test_files / n for n in ("MR_small_implicit.dcm", "MR_small_bigendian.dcm", "CT_small.dcm")
    ]
    for path in paths:
        raw = pydicom.dcmread(path, stop_before_pixels=True)
        converted = pydicom.dcmread(path, stop_before_pixels=True)
        for keyword in SCAN_KEYWORDS:
            ours = _normalised(header_value(raw, keyword))
            theirs = _normalised(converted.get(keyword))
            if ours != theirs:  # DS/IS text vs number: compare as numbers
                assert [float(v) for v in ours] == [float(v) for v in theirs], (path, keyword)


def test_split_stacks_say_what_differs(enhanced_mr_dir):
    siemens = build_index([enhanced_mr_dir / "Siemens"]).all_series()
    assert sorted(s.stack_label for s in siemens) == [f"time point {n}" for n in range(1, 5)]
    philips = build_index([enhanced_mr_dir / "Philips"]).all_series()
    assert sorted(s.stack_label for s in philips) == ["T1 field map", "T1 magnitude"]


def test_planes_are_named_by_the_slice_normal():
    from viewer.core.sorting import plane_name

    assert plane_name((1, 0, 0, 0, 1, 0)) == "axial"
    assert plane_name((0, 1, 0, 0, 0, -1)) == "sagittal"
    assert plane_name((1, 0, 0, 0, 0, -1)) == "coronal"
    assert plane_name((1, 0, 0, 0, 0.7071, -0.7071)) == "oblique"
