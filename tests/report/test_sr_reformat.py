"""Measurements made on a reformatted (MPR) plane of the real 130-slice 3D T1 MR exported as
SCOORD3D in the volume's Frame of Reference (a Comprehensive 3D SR, dciodvfy-clean), with the
values the viewer shows, and read back by RadLens and highdicom onto the same plane pixels."""

from __future__ import annotations

import re
import subprocess
from dataclasses import replace

import highdicom as hd
import numpy as np
import pydicom
import pytest

from tests.conftest import SHARED_DATA
from tests.report.conftest import need_tool
from viewer.core.atomic import write_all_or_nothing
from viewer.core.index import build_index
from viewer.core.measurements import KINDS, Measurement, MeasurementStore, measured_image
from viewer.core.plane_series import PlaneSeries
from viewer.core.seg import target_image
from viewer.core.series import open_series
from viewer.core.sr import POINTS_SHOWN, graphics_on_image, read_report, short_uid
from viewer.core.volume import build_volume
from viewer.report.compose import export_extras, frame_key_image, frame_measurement_rows
from viewer.report.dicom_export import dicom_objects, dicom_parts
from viewer.report.dicom_measurements import outline_points
from viewer.report.report_data import FindingRow, KeyImage, ModelSummary

MR_3D = SHARED_DATA / "dicom" / "mr-3d-t1-130sl"
FINDINGS = (FindingRow("pneumonia", 0.61, 0.42, True),)
MODEL = ModelSummary(name="test-net", version="1.0", sha256="cd34" * 16)
ON_PLANE = (
    Measurement("length", [(40, 50), (150, 170)], "long axis"),
    Measurement("angle", [(60, 60), (100, 100), (60, 140)]),
    Measurement("ellipse", [(80, 70), (120, 150)]),
    Measurement("rectangle", [(90, 90), (130, 110)]),
)


@pytest.fixture(scope="module")
def mr():
    if not MR_3D.is_dir():
        pytest.skip(f"real test data not found at {MR_3D} (needs ../shared/data beside the repo)")
    (info,) = [s for s in build_index([MR_3D]).all_series() if s.frames]
    series = open_series(info)
    return series, build_volume(series)


def export_frame(series, frame, out):
    """What the viewer's export does for one frame: its stored measurements, then SC + SR."""
    store = MeasurementStore(series.info.study.study_instance_uid).load()
    for measurement in ON_PLANE:
        store.add(*measured_image(series, frame), measurement)
    store.save()
    extras = export_extras(series, frame, None, anonymize=False)
    display = np.zeros((series.info.rows, series.info.columns), np.uint8)
    key = KeyImage("key", display, np.dstack([display] * 3), "heatmap")
    return extras, written(series.header(frame), key, FINDINGS, MODEL, out, extras)


def written(source, key, findings, model, out, extras):
    """The objects `compose.export_dicom` builds from these parts, written as it writes them."""
    export = dicom_objects(source, key, findings, model, out, extras)
    write_all_or_nothing(dicom_parts(export))
    return export


def assert_valid_3d_sr(path):
    run = subprocess.run([need_tool("dciodvfy"), str(path)], capture_output=True, text=True)
    assert "Comprehensive3DSR" in run.stdout + run.stderr
    assert "Error" not in run.stdout + run.stderr, run.stdout + run.stderr


def test_plane_measurements_export_as_scoord3d_and_read_back_on_the_plane(mr, tmp_path):
    series, volume = mr
    coronal = PlaneSeries(series, volume, "coronal")
    coronal.set_slab(10.0, "mip")
    k = coronal.grid.middle()
    extras, result = export_frame(coronal, k, tmp_path / "sr")
    assert_valid_3d_sr(result.sr_path)

    frame_of_reference = str(series.header(0).FrameOfReferenceUID)
    geometry = coronal.geometry(k)
    report = read_report(result.sr_path)
    _, *groups = report.groups
    caption = f"coronal reformat, frame {k + 1} of {len(coronal)}, MIP 10 mm slab"
    for group, measurement in zip(groups, ON_PLANE, strict=True):
        assert group.tracking_id.endswith(f"on the {caption}"), group.tracking_id
        (graphic,) = group.graphics
        assert graphic.value_type == "SCOORD3D"
        assert graphic.frame_of_reference_uid == frame_of_reference
        # the values are the viewer's (mm on the plane's square pixels)
        shown = KINDS[measurement.kind].measure(measurement.points, geometry.spacing)
        assert group.measurements[0].value == pytest.approx(shown, abs=1e-5)
        # and the graphic lands back on the pixels it was drawn on
        placed = np.array([geometry.patient_to_pixel(p) for p in graphic.points])
        assert np.abs(placed - np.array(outline_points(measurement))).max() < 1e-3

    length = np.asarray(groups[0].graphics[0].points)
    assert np.linalg.norm(length[1] - length[0]) == pytest.approx(
        groups[0].measurements[0].value, abs=1e-3
    )  # the 3D points are as far apart in the patient as the length says
    assert [g.graphics[0].graphic_type for g in groups[1:]] == ["POLYLINE", "ELLIPSE", "POLYGON"]
    assert any(m.derivation == "Mean" for m in groups[2].measurements)
    assert len(graphics_on_image(report, target_image(coronal, k))) == len(ON_PLANE)
    assert graphics_on_image(report, target_image(coronal, k + 20)) == []  # 20 frames away
    regions = [
        g.roi for g in hd.sr.srread(result.sr_path).content.get_planar_roi_measurement_groups()
    ]
    assert all(isinstance(r, hd.sr.ImageRegion3D) for r in regions) and len(regions) == 4


def test_acquired_frame_measurements_stay_scoord_on_their_image(mr, tmp_path):
    series, _ = mr
    extras, result = export_frame(series, 65, tmp_path / "sr")
    assert extras.plane is None
    report = read_report(result.sr_path)
    assert report.sop_class_uid == "1.2.840.10008.5.1.4.1.1.88.33"  # Comprehensive SR
    graphics = [g for group in report.groups[1:] for g in group.graphics]
    assert {g.value_type for g in graphics} == {"SCOORD"}
    assert {g.image_uid for g in graphics} == {series.info.frames[65].sop_instance_uid}
    assert len(graphics_on_image(report, target_image(series, 65))) == len(ON_PLANE)


def test_report_rows_name_the_plane_and_slab(mr):
    series, volume = mr
    axial = PlaneSeries(series, volume, "axial")
    k = axial.grid.middle()
    (row,) = frame_measurement_rows(axial, k, ON_PLANE[:1])
    assert row.image == f"axial reformat, frame {k + 1} of {len(axial)}"
    assert (
        row.value
        == f"{KINDS['length'].measure(ON_PLANE[0].points, axial.geometry(k).spacing):.1f} mm"
    )


def test_reformat_of_a_multi_frame_file_names_the_frames_it_draws_from(enhanced_mr_dir, tmp_path):
    info = next(s for s in build_index([enhanced_mr_dir]).all_series() if len(s.frames) > 8)
    series = open_series(info)
    sagittal = PlaneSeries(series, build_volume(series), "sagittal")
    k = sagittal.grid.middle()
    store = MeasurementStore(info.study.study_instance_uid)
    store.add(*measured_image(sagittal, k), Measurement("rectangle", [(2, 2), (9, 12)]))
    store.add(*measured_image(sagittal, k), Measurement("ellipse", [(-40, -40), (-30, -20)]))
    store.save()
    display = frame_key_image(sagittal, k).display
    key = replace(frame_key_image(sagittal, k), overlay=np.dstack([display] * 3))
    extras = export_extras(sagittal, k, None, anonymize=True)
    result = written(sagittal.header(k), key, FINDINGS, MODEL, tmp_path, extras)
    report = read_report(result.sr_path)
    # the finding cites the file's frames the plane draws from (not one frame of it)
    drawn = [series.info.frames[i].frame_index + 1 for i in sagittal.source_frames(k)]
    cited = [line for line in report.lines if " frame" in line and "Storage" in line]
    assert len(drawn) > 1 and cited
    assert all(line.endswith(f"[{', '.join(map(str, drawn))}]") for line in cited), cited
    rectangle, outside = (g.graphics[0] for g in report.groups[1:])
    assert rectangle.value_type == outside.value_type == "SCOORD3D"
    source_frame_of_reference = str(series.header(0).FrameOfReferenceUID)
    assert rectangle.frame_of_reference_uid not in ("", source_frame_of_reference)  # anonymised
    # an ellipse off the image: its area, and no statistics of no pixels (not NaN)
    assert [m.derivation for m in report.groups[2].measurements] == [""]
    assert_valid_3d_sr(result.sr_path)


def test_the_sr_text_gives_scoord3d_points_in_mm_and_their_frame_of_reference(mr, tmp_path):
    """The SR Reports dock's text (`StructuredReport.text`) of the exported 3D SR: each Image
    Region's patient coordinates to 0.1 mm (the first few, then the count) and its Frame of
    Reference, not only "POLYGON (n points)"."""
    series, volume = mr
    coronal = PlaneSeries(series, volume, "coronal")
    _, result = export_frame(coronal, coronal.grid.middle(), tmp_path / "sr")
    report = read_report(result.sr_path)
    frame_of_reference = str(series.header(0).FrameOfReferenceUID)
    regions = [line.strip() for line in report.text().splitlines() if "Image Region:" in line]
    graphics = [group.graphics[0] for group in report.groups[1:]]
    assert len(regions) == len(graphics) == len(ON_PLANE)
    for line, graphic in zip(regions, graphics, strict=True):
        shown = [
            [float(v) for v in triple.split(", ")]
            for triple in re.findall(r"\(([-\d.]+, [-\d.]+, [-\d.]+)\)", line)
        ]
        assert line.startswith(f"Image Region: {graphic.graphic_type} (x, y, z mm): ")
        assert len(shown) == min(len(graphic.points), POINTS_SHOWN)
        assert np.abs(np.array(shown) - np.array(graphic.points[:POINTS_SHOWN])).max() <= 0.05
        many = len(graphic.points) > POINTS_SHOWN
        assert (f"… ({len(graphic.points)} points)" in line) == many, line
        assert line.endswith(f"; Frame of Reference {short_uid(frame_of_reference)}")
    polygon = regions[-1]  # the rectangle: a closed outline of 5 points
    assert graphics[-1].graphic_type == "POLYGON" and "… (5 points)" in polygon
    assert frame_of_reference[:8] in polygon and frame_of_reference[-8:] in polygon


def assert_dciodvfy_clean(path, iod):
    run = subprocess.run([need_tool("dciodvfy"), str(path)], capture_output=True, text=True)
    assert iod in run.stdout + run.stderr
    assert "Error" not in run.stdout + run.stderr, run.stdout + run.stderr


def test_a_finding_on_a_plane_cites_the_acquired_slices_the_plane_draws_from(mr, tmp_path):
    """The AI run on an axial slab of the oblique 3D T1: the SC's Source Image Sequence and the
    SR finding's source images are the base series' slices the slab cuts (not its first
    image), and both say the image is a reformatted plane of that series."""
    series, volume = mr
    axial = PlaneSeries(series, volume, "axial")
    axial.set_slab(6.0, "mip")
    k = axial.grid.middle()
    drawn = axial.source_frames(k)
    expected = [series.info.frames[i].sop_instance_uid for i in drawn]
    assert 1 < len(expected) < len(series.info.frames)  # the oblique slab cuts some slices

    extras = export_extras(axial, k, None, anonymize=False)
    display = frame_key_image(axial, k).display
    key = replace(frame_key_image(axial, k), overlay=np.dstack([display] * 3))
    result = written(axial.header(k), key, FINDINGS, MODEL, tmp_path, extras)

    sc = pydicom.dcmread(result.sc_path)
    assert [str(i.ReferencedSOPInstanceUID) for i in sc.SourceImageSequence] == expected
    caption = axial.frame_caption(k)
    assert f"reformatted plane: {caption} (orientation " in sc.DerivationDescription
    assert f"drawn from {len(drawn)} of its {len(series.info.frames)} images" in (
        sc.DerivationDescription
    )
    report = read_report(result.sr_path)
    finding = report.groups[0]
    assert list(finding.source_images) == expected
    assert any(
        f"Comment: Source image is a reformatted plane: {caption} (" in c for c in finding.comments
    )
    evidence = {
        str(i.ReferencedSOPInstanceUID)
        for s in pydicom.dcmread(result.sr_path).CurrentRequestedProcedureEvidenceSequence
        for r in s.ReferencedSeriesSequence
        if r.SeriesInstanceUID == series.info.series_instance_uid
        for i in r.ReferencedSOPSequence
    }
    assert set(expected) <= evidence
    assert_dciodvfy_clean(result.sc_path, "SCImage")
    assert_dciodvfy_clean(result.sr_path, "ComprehensiveSR")


def test_a_finding_on_an_acquired_image_cites_that_image(mr, tmp_path):
    series, _ = mr
    extras = export_extras(series, 40, None, anonymize=False)
    assert extras.reformat is None
    display = frame_key_image(series, 40).display
    key = replace(frame_key_image(series, 40), overlay=np.dstack([display] * 3))
    result = written(series.header(40), key, FINDINGS, MODEL, tmp_path, extras)
    uid = series.info.frames[40].sop_instance_uid
    sc = pydicom.dcmread(result.sc_path)
    assert [str(i.ReferencedSOPInstanceUID) for i in sc.SourceImageSequence] == [uid]
    assert "reformat" not in sc.DerivationDescription
    assert read_report(result.sr_path).groups[0].source_images == (uid,)
