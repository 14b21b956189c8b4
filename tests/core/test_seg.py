"""DICOM SEG on real objects (../shared/data/seg-sr): BINARY, FRACTIONAL, LABELMAP, overlaps,
matched by Frame of Reference and position, resampled from other grids, cross-checked with
highdicom's own reading."""

from __future__ import annotations

import highdicom as hd
import numpy as np
import pydicom
import pytest
from pydicom.pixels import pack_bits

from viewer.core.errors import DicomReadError
from viewer.core.index import build_index
from viewer.core.seg import (
    blend_rgba,
    cielab_to_rgb,
    read_segmentation,
    rgb_to_cielab,
    segment_layers,
    segment_rgba,
    target_image,
)
from viewer.core.series import open_series


def series_of(*paths):
    index = build_index(list(paths))
    return open_series(index.all_series()[0])


def layers_per_frame(seg, series):
    return [segment_layers(seg, target_image(series, i)) for i in range(len(series))]


def highdicom_masks(path, series, segment, ignore_locations=False):
    """highdicom's own reading, frame by frame of `series` (0 where it has no frame)."""
    hd_seg = hd.seg.segread(path)
    known = {uid for _, _, uid in hd_seg.get_source_image_uids()}
    masks = []
    for i in range(len(series)):
        uid = series.info.frames[i].sop_instance_uid
        if uid not in known:
            masks.append(np.zeros((series.info.rows, series.info.columns), np.float32))
            continue
        pixels = hd_seg.get_pixels_by_source_instance(
            [uid], segment_numbers=[segment], ignore_spatial_locations=ignore_locations
        )
        masks.append(pixels[0, ..., 0].astype(np.float32))
    return masks


def test_dcmqi_liver_seg_lands_on_its_ct_by_position(seg_sr_dir):
    """dcmqi does not mark SpatialLocationsPreserved; matching goes by FoR and position."""
    folder = seg_sr_dir / "liver-ct-3slice"
    series = series_of(folder / "ct")
    seg = read_segmentation(folder / "liver.dcm")
    assert seg.seg_type == "BINARY" and [s.label for s in seg.segments] == ["Liver"]
    assert seg.segments[0].colour == (221, 130, 101)  # its CIELab value, Slicer's liver colour
    ours = [layers.get(1, 0) for layers in layers_per_frame(seg, series)]
    theirs = highdicom_masks(str(folder / "liver.dcm"), series, 1, ignore_locations=True)
    for mine, reference in zip(ours, theirs, strict=True):
        assert reference.sum() > 30000
        assert np.array_equal(mine, reference)


def test_overlapping_segments_keep_their_own_masks(seg_sr_dir):
    folder = seg_sr_dir / "highdicom"
    series = series_of(folder / "ref-images" / "CT2")
    path = folder / "seg_image_ct_binary_overlap.dcm"
    seg = read_segmentation(path)
    per_frame = layers_per_frame(seg, series)
    for number in (1, 2):
        theirs = highdicom_masks(str(path), series, number)
        ours = [
            layers.get(number, np.zeros_like(t))
            for layers, t in zip(per_frame, theirs, strict=True)
        ]
        assert all(np.array_equal(a, b) for a, b in zip(ours, theirs, strict=True))
    both = [(lay[1] > 0) & (lay[2] > 0) for lay in per_frame if {1, 2} <= set(lay)]
    assert both and any(mask.any() for mask in both), "the segments overlap somewhere"


def test_partial_overlaps_five_segments_where_dcmqi_put_them(seg_sr_dir):
    folder = seg_sr_dir / "liver-ct-3slice"
    series = series_of(folder / "ct")
    seg = read_segmentation(folder / "partial_overlaps.dcm")
    assert len(seg.segments) == 5 and len({s.colour for s in seg.segments}) == 5
    present = [set(layers) for layers in layers_per_frame(seg, series)]
    assert set().union(*present) == {1, 2, 3, 4, 5}
    assert all(3 in p for p in present)  # segment 3 is on all three slices, the others on one
    assert sum(len(p) for p in present) == 7


def test_fractional_seg_keeps_its_fractions(seg_sr_dir):
    folder = seg_sr_dir / "highdicom"
    series = series_of(folder / "ref-images" / "CT2")
    path = folder / "seg_image_ct_true_fractional.dcm"
    seg = read_segmentation(path)
    assert seg.seg_type == "FRACTIONAL" and seg.max_fractional == 255
    values = np.concatenate([lay[1].ravel() for lay in layers_per_frame(seg, series) if lay])
    assert set(np.round(np.unique(values) * 255).astype(int)) == {0, 64, 128}
    theirs = highdicom_masks(str(path), series, 1)
    ours = [
        lay.get(1, np.zeros_like(t))
        for lay, t in zip(layers_per_frame(seg, series), theirs, strict=True)
    ]
    assert all(np.allclose(a, b, atol=1e-6) for a, b in zip(ours, theirs, strict=True))


@pytest.mark.parametrize("name", ["sparse-labelmap-noppv.dcm", "sparse-labelmap-ppv5.dcm"])
def test_sparse_labelmap_seg(seg_sr_dir, name):
    folder = seg_sr_dir / "tiny-ct-24x38x3"
    series = series_of(folder / "image")
    seg = read_segmentation(folder / "seg" / name)
    assert seg.seg_type == "LABELMAP" and [s.number for s in seg.segments] == [0, 1]
    per_frame = layers_per_frame(seg, series)
    liver = [int(lay.get(1, np.zeros(1)).sum()) for lay in per_frame]
    assert liver[0] > 0 and liver[2] > 0 and liver[1] == 0  # sparse: slice 2 not segmented
    assert seg.segments[0].is_background
    rgba = segment_rgba(per_frame[0], seg)
    assert rgba is not None and rgba[..., 3][per_frame[0][1] == 0].max() == 0  # background hidden


def test_non_byte_aligned_frames_unpack_like_the_byte_aligned(seg_sr_dir):
    folder = seg_sr_dir / "tiny-ct-23x38x3"
    series = series_of(folder / "image")
    seg = read_segmentation(folder / "seg" / "label.seg")
    assert (seg.rows, seg.columns) == (38, 23)
    theirs = highdicom_masks(str(folder / "seg" / "label.seg"), series, 1, ignore_locations=True)
    ours = [
        lay.get(1, np.zeros_like(t))
        for lay, t in zip(layers_per_frame(seg, series), theirs, strict=True)
    ]
    assert all(np.array_equal(a, b) for a, b in zip(ours, theirs, strict=True))


def test_seg_on_the_same_slices_stored_as_one_multiframe_file(seg_sr_dir):
    """The SEG references the single-frame files; the enhanced copy matches by position."""
    folder = seg_sr_dir / "tiny-ct-23x38x3"
    seg = read_segmentation(folder / "seg" / "label.seg")
    single = layers_per_frame(seg, series_of(folder / "image"))
    multi = layers_per_frame(seg, series_of(folder / "multiframe"))
    assert [int(lay[1].sum()) for lay in single] == [int(lay[1].sum()) for lay in multi]


def test_cropped_seg_grid_lands_on_the_full_image(seg_sr_dir):
    folder = seg_sr_dir / "liver-ct-3slice"
    series = series_of(folder / "ct")
    full = layers_per_frame(read_segmentation(folder / "liver.dcm"), series)
    cropped = layers_per_frame(
        read_segmentation(folder / "variants" / "liver_nonbyte_aligned.dcm"), series
    )
    for a, b in zip(full, cropped, strict=True):
        assert b[1].shape == (512, 512) and not b[1][510:, :].any() and not b[1][:, 510:].any()
        assert np.array_equal(a[1][:510, :510], b[1][:510, :510])


def coarse_copy(source, out):
    """The liver SEG on a grid of half the resolution (pixel spacing doubled, origin moved to
    the centre of the first 2×2 block): another grid over the same anatomy."""
    ds = pydicom.dcmread(source)
    frames = ds.pixel_array[:, ::2, ::2].copy()
    measures = ds.SharedFunctionalGroupsSequence[0].PixelMeasuresSequence[0]
    spacing = [float(v) for v in measures.PixelSpacing]
    measures.PixelSpacing = [s * 2 for s in spacing]
    orientation = [
        float(v)
        for v in ds.SharedFunctionalGroupsSequence[0]
        .PlaneOrientationSequence[0]
        .ImageOrientationPatient
    ]
    shift = (np.array(orientation[:3]) * spacing[1] + np.array(orientation[3:]) * spacing[0]) / 2
    for item in ds.PerFrameFunctionalGroupsSequence:
        position = item.PlanePositionSequence[0]
        position.ImagePositionPatient = [
            f"{v:.6f}" for v in np.array(position.ImagePositionPatient, float) + shift
        ]
    ds.Rows, ds.Columns = frames.shape[1:]
    ds.PixelData = pack_bits(frames)
    ds.SOPInstanceUID = pydicom.uid.generate_uid()
    ds.save_as(out)
    return out


def test_seg_on_another_grid_is_resampled_onto_the_image(seg_sr_dir, tmp_path):
    folder = seg_sr_dir / "liver-ct-3slice"
    series = series_of(folder / "ct")
    fine = layers_per_frame(read_segmentation(folder / "liver.dcm"), series)
    coarse_seg = read_segmentation(coarse_copy(folder / "liver.dcm", tmp_path / "coarse.dcm"))
    assert (coarse_seg.rows, coarse_seg.columns) == (256, 256)
    coarse = layers_per_frame(coarse_seg, series)
    for a, b in zip(fine, coarse, strict=True):
        assert b[1].shape == (512, 512)
        dice = 2 * (a[1] * b[1]).sum() / (a[1].sum() + b[1].sum())
        assert dice > 0.97


def test_projection_seg_without_geometry_matches_by_referenced_image(seg_sr_dir):
    folder = seg_sr_dir / "highdicom"
    series = series_of(folder / "ref-images" / "CR1")
    seg = read_segmentation(folder / "seg_image_cr_binary.dcm")
    assert not seg.has_plane_geometry
    layers = segment_layers(seg, target_image(series, 0))
    theirs = highdicom_masks(str(folder / "seg_image_cr_binary.dcm"), series, 1)
    assert np.array_equal(layers[1], theirs[0]) and theirs[0].any()


def test_seg_of_other_images_draws_nothing(seg_sr_dir):
    seg = read_segmentation(seg_sr_dir / "refs-missing" / "qin-headneck-pet" / "seg.dcm")
    series = series_of(seg_sr_dir / "liver-ct-3slice" / "ct")
    assert all(not layers for layers in layers_per_frame(seg, series))


def test_segments_blend_in_their_colours(seg_sr_dir):
    folder = seg_sr_dir / "liver-ct-3slice"
    series = series_of(folder / "ct")
    seg = read_segmentation(folder / "liver.dcm")
    layers = segment_layers(seg, target_image(series, 0))
    grey = np.full((512, 512), 100, np.uint8)
    shown = blend_rgba(grey, segment_rgba(layers, seg, opacity={1: 1.0}))
    inside = layers[1] > 0
    assert tuple(shown[inside][0]) == seg.segments[0].colour
    assert (shown[~inside] == 100).all()
    assert segment_rgba(layers, seg, visible={1: False}) is None


def test_cielab_round_trip_and_known_colours():
    assert cielab_to_rgb((65535, 32896, 32896)) == (255, 255, 255)
    assert cielab_to_rgb((0, 32896, 32896)) == (0, 0, 0)
    for rgb in ((221, 130, 101), (0, 151, 206), (255, 140, 0)):
        back = cielab_to_rgb(rgb_to_cielab(rgb))
        assert max(abs(a - b) for a, b in zip(back, rgb, strict=True)) <= 1


def test_not_a_seg_is_one_line_naming_the_file(seg_sr_dir):
    path = seg_sr_dir / "highdicom" / "ct_image.dcm"
    with pytest.raises(DicomReadError, match="ct_image.dcm: not a DICOM Segmentation"):
        read_segmentation(path)


def totalsegmentator_labelmap(folder, out):
    """A LABELMAP SEG of TotalSegmentator's reference mask for its example CT, as a tool would
    write it. The CT's own UIDs are empty (a real broken export), so the SEG is built on copies
    given made-up UIDs: the SEG can only be placed by Frame of Reference and position."""
    import SimpleITK as sitk
    from pydicom.sr.codedict import codes

    nifti = sitk.ReadImage(str(folder / "example_seg_dicom.nii.gz"))
    labels = sitk.GetArrayFromImage(nifti)  # (z, y, x); ITK's y runs against DICOM rows here
    values = [int(v) for v in np.unique(labels) if v]
    names = dict(
        line.split("\t")
        for line in (folder / "labels_total.tsv").read_text().split("\n")[1:]
        if line
    )
    sources, masks = [], []
    study, series = pydicom.uid.generate_uid(), pydicom.uid.generate_uid()
    for path in sorted((folder / "example_ct_dicom").iterdir()):
        ds = pydicom.dcmread(path)
        ds.SOPClassUID = ds.file_meta.MediaStorageSOPClassUID
        ds.SOPInstanceUID = pydicom.uid.generate_uid()
        ds.StudyInstanceUID, ds.SeriesInstanceUID = study, series
        z = float(ds.ImagePositionPatient[2])
        k = round((z - nifti.GetOrigin()[2]) / nifti.GetSpacing()[2])
        remapped = np.zeros(labels.shape[1:], np.uint8)
        for number, value in enumerate(values, start=1):
            remapped[labels[k][::-1] == value] = number
        sources.append(ds)
        masks.append(remapped)
    descriptions = [
        hd.seg.SegmentDescription(
            segment_number=number,
            segment_label=names[str(value)],
            segmented_property_category=codes.SCT.Tissue,
            segmented_property_type=codes.SCT.Tissue,
            algorithm_type="AUTOMATIC",
            algorithm_identification=hd.AlgorithmIdentificationSequence(
                name="TotalSegmentator", family=codes.cid7162.ArtificialIntelligence, version="2"
            ),
        )
        for number, value in enumerate(values, start=1)
    ]
    seg = hd.seg.Segmentation(
        source_images=sources,
        pixel_array=np.stack(masks),
        segmentation_type="LABELMAP",
        segment_descriptions=descriptions,
        series_instance_uid=hd.UID(),
        series_number=99,
        sop_instance_uid=hd.UID(),
        instance_number=1,
        manufacturer="test",
        manufacturer_model_name="test",
        software_versions="1",
        device_serial_number="1",
    )
    seg.save_as(out)
    by_position = {float(s.ImagePositionPatient[2]): m for s, m in zip(sources, masks, strict=True)}
    return out, by_position, len(values)


@pytest.mark.slow
def test_labelmap_seg_on_a_ct_with_empty_uids_lands_by_position(seg_sr_dir, tmp_path):
    folder = seg_sr_dir / "totalsegmentator"
    path, expected, count = totalsegmentator_labelmap(folder, tmp_path / "labelmap.dcm")
    seg = read_segmentation(path)
    assert seg.seg_type == "LABELMAP" and count == 31
    assert [s.number for s in seg.segments] == list(range(count + 1))  # 0: highdicom's background
    assert seg.segments[0].is_background and seg.pixel_padding == 0
    slices = sorted((folder / "example_ct_dicom").iterdir())
    for ct in slices[::6]:
        series = series_of(ct)
        uid = series.info.frames[0].sop_instance_uid  # the file meta's: the SEG has other UIDs
        assert uid and uid not in seg.referenced_instances  # nothing to match by UID
        target = target_image(series, 0)
        layers = segment_layers(seg, target)
        wanted = expected[float(series.geometry(0).origin[2])]
        assert set(layers) == {int(v) for v in np.unique(wanted) if v}
        for number, coverage in layers.items():
            assert np.array_equal(coverage > 0, wanted == number)
