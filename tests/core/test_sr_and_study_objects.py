"""Structured reports (TID 1500 and any SR as text), SEG/SR as study objects in the index, and
`radlens info` / `radlens render --seg` on the real objects of ../shared/data/seg-sr."""

from __future__ import annotations

import json
import shutil

import highdicom as hd
import numpy as np
import pytest
from PIL import Image

from viewer.cli import main
from viewer.core.errors import DicomReadError
from viewer.core.index import build_index
from viewer.core.seg import read_segmentation, segment_layers, target_image
from viewer.core.series import open_series
from viewer.core.sr import graphics_on_image, read_report


def test_tid1500_groups_measurements_and_graphics(seg_sr_dir):
    path = seg_sr_dir / "highdicom" / "sr_document_with_multiple_groups.dcm"
    report = read_report(path)
    assert report.is_measurement_report and len(report.groups) == 4
    by_id = {g.tracking_id: g for g in report.groups}
    nodule = by_id["LungNodule0001"]
    assert (nodule.finding, nodule.finding_site) == ("Nodule", "Lung")
    assert [m.text() for m in nodule.measurements] == ["Diameter: 10 mm"]
    assert ("Level of Significance", "Not significant") in nodule.evaluations
    assert [g.graphic_type for g in nodule.graphics] == ["CIRCLE"]
    aorta = by_id["Aorta0001"].graphics[0]
    assert aorta.graphic_type == "POLYLINE" and aorta.points[0] == (44.5, 24.5)  # (row, col)
    vertebra = by_id["Vertebra0001"].graphics[0]
    assert vertebra.value_type == "SCOORD3D" and vertebra.frame_of_reference_uid
    # highdicom reads the same groups
    theirs = hd.sr.srread(path).content
    assert len(theirs.get_planar_roi_measurement_groups()) + len(
        theirs.get_image_measurement_groups()
    ) + len(theirs.get_volumetric_roi_measurement_groups()) == len(report.groups)


def test_scoord_graphics_land_on_the_referenced_image_only(seg_sr_dir):
    folder = seg_sr_dir / "highdicom"
    report = read_report(folder / "sr_document_with_multiple_groups.dcm")
    ct = open_series(build_index([folder / "ct_image.dcm"]).all_series()[0])
    placed = graphics_on_image(report, target_image(ct, 0))
    assert sorted(g.graphic_type for g, _ in placed) == ["CIRCLE", "POLYLINE"]  # not the 3D point
    other = open_series(build_index([folder / "ref-images" / "CT2"]).all_series()[0])
    assert graphics_on_image(report, target_image(other, 0)) == []


def test_enhanced_sr_referencing_a_segment(seg_sr_dir):
    folder = seg_sr_dir / "liver-ct-3slice"
    report = read_report(folder / "sr-tid1500-ct-liver-example.dcm")
    (group,) = report.groups
    assert group.finding_site == "Liver"
    texts = [m.text() for m in group.measurements]
    assert "Attenuation Coefficient (Mean): 37.3289 [hnsf'U]" in texts
    assert "Volume: 70.3619 cm3" in texts
    seg = read_segmentation(folder / "liver.dcm")
    assert group.segment == (seg.sop_instance_uid, 1)


@pytest.mark.parametrize(
    "relative, expected",
    [
        ("refs-missing/tcga-kirc-ct-length/1.dcm", "Length: 66.4386 mm"),
        ("refs-missing/qin-headneck-pet/sr.dcm", "SUVbw (Mean): 6.01529 {SUVbw}g/ml"),
    ],
)
def test_sr_whose_images_are_absent_still_reads(seg_sr_dir, relative, expected):
    report = read_report(seg_sr_dir / relative)
    assert expected in [m.text() for g in report.groups for m in g.measurements]
    assert report.lines[0] == "Imaging Measurement Report" and len(report.lines) > 10
    index = build_index([seg_sr_dir / relative])
    assert index.all_series() == [] and not index.skipped
    assert [o.kind for o in index.all_objects()] == ["SR"]


def test_any_sr_reads_as_text(seg_sr_dir):
    report = read_report(seg_sr_dir / "highdicom" / "sr_document.dcm")
    text = report.text()
    assert "Area of defined region: 1.7 cm2" in text and "Finding Site: Cervico-thoracic" in text
    assert "CIRCLE (2 point(s))" in text


def test_not_an_sr_is_one_line_naming_the_file(seg_sr_dir):
    with pytest.raises(DicomReadError, match="ct_image.dcm: not a DICOM Structured Report"):
        read_report(seg_sr_dir / "highdicom" / "ct_image.dcm")


def test_index_attaches_seg_and_sr_to_the_study_not_as_images(seg_sr_dir):
    folder = seg_sr_dir / "liver-ct-3slice"
    index = build_index([folder])
    (study,) = [st for p in index.patients for st in p.studies]
    assert [s.modality for s in study.series] == ["CT"]  # the SEG is not shown as an image
    kinds = sorted((o.kind, o.path.rsplit("/", 1)[-1]) for o in study.objects)
    assert kinds == [
        ("SEG", "liver.dcm"),
        ("SEG", "liver_j2k.dcm"),
        ("SEG", "liver_nonbyte_aligned.dcm"),
        ("SEG", "partial_overlaps.dcm"),
        ("SR", "sr-tid1500-ct-liver-example.dcm"),
    ]
    assert not index.skipped


def test_two_labelmaps_sharing_one_uid_are_both_kept(seg_sr_dir):
    index = build_index([seg_sr_dir / "tiny-ct-24x38x3" / "seg"])
    names = sorted(o.path.rsplit("/", 1)[-1] for o in index.all_objects())
    assert names == ["label.seg", "sparse-labelmap-noppv.dcm", "sparse-labelmap-ppv5.dcm"]


@pytest.mark.parametrize("seg_first", [True, False])
def test_seg_from_another_folder_before_or_after_its_images(seg_sr_dir, tmp_path, seg_first):
    elsewhere = tmp_path / "segs"
    elsewhere.mkdir()
    shutil.copy(seg_sr_dir / "liver-ct-3slice" / "liver.dcm", elsewhere / "mask.dcm")
    images = seg_sr_dir / "liver-ct-3slice" / "ct"
    order = [elsewhere, images] if seg_first else [images, elsewhere]
    index = build_index(order)
    (found,) = index.all_objects()
    series = open_series(index.all_series()[0])
    seg = read_segmentation(found.path)
    assert all(segment_layers(seg, target_image(series, i)) for i in range(len(series)))


def test_info_lists_segments(seg_sr_dir, capsys):
    path = seg_sr_dir / "liver-ct-3slice" / "partial_overlaps.dcm"
    assert main(["info", str(path), "--json"]) == 0
    report = json.loads(capsys.readouterr().out)
    (found,) = report["patients"][0]["studies"][0]["objects"]
    assert found["kind"] == "SEG" and found["segmentation_type"] == "BINARY"
    assert [s["number"] for s in found["segments"]] == [1, 2, 3, 4, 5]
    assert found["segments"][2] | {"colour": ""} == {
        "number": 3,
        "label": "PURPLE",
        "type": "Capillary",
        "category": found["segments"][2]["category"],
        "algorithm": "MANUAL",
        "colour": "",
        "frames": 3,
    }
    assert found["referenced_series"] == [
        "1.2.392.200103.20080913.113635.1.2009.6.22.21.43.10.23430.1"
    ]
    assert main(["info", str(path)]) == 0
    tree = capsys.readouterr().out
    assert "segment 3 PURPLE (Capillary): 3 frame(s)" in tree


def test_info_lists_findings_of_an_sr_without_its_images(seg_sr_dir, capsys):
    path = seg_sr_dir / "refs-missing" / "tcga-kirc-ct-length" / "1.dcm"
    assert main(["info", str(path)]) == 0
    out = capsys.readouterr().out
    assert "finding Kidney" in out and "Length: 66.4386 mm" in out and "SCOORD POLYLINE" in out
    assert "no pixel data" not in out


def test_render_draws_segments_over_the_frame(seg_sr_dir, tmp_path, capsys):
    folder = seg_sr_dir / "liver-ct-3slice"
    plain, drawn = tmp_path / "plain.png", tmp_path / "seg.png"
    assert main(["render", str(folder / "ct"), "--frame", "1", "--out", str(plain)]) == 0
    args = ["render", str(folder / "ct"), "--frame", "1", "--out", str(drawn)]
    assert main([*args, "--seg", str(folder / "liver.dcm")]) == 0
    grey = np.asarray(Image.open(plain))
    rgb = np.asarray(Image.open(drawn))
    series = open_series(build_index([folder / "ct"]).all_series()[0])
    mask = segment_layers(read_segmentation(folder / "liver.dcm"), target_image(series, 1))[1] > 0
    assert rgb.shape == grey.shape + (3,)
    assert (rgb[~mask] == grey[~mask][:, None]).all()  # untouched outside the liver
    tinted = rgb[mask].astype(int)
    assert (tinted[:, 0] - tinted[:, 2]).mean() > 20  # the liver's orange-red shows inside


def test_scoord3d_lands_on_the_slice_it_lies_in(seg_sr_dir):
    from viewer.core.sr import Graphic, place_graphic

    series = open_series(build_index([seg_sr_dir / "liver-ct-3slice" / "ct"]).all_series()[0])
    targets = [target_image(series, i) for i in range(len(series))]
    middle = targets[1].geometry
    corner = middle.pixel_to_patient(100, 200)
    far = middle.pixel_to_patient(300, 50)
    graphic = Graphic(
        "SCOORD3D",
        "POLYLINE",
        (tuple(corner), tuple(far)),
        "",
        None,
        targets[1].frame_of_reference_uid,
    )
    placed = [place_graphic(graphic, t) for t in targets]
    assert placed[0] == () and placed[2] == ()  # 1 mm away: not on the neighbours
    assert np.allclose(placed[1], [(100, 200), (300, 50)])
    other_frame = Graphic("SCOORD3D", "POLYLINE", graphic.points, "", None, "1.2.3")
    assert place_graphic(other_frame, targets[1]) == ()


def test_truncated_seg_is_one_line_and_the_rest_still_works(seg_sr_dir, tmp_path, capsys):
    folder = seg_sr_dir / "liver-ct-3slice"
    bad = tmp_path / "cut.dcm"
    bad.write_bytes((folder / "liver.dcm").read_bytes()[:60000])  # header whole, pixels cut
    out = tmp_path / "x.png"
    args = ["render", str(folder / "ct"), "--out", str(out), "--seg", str(bad)]
    assert main(args) == 1
    err = capsys.readouterr().err
    assert (
        err.startswith(f"radlens render: {bad}: SEG pixel data unreadable") and err.count("\n") == 1
    )
    assert "Traceback" not in err and not out.exists()
    assert main(["info", str(bad), str(folder / "sr-tid1500-ct-liver-example.dcm")]) == 0
    assert "segment 1 Liver" in capsys.readouterr().out


def test_render_draws_an_axial_seg_on_a_coronal_reformat(seg_sr_dir, tmp_path):
    folder = seg_sr_dir / "liver-ct-3slice"
    plain, drawn = tmp_path / "plain.png", tmp_path / "seg.png"
    args = ["render", str(folder / "ct"), "--plane", "coronal"]
    assert main([*args, "--out", str(plain)]) == 0
    assert main([*args, "--out", str(drawn), "--seg", str(folder / "liver.dcm")]) == 0
    grey, rgb = np.asarray(Image.open(plain)), np.asarray(Image.open(drawn)).astype(int)
    changed = (rgb != grey[..., None]).any(axis=2)
    assert changed.any(axis=1).all()  # the liver crosses the plane on each of the 3 slices
    assert (rgb[changed][:, 0] > rgb[changed][:, 2]).all()  # in its orange-red
