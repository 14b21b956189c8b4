"""`radlens report` / `radlens export-dicom` end to end on the bundled sample study."""

from __future__ import annotations

import datetime as dt
import re

import pydicom
import pytest
from pypdf import PdfReader

from tests.report.conftest import pdf_text
from viewer.cli import main
from viewer.core.formatting import percent
from viewer.core.measurements import Measurement, MeasurementStore
from viewer.core.voi import Window
from viewer.paths import sample_study_dir

SAMPLE_NAME, SAMPLE_ID = "RADLENS", "DEMO-0001"
LENGTH_POINTS = [(200.0, 150.0), (200.0, 450.0)]  # 300 px along a row


@pytest.fixture
def default_card():
    from inference.errors import ModelError
    from inference.registry import find_model

    try:
        return find_model(None)
    except ModelError as exc:
        pytest.skip(f"no default model shipped yet: {exc}")


@pytest.fixture
def key_image(default_card):
    """The image `radlens report` picks by default: the first radiograph, its middle frame."""
    from viewer.core.index import build_index

    index = build_index([sample_study_dir()])
    info = next(s for s in index.all_series() if s.modality == "DX")
    return info, info.frames[len(info.frames) // 2]


def first_window(ds) -> Window | None:
    if "WindowCenter" not in ds:
        return None
    centers, widths = ds.WindowCenter, ds.WindowWidth
    first = (lambda v: v[0]) if isinstance(centers, pydicom.multival.MultiValue) else (lambda v: v)
    return Window(float(first(centers)), float(first(widths)))


def independent_probabilities(info, ref, card) -> dict[str, float]:
    """The engine run directly on pydicom's decode of the file (not through the report code)."""
    from pydicom.pixels import apply_modality_lut

    from inference.engine import AnalysisInput, Analyzer

    ds = pydicom.dcmread(ref.path)
    item = AnalysisInput(
        pixels=apply_modality_lut(ds.pixel_array, ds),
        photometric=ds.PhotometricInterpretation,
        modality=ds.Modality,
        body_part=ds.get("BodyPartExamined", ""),
        view=ds.get("ViewPosition", ""),
        window=first_window(ds),
    )
    result = Analyzer(model=card, device="cpu").analyze(item, force=True)
    return {f.label: f.probability for f in result.findings}


def test_report_holds_model_findings_measurement_and_impression(
    key_image, default_card, tmp_path, capsys
):
    info, ref = key_image
    store = MeasurementStore(info.study.study_instance_uid).load()
    store.add(ref.sop_instance_uid, ref.frame_index, Measurement("length", LENGTH_POINTS))
    store.save()
    spacing = float(pydicom.dcmread(ref.path, stop_before_pixels=True).PixelSpacing[0])
    out = tmp_path / "report.pdf"
    status = main(
        [
            "report",
            str(sample_study_dir()),
            "--out",
            str(out),
            "--impression",
            "No focal consolidation.",
        ]
    )
    assert status == 0, capsys.readouterr().err
    text = " ".join(pdf_text(out).split())
    for label, probability in independent_probabilities(info, ref, default_card).items():
        assert f"{label} {percent(probability)}" in text
    assert f"{300 * spacing:.1f} mm" in text
    assert "No focal consolidation." in text and default_card.name in text
    assert "RADLENS, DEMO" in text and SAMPLE_ID in text


SAMPLE_SECRETS = (SAMPLE_NAME, SAMPLE_ID, "2024-03-15", "20240315", "2021-01-01", "DEMO-ACC-1")
SAMPLE_SECRETS += ("RadLens demo (fictitious)", "St. Elsewhere")


def test_anonymized_report_names_nobody_and_has_no_dates(key_image, tmp_path):
    out = tmp_path / "anon.pdf"
    args = ["report", str(sample_study_dir()), "--out", str(out), "--anonymize", "--paper"]
    args += ["letter", "--institution", "St. Elsewhere", "--reader", "Dr. R", "--status", "final"]
    assert main(args) == 0
    text, raw = pdf_text(out), out.read_bytes()
    pages = b"".join(page.get_contents().get_data() for page in PdfReader(out).pages)
    metadata = " ".join(str(v) for v in PdfReader(out).metadata.values())
    for secret in SAMPLE_SECRETS:
        assert secret not in text and secret not in metadata, secret
        assert secret.encode() not in raw and secret.encode() not in pages, secret
    flat = " ".join(text.split())
    assert "Anonymised report" in flat and "DX chest, AP view" in flat
    assert "Reader: Dr. R" in flat and "date withheld" in flat and "Generated" not in flat
    assert dt.date.today().strftime("%Y%m%d") not in metadata  # invariant creation date


def test_report_header_options_and_the_appendix(key_image, default_card, tmp_path, capsys):
    out = tmp_path / "final.pdf"
    args = ["report", str(sample_study_dir()), "--out", str(out), "--appendix"]
    args += ["--institution", "St. Elsewhere Radiology", "--indication", "Cough, fever."]
    args += ["--status", "final", "--reader", "Dr. Ana Reader"]
    assert main(args) == 0, capsys.readouterr().err
    # the command line words the findings as the screen does ("pneumonia 99.0 % (positive)")
    assert re.search(r"findings: \w+ \d+\.\d % \((positive|negative)\)", capsys.readouterr().out)
    pages = [" ".join(p.extract_text().split()) for p in PdfReader(out).pages]
    first = pages[0]
    for expected in ("St. Elsewhere Radiology", "FINAL", "Cough, fever.", "RADLENS, DEMO"):
        assert expected in first, expected
    assert "Reader: Dr. Ana Reader" in first and "Signed 20" in first
    assert default_card.name in first and "AUC " in first and "page 1 of" in first
    assert "Appendix" not in first
    assert "Appendix: model card" in pages[1] and default_card.weights_sha256 in "".join(pages)


def test_a_final_report_without_a_reader_is_refused_first(tmp_path, capsys):
    out = tmp_path / "r.pdf"
    args = ["report", str(sample_study_dir()), "--out", str(out), "--status", "final"]
    assert main([*args, "--model", "no-such-model"]) == 1
    err = capsys.readouterr().err.strip()
    assert err == "radlens report: --status final needs --reader NAME (the reader who signs)"
    assert not out.exists()


def test_dicom_export_goes_into_the_source_study(key_image, tmp_path, capsys):
    info, ref = key_image
    status = main(["export-dicom", str(sample_study_dir()), "--out", str(tmp_path / "ai")])
    assert status == 0, capsys.readouterr().err
    source = pydicom.dcmread(ref.path, stop_before_pixels=True)
    written = [pydicom.dcmread(p) for p in sorted((tmp_path / "ai").glob("*.dcm"))]
    assert len(written) == 3 and {d.Modality for d in written} == {"SR", "SEG", "OT"}
    for dataset in written:
        assert dataset.StudyInstanceUID == source.StudyInstanceUID
        assert dataset.SeriesInstanceUID != source.SeriesInstanceUID
    sc = next(d for d in written if d.Modality not in ("SR", "SEG"))
    assert sc.SourceImageSequence[0].ReferencedSOPInstanceUID == source.SOPInstanceUID
    # the colour bar beside the image and the research-use line below it are burned in
    assert sc.Columns > source.Columns and sc.Rows > source.Rows
    line = sc.pixel_array[source.Rows :, : source.Columns]
    assert (line == 0).mean() > 0.5 and (line == 255).any()


def test_missing_input_is_one_line_without_traceback(tmp_path, capsys):
    assert main(["report", str(tmp_path / "nothing-here"), "--out", str(tmp_path / "r.pdf")]) == 1
    err = capsys.readouterr().err
    assert err.startswith("radlens report: ") and "no such file or folder" in err
    assert "Traceback" not in err and not (tmp_path / "r.pdf").exists()


def test_frame_out_of_range_is_refused(key_image, tmp_path, capsys):
    out = tmp_path / "r.pdf"
    assert main(["report", str(sample_study_dir()), "--out", str(out), "--frame", "999"]) == 1
    assert "frame 999 does not exist" in capsys.readouterr().err and not out.exists()


def test_anonymised_report_writes_anonymised_dicom_with_measurements(key_image, tmp_path, capsys):
    """`report --anonymize --dicom-out`: the DICOM written is de-identified too, and the SR
    carries the measurement made in RadLens with its graphic and the intended-use verdict."""
    from viewer.core.sr import read_report

    info, ref = key_image
    store = MeasurementStore(info.study.study_instance_uid).load()
    store.add(ref.sop_instance_uid, ref.frame_index, Measurement("length", LENGTH_POINTS))
    store.save()
    out = tmp_path / "dicom"
    args = ["report", str(sample_study_dir()), "--out", str(tmp_path / "r.pdf")]
    assert main([*args, "--anonymize", "--dicom-out", str(out)]) == 0, capsys.readouterr().err
    written = sorted(out.glob("*.dcm"))
    assert len(written) == 3
    source = pydicom.dcmread(ref.path, stop_before_pixels=True)
    for path in written:
        data = path.read_bytes()
        assert str(source.PatientName).encode() not in data, path.name
        assert SAMPLE_ID.encode() not in data, path.name
        assert source.StudyInstanceUID.encode() not in data
    report = read_report(next(p for p in written if p.name.startswith("SR_")))
    verdicts = [v for g in report.groups for v in g.evaluations if "intended use" in v[0]]
    assert verdicts and verdicts[0][1] in ("Yes", "No")
    lengths = [g for g in report.groups if g.graphics]
    assert len(lengths) == 1 and lengths[0].graphics[0].points == tuple(LENGTH_POINTS)


def test_adult_radiograph_report_says_why_and_runs_only_with_force(
    default_card, cxr_dir, tmp_path, capsys
):
    """Outside the intended use (born 1940): not run by default; --force puts the reason in the
    PDF, the Secondary Capture and the SR."""
    from tests.report.conftest import radiograph_pixels, write_dx

    study = tmp_path / "study"
    study.mkdir()
    write_dx(study / "adult.dcm", radiograph_pixels(cxr_dir), PatientBirthDate="19400101")
    reason = "patient age 86 years (model: aged 1–5 years)"  # study 2026-01-02

    assert main(["report", str(study), "--out", str(tmp_path / "refused.pdf")]) == 0
    out = capsys.readouterr().out
    assert "findings: none" in out and reason in out and "The model was not run." in out
    text = " ".join(pdf_text(tmp_path / "refused.pdf").split())
    assert "No AI analysis in this report." in text and "patient age 86 years" in text

    dicom_out = tmp_path / "dicom"
    pdf = tmp_path / "forced.pdf"
    args = ["report", str(study), "--out", str(pdf), "--force", "--dicom-out", str(dicom_out)]
    assert main(args) == 0
    assert "interpret with caution" in capsys.readouterr().out
    forced_text = " ".join(pdf_text(pdf).split())
    assert "Outside the model's intended use: patient age 86 years" in forced_text
    assert forced_text.count("patient age 86 years") == 1, "the verdict is said once"
    sc = pydicom.dcmread(next(dicom_out.glob("SC_*.dcm")))
    sr = pydicom.dcmread(next(dicom_out.glob("SR_*.dcm")))
    assert reason in sc.ImageComments
    comments = [
        item.TextValue
        for item in _walk(sr.ContentSequence)
        if "TextValue" in item and item.ConceptNameCodeSequence[0].CodeValue == "121106"
    ]
    assert comments and reason in comments[0]


def _walk(sequence):
    for item in sequence:
        yield item
        yield from _walk(item.get("ContentSequence", []))
