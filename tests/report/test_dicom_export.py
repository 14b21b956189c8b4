"""AI results as DICOM SC + Comprehensive SR, read back with pydicom (and dcmtk when present)."""

from __future__ import annotations

import shutil
import subprocess

import numpy as np
import pydicom
import pytest

from tests.report.conftest import ai_result, export_as_the_app_does
from viewer.core.errors import RadLensError

FINDINGS = (("pneumonia", 0.8731, 0.42, True), ("effusion", 0.1204, 0.5, False))
COMPREHENSIVE_SR = "1.2.840.10008.5.1.4.1.1.88.33"
SECONDARY_CAPTURE = "1.2.840.10008.5.1.4.1.1.7"


@pytest.fixture
def exported(cxr_dicom, cxr_header, tmp_path):
    before = cxr_dicom.read_bytes()
    heatmap = np.zeros((cxr_header.Rows, cxr_header.Columns), np.float32)
    heatmap[100:300, 200:400] = 1.0
    result, data = export_as_the_app_does(cxr_dicom, tmp_path / "ai", ai_result(FINDINGS, heatmap))
    assert cxr_dicom.read_bytes() == before, "the source file must never be written"
    return result, data.key_images[0]


def content_items(dataset):
    for item in dataset.get("ContentSequence", []):
        yield item
        yield from content_items(item)


def test_sc_is_rgb_key_image_with_heatmap_in_the_source_study(exported, cxr_header):
    result, key = exported
    sc = pydicom.dcmread(result.sc_path)
    assert sc.SOPClassUID == SECONDARY_CAPTURE and sc.PhotometricInterpretation == "RGB"
    assert sc.StudyInstanceUID == cxr_header.StudyInstanceUID
    assert sc.SeriesInstanceUID != cxr_header.SeriesInstanceUID
    assert sc.SOPInstanceUID not in (cxr_header.SOPInstanceUID, "")
    assert sc.PatientID == cxr_header.PatientID and sc.PatientName == cxr_header.PatientName
    assert np.array_equal(sc.pixel_array, key.overlay)
    assert sc.SourceImageSequence[0].ReferencedSOPInstanceUID == cxr_header.SOPInstanceUID
    for keyword in ("Rows", "Columns", "SamplesPerPixel", "ConversionType", "Modality"):
        assert keyword in sc


def test_sr_holds_findings_and_references_the_source_image(exported, cxr_header):
    result, _ = exported
    sr = pydicom.dcmread(result.sr_path)
    assert sr.SOPClassUID == COMPREHENSIVE_SR and sr.Modality == "SR"
    assert sr.StudyInstanceUID == cxr_header.StudyInstanceUID
    new_series = {sr.SeriesInstanceUID, pydicom.dcmread(result.sc_path).SeriesInstanceUID}
    assert cxr_header.SeriesInstanceUID not in new_series and len(new_series) == 2
    items = list(content_items(sr))
    references = {
        ref.ReferencedSOPInstanceUID for i in items for ref in i.get("ReferencedSOPSequence", [])
    }
    assert references == {cxr_header.SOPInstanceUID}
    evidence = sr.CurrentRequestedProcedureEvidenceSequence[0].ReferencedSeriesSequence[0]
    assert evidence.ReferencedSOPSequence[0].ReferencedSOPClassUID == cxr_header.SOPClassUID
    values = sorted(
        float(m.MeasuredValueSequence[0].NumericValue) for m in items if m.ValueType == "NUM"
    )
    assert values == pytest.approx(sorted([0.8731, 0.42, 0.1204, 0.5]))
    calls = [i.ConceptCodeSequence[0].CodeMeaning for i in items if i.ValueType == "CODE"]
    assert "Present" in calls and "Absent" in calls and "Pneumonia" in calls


def test_dciodvfy_finds_no_errors(exported):
    dciodvfy = shutil.which("dciodvfy")
    if dciodvfy is None:
        pytest.skip("dciodvfy (dicom3tools) not installed")
    result, _ = exported
    for path, iod in ((result.sc_path, "SCImage"), (result.sr_path, "ComprehensiveSR")):
        run = subprocess.run([dciodvfy, str(path)], capture_output=True, text=True, timeout=60)
        report = run.stdout + run.stderr
        assert iod in report and "Error" not in report, report


def test_dcmtk_reads_both_objects(exported):
    dcmdump = shutil.which("dcmdump")
    if dcmdump is None:
        pytest.skip("dcmdump (dcmtk) not installed")
    result, _ = exported
    for path in (result.sc_path, result.sr_path):
        run = subprocess.run([dcmdump, "-E", str(path)], capture_output=True, text=True, timeout=60)
        assert run.returncode == 0 and "E:" not in run.stderr, run.stderr


def test_export_without_heatmap_is_refused(cxr_dicom, tmp_path):
    with pytest.raises(ValueError, match="no heatmap"):
        export_as_the_app_does(cxr_dicom, tmp_path / "ai", ai_result(FINDINGS, None))
    assert not (tmp_path / "ai").exists()


def example_ct_file(seg_sr_dir):
    return sorted((seg_sr_dir / "totalsegmentator" / "example_ct_dicom").iterdir())[0]


def hot_square(rows: int, columns: int) -> np.ndarray:
    heatmap = np.zeros((rows, columns), np.float32)
    heatmap[10:50, 10:50] = 1.0
    return heatmap


def test_a_source_without_study_and_series_uids_is_refused(seg_sr_dir, tmp_path):
    source = example_ct_file(seg_sr_dir)  # Study/Series/SOP Instance UID empty in the file
    with pytest.raises(
        RadLensError, match="StudyInstanceUID, SeriesInstanceUID are empty in the file"
    ):
        export_as_the_app_does(source, tmp_path / "ai", ai_result(FINDINGS, hot_square(512, 512)))
    assert not (tmp_path / "ai").exists()


def test_empty_sop_uids_are_taken_from_the_file_meta(seg_sr_dir, tmp_path):
    header = pydicom.dcmread(example_ct_file(seg_sr_dir))
    header.StudyInstanceUID, header.SeriesInstanceUID = "1.2.826.0.1.3680043.2.1", "1.2.826.0.1.3"
    source = tmp_path / "source.dcm"
    header.save_as(source)  # SOP Class/Instance UID still empty: only the file meta holds them
    result = ai_result(FINDINGS, hot_square(512, 512))
    export, _data = export_as_the_app_does(source, tmp_path / "ai", result)
    meta = header.file_meta.MediaStorageSOPInstanceUID
    assert pydicom.dcmread(source, stop_before_pixels=True).SOPInstanceUID == ""
    sc = pydicom.dcmread(export.sc_path)
    assert sc.SourceImageSequence[0].ReferencedSOPInstanceUID == meta
    assert (
        sc.SourceImageSequence[0].ReferencedSOPClassUID == header.file_meta.MediaStorageSOPClassUID
    )
    dciodvfy = shutil.which("dciodvfy")
    if dciodvfy is None:
        pytest.skip("dciodvfy (dicom3tools) not installed")
    for path in export.paths:
        run = subprocess.run([dciodvfy, str(path)], capture_output=True, text=True, timeout=60)
        assert "Error" not in run.stdout + run.stderr, run.stdout + run.stderr


def test_a_patient_name_never_reaches_warnings(cxr_dicom, tmp_path):
    """highdicom warns about a one-component person name quoting it; the export keeps the name
    in the objects and out of every warning (stderr, logs)."""
    import warnings

    ds = pydicom.dcmread(cxr_dicom)
    ds.PatientName = "ONECOMPONENTNAME"
    ds.save_as(cxr_dicom)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        export, _data = export_as_the_app_does(
            cxr_dicom, tmp_path / "ai", ai_result(FINDINGS, hot_square(*ds.pixel_array.shape))
        )
    assert not [w for w in caught if "ONECOMPONENTNAME" in str(w.message)]
    assert pydicom.dcmread(export.sc_path).PatientName == "ONECOMPONENTNAME"
