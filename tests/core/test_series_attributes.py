"""Series VOI, padding, projection geometry and stack/sort warnings on derived real files."""

from __future__ import annotations

import copy

import numpy as np
import pydicom
import pytest
from pydicom.data import get_testdata_file
from pydicom.dataset import Dataset
from pydicom.pixels import apply_modality_lut, apply_voi_lut, apply_windowing
from pydicom.sequence import Sequence
from pydicom.uid import generate_uid

from viewer.core.index import build_index
from viewer.core.loader import load_volume
from viewer.core.render import initial_voi
from viewer.core.series import open_series
from viewer.core.voi import Window, full_range_window


def derived(source, target, **changes) -> pydicom.Dataset:
    ds = pydicom.dcmread(source)
    ds.SOPInstanceUID = generate_uid()
    ds.file_meta.MediaStorageSOPInstanceUID = ds.SOPInstanceUID
    for keyword, value in changes.items():
        if value is None:
            delattr(ds, keyword)
        else:
            setattr(ds, keyword, value)
    ds.save_as(target)
    return ds


def only_series(path):
    (info,) = build_index([path]).all_series()
    return open_series(info)


def pydicom_unit(header: pydicom.Dataset, values, window: Window) -> np.ndarray:
    """pydicom's own windowing (PS3.3 C.11.2.1.2) of `values` with `window`, scaled to [0, 1]."""
    ds = copy.deepcopy(header)
    ds.WindowCenter, ds.WindowWidth = window.center, window.width
    ds.VOILUTFunction = window.function
    out = apply_windowing(np.asarray(values, dtype=np.float64), copy.deepcopy(ds))
    low, high = apply_windowing(np.array([-1e9, 1e9]), ds)
    return (out - low) / (high - low)


def test_multiple_windows_with_explanations_and_function(ct_phantom_dir, tmp_path):
    derived(
        ct_phantom_dir / "I10",
        tmp_path / "ct.dcm",
        WindowCenter=[40, 400],
        WindowWidth=[80, 2000],
        WindowCenterWidthExplanation=["BRAIN", "BONE"],
        VOILUTFunction="SIGMOID",
    )
    series = only_series(tmp_path / "ct.dcm")
    windows = series.windows(0)
    assert [(w.center, w.width, w.explanation) for w in windows] == [
        (40.0, 80.0, "BRAIN"),
        (400.0, 2000.0, "BONE"),
    ]
    assert {w.function for w in windows} == {"SIGMOID"}
    assert series.default_window(0) == windows[0]


def test_default_window_is_full_range_without_file_voi(ct_phantom_dir, tmp_path):
    ds = derived(ct_phantom_dir / "I10", tmp_path / "ct.dcm", WindowCenter=None, WindowWidth=None)
    series = only_series(tmp_path / "ct.dcm")
    assert series.windows(0) == []
    values = apply_modality_lut(ds.pixel_array, ds)
    low, high = values.min(), values.max()
    window = series.default_window(0)
    unit = pydicom_unit(ds, [low, low + 1, high - 1, high], window)
    assert unit[0] == 0 and unit[-1] == 1  # min shows black, max white ...
    assert 0 < unit[1] < unit[2] < 1  # ... and no grey level is lost at either end
    assert window == full_range_window(values) == initial_voi(series, 0)


def test_pixel_padding_in_modality_units_and_excluded(ct_phantom_dir, tmp_path):
    ds = pydicom.dcmread(ct_phantom_dir / "I10")
    stored = ds.pixel_array.copy()
    stored[:20, :] = 4000  # a padded border, stored value 4000 → 2976 HU
    ds.PixelData = stored.tobytes()
    ds.add_new("PixelPaddingValue", "US", 4000)
    ds.save_as(tmp_path / "padded.dcm")
    derived(tmp_path / "padded.dcm", tmp_path / "padded.dcm", WindowCenter=None, WindowWidth=None)
    series = only_series(tmp_path / "padded.dcm")
    intercept = float(ds.RescaleIntercept)
    assert series.pixel_padding == (4000 + intercept, 4000 + intercept)
    inside = apply_modality_lut(stored[20:], ds)
    window = series.default_window(0)
    unit = pydicom_unit(ds, [inside.min(), inside.max() - 1, inside.max()], window)
    assert unit[0] == 0 and unit[1] < 1 and unit[2] == 1  # the padding is not the white point
    assert window == initial_voi(series, 0)
    assert window == full_range_window(inside.ravel(), None)


def test_voi_lut_sequence(mr_sag_dir, tmp_path):
    source = sorted((mr_sag_dir / "3_t1_fl2d_sag").iterdir())[10]
    item = Dataset()
    item.LUTDescriptor = [4096, 0, 16]
    item.LUTData = np.minimum(np.arange(4096) * 16, 65535).astype("<u2").tobytes()
    item.LUTExplanation = "x16"
    ds = derived(source, tmp_path / "mr.dcm", VOILUTSequence=Sequence([item]))
    series = only_series(tmp_path / "mr.dcm")
    lut = series.voi_lut(0)
    assert (lut.first_mapped, lut.bits, lut.explanation) == (0, 16, "x16")
    reread = pydicom.dcmread(tmp_path / "mr.dcm")
    expected = apply_voi_lut(reread.pixel_array, reread, prefer_lut=True)
    stored = series.modality_frame(0)
    np.testing.assert_array_equal(lut.table[np.clip(stored, 0, 4095)], expected)
    assert ds.pixel_array.dtype == stored.dtype


def test_projection_radiograph_uses_imager_pixel_spacing(ct_phantom_dir, tmp_path):
    derived(
        ct_phantom_dir / "I10",
        tmp_path / "dx.dcm",
        Modality="DX",
        PixelSpacing=None,
        ImagePositionPatient=None,
        ImageOrientationPatient=None,
        ImagerPixelSpacing=[0.15, 0.2],
        PatientOrientation=["L", "F"],
        PhotometricInterpretation="MONOCHROME1",
    )
    series = only_series(tmp_path / "dx.dcm")
    geometry = series.geometry(0)
    assert geometry.spacing == (0.15, 0.2) and geometry.spacing_source == "ImagerPixelSpacing"
    assert not geometry.has_patient_geometry
    assert geometry.edge_labels() == {"right": "L", "left": "R", "bottom": "F", "top": "H"}
    assert series.photometric == "MONOCHROME1" and not series.is_color


def test_instance_number_fallback_warns(ct_phantom_dir, tmp_path):
    for n, name in enumerate(("I30", "I10", "I20")):
        derived(ct_phantom_dir / name, tmp_path / f"{n}.dcm", ImagePositionPatient=None)
    (info,) = build_index([tmp_path]).all_series()
    assert [f.instance_number for f in info.frames] == [1, 2, 3]
    assert any("Instance Number" in w for w in info.warnings)


def test_localizer_goes_to_its_own_stack(ct_phantom_dir, tmp_path):
    for name in ("I10", "I20", "I30", "I40"):
        derived(ct_phantom_dir / name, tmp_path / name)
    derived(
        ct_phantom_dir / "I50",
        tmp_path / "scout",
        ImageType=["ORIGINAL", "PRIMARY", "LOCALIZER"],
        ImageOrientationPatient=[0, 1, 0, 0, 0, -1],
    )
    stacks = build_index([tmp_path]).all_series()
    assert [len(s.frames) for s in stacks] == [4, 1]
    assert stacks[1].stack_label == "localizer"
    assert all("split into 2 stacks" in s.warnings[0] for s in stacks)


def test_uneven_spacing_warns(ct_phantom_dir, tmp_path):
    for name in ("I10", "I20", "I30", "I40", "I50"):
        derived(ct_phantom_dir / name, tmp_path / name)
    ds = pydicom.dcmread(tmp_path / "I30")
    position = [float(v) for v in ds.ImagePositionPatient]
    ds.ImagePositionPatient = [position[0], position[1], position[2] + 0.6]
    ds.save_as(tmp_path / "I30")
    (info,) = build_index([tmp_path]).all_series()
    assert any("uneven slice spacing" in w for w in info.warnings)


def test_modality_lut_sequence_is_applied(mr_sag_dir, tmp_path):
    source = sorted((mr_sag_dir / "3_t1_fl2d_sag").iterdir())[10]
    item = Dataset()
    item.LUTDescriptor = [4096, 0, 16]
    item.ModalityLUTType = "US"
    item.LUTData = (np.arange(4096) * 3 % 65536).astype("<u2").tobytes()
    derived(source, tmp_path / "mr.dcm", ModalityLUTSequence=Sequence([item]))
    series = only_series(tmp_path / "mr.dcm")
    reread = pydicom.dcmread(tmp_path / "mr.dcm")
    expected = apply_modality_lut(reread.pixel_array, reread)
    np.testing.assert_array_equal(series.modality_frame(0), expected)
    volume, _ = load_volume(series.info, workers=0)
    np.testing.assert_array_equal(volume[0], expected)


def test_linear_window_narrower_than_one_is_skipped(ct_phantom_dir, tmp_path):
    ds = derived(ct_phantom_dir / "I10", tmp_path / "ct.dcm", WindowCenter=[40, 50])
    ds.WindowWidth = [0.5, 400]
    ds.save_as(tmp_path / "ct.dcm")
    with pytest.raises(ValueError, match="Window Width"):  # pydicom refuses the first window
        apply_windowing(apply_modality_lut(ds.pixel_array, ds), copy.deepcopy(ds))
    series = only_series(tmp_path / "ct.dcm")
    assert [(w.center, w.width) for w in series.windows(0)] == [(50.0, 400.0)]
    assert series.default_window(0) == initial_voi(series, 0) == series.windows(0)[0]


def test_voi_lut_table_of_a_big_endian_file(tmp_path):
    ds = pydicom.dcmread(get_testdata_file("MR_small_bigendian.dcm"))
    assert ds.file_meta.TransferSyntaxUID == pydicom.uid.ExplicitVRBigEndian
    item = Dataset()
    item.LUTDescriptor = [4096, 0, 16]
    item.add_new("LUTData", "OW", (np.arange(4096) * 16 + 5).astype(">u2").tobytes())
    ds.VOILUTSequence = Sequence([item])
    ds.save_as(tmp_path / "be.dcm")
    series = only_series(tmp_path / "be.dcm")
    reread = pydicom.dcmread(tmp_path / "be.dcm")
    values = reread.pixel_array
    expected = apply_voi_lut(values, reread, prefer_lut=True)
    lut = series.voi_lut(0)
    np.testing.assert_array_equal(lut.table[np.clip(values, 0, 4095)], expected)
    np.testing.assert_array_equal(initial_voi(series, 0).table, lut.table)


def test_enhanced_frame_voi_lut_sequence_is_per_frame(enhanced_mr_dir, tmp_path):
    ds = pydicom.dcmread(enhanced_mr_dir / "Philips" / "IM_0027_fMAP.dcm")
    item = Dataset()
    item.LUTDescriptor = [4096, 0, 16]
    item.LUTData = (np.arange(4096) * 16).astype("<u2").tobytes()
    item.LUTExplanation = "frame 3"
    ds.PerFrameFunctionalGroupsSequence[3].FrameVOILUTSequence[0].VOILUTSequence = Sequence([item])
    ds.save_as(tmp_path / "mf.dcm")
    info = build_index([tmp_path / "mf.dcm"]).all_series()[0]
    series = open_series(info)
    with_lut = [i for i, f in enumerate(info.frames) if f.frame_index == 3]
    assert len(with_lut) == 1
    for i, ref in enumerate(info.frames):
        lut = series.voi_lut(i)
        if i in with_lut:
            assert lut.explanation == "frame 3"
            np.testing.assert_array_equal(lut.table, np.arange(4096) * 16)
        else:
            voi = ds.PerFrameFunctionalGroupsSequence[ref.frame_index].FrameVOILUTSequence[0]
            assert lut is None
            assert series.default_window(i) == Window(
                float(voi.WindowCenter), float(voi.WindowWidth)
            )
