"""What splits a series into stacks (issue 10 item 11), on copies of the real CT phantom."""

from __future__ import annotations

import numpy as np
import pydicom
from pydicom.uid import generate_uid

from viewer.core.index import build_index
from viewer.core.sorting import slice_normal

POSTERIOR_FOSSA, SUPRATENTORIAL = 5, 7  # slices at 4 mm, then at 7 mm


def _copies(ct_phantom_dir, tmp_path, count: int, **per_slice):
    """`count` copies of phantom slices in one new series; `per_slice[keyword](k)` sets values."""
    series_uid = generate_uid()
    sources = sorted(ct_phantom_dir.glob("I*"))[:count]
    for k, source in enumerate(sources):
        ds = pydicom.dcmread(source)
        ds.SeriesInstanceUID = series_uid
        ds.SOPInstanceUID = ds.file_meta.MediaStorageSOPInstanceUID = generate_uid()
        for keyword, value_of in per_slice.items():
            setattr(ds, keyword, value_of(k, ds))
        ds.save_as(tmp_path / f"{count - k:03d}.dcm")  # file order is not slice order
    return build_index([tmp_path]).all_series()


def _along_normal(ct_phantom_dir, offsets_mm):
    """Positions `offsets_mm` along the phantom's (tilted) slice normal from its first slice."""
    first = pydicom.dcmread(sorted(ct_phantom_dir.glob("I*"))[0], stop_before_pixels=True)
    origin = np.array([float(v) for v in first.ImagePositionPatient])
    normal = slice_normal([float(v) for v in first.ImageOrientationPatient])
    return lambda k, ds: list(origin + offsets_mm[k] * normal)


def _distances(info) -> np.ndarray:
    normal = slice_normal(info.frames[0].orientation)
    return np.array([np.dot(f.position, normal) for f in info.frames])


def test_ge_head_ct_with_add_slices_and_two_thicknesses_is_one_stack(ct_phantom_dir, tmp_path):
    """GE head CT: posterior fossa 4 mm slices typed AXIAL\\ADD, then 7 mm slices, contiguous."""
    thin = [4.0 * k for k in range(POSTERIOR_FOSSA)]
    thick = [thin[-1] + 5.5 + 7.0 * k for k in range(SUPRATENTORIAL)]
    stacks = _copies(
        ct_phantom_dir,
        tmp_path,
        POSTERIOR_FOSSA + SUPRATENTORIAL,
        ImageType=lambda k, ds: ["ORIGINAL", "PRIMARY", "AXIAL"] + ["ADD"] * (k < POSTERIOR_FOSSA),
        SliceThickness=lambda k, ds: 4.0 if k < POSTERIOR_FOSSA else 7.0,
        ImagePositionPatient=_along_normal(ct_phantom_dir, thin + thick),
        InstanceNumber=lambda k, ds: 100 - k,
    )
    (info,) = stacks
    assert len(info.frames) == POSTERIOR_FOSSA + SUPRATENTORIAL and info.stack_label == ""
    np.testing.assert_allclose(np.diff(_distances(info)), np.diff(thin + thick), atol=1e-3)
    assert [w for w in info.warnings if "slice" in w] == [
        "slice thickness changes within the stack (4, 7 mm); slice spacing 4.00–7.00 mm"
    ]


def test_a_missing_slice_is_still_a_gap_when_thickness_changes(ct_phantom_dir, tmp_path):
    offsets = [0.0, 4.0, 8.0, 13.5, 20.5, 34.5, 41.5]  # 27.5 missing among the 7 mm slices
    (info,) = _copies(
        ct_phantom_dir,
        tmp_path,
        len(offsets),
        SliceThickness=lambda k, ds: 4.0 if k < 3 else 7.0,
        ImagePositionPatient=_along_normal(ct_phantom_dir, offsets),
    )
    assert any(
        w.startswith("1 gap(s) in slice positions (largest step 14.00") for w in info.warnings
    )


def test_echoes_at_the_same_positions_are_two_stacks(ct_phantom_dir, tmp_path):
    sources = sorted(ct_phantom_dir.glob("I*"))[:4]
    positions = [pydicom.dcmread(p, stop_before_pixels=True).ImagePositionPatient for p in sources]
    stacks = _copies(
        ct_phantom_dir,
        tmp_path,
        8,
        ImagePositionPatient=lambda k, ds: positions[k % 4],
        EchoNumbers=lambda k, ds: 1 + k // 4,
    )
    assert [(len(s.frames), s.stack_label) for s in stacks] == [(4, "echo 1"), (4, "echo 2")]


def test_frames_of_reference_are_not_one_stack(ct_phantom_dir, tmp_path):
    other = generate_uid()
    stacks = _copies(
        ct_phantom_dir,
        tmp_path,
        6,
        FrameOfReferenceUID=lambda k, ds: other if k >= 4 else ds.FrameOfReferenceUID,
    )
    assert [len(s.frames) for s in stacks] == [4, 2]
    assert all(s.stack_label.startswith("frame of reference") for s in stacks)
