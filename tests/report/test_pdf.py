"""The PDF report, checked with independent readers: poppler (text, rendering) and pypdf."""

from __future__ import annotations

import datetime as dt

import numpy as np
import pydicom
import pytest
from pypdf import PdfReader

import viewer
from tests.report.conftest import PATIENT_ID, pdf_text, render_pages
from viewer.core.render import render_array
from viewer.core.voi import Window
from viewer.report.overlay import burn_in_heatmap
from viewer.report.pdf import build_pdf, write_pdf
from viewer.report.report_data import (
    FindingRow,
    KeyImage,
    MeasurementRow,
    ModelSummary,
    ReportData,
    StudyDetails,
)

DETAILS = StudyDetails(
    institution="Demo Children's Hospital",
    patient_name="Zażółć, Gęślą",
    patient_id=PATIENT_ID,
    birth_date="2021-03-14",
    sex="F",
    study_date="2026-01-02",
    study_description="XR CHEST AP",
    accession_number="ACC-5521",
    referring_physician="Referrer, Rita",
)
FINDINGS = (FindingRow("pneumonia", 0.8731, 0.42, True), FindingRow("effusion", 0.1204, 0.5, False))
MODEL = ModelSummary(
    name="cxr-test-net",
    version="9.8.7",
    training_data="Kermany 2018 paediatric CXR, training split",
    validation_metrics=(("auc", "0.951"), ("sensitivity", "0.930")),
)


def blob_heatmap(shape) -> np.ndarray:
    rows, cols = np.mgrid[0 : shape[0], 0 : shape[1]]
    blob = ((rows - shape[0] * 0.55) / (shape[0] * 0.15)) ** 2
    blob += ((cols - shape[1] * 0.3) / (shape[1] * 0.12)) ** 2
    return np.exp(-blob).astype(np.float32)


@pytest.fixture
def report(cxr_dicom) -> ReportData:
    ds = pydicom.dcmread(cxr_dicom)
    display = render_array(ds.pixel_array, Window(2048, 4096))
    key = KeyImage(
        caption="Series 1 CHEST AP - image 1 of 1 - W 4096 / C 2048",
        display=display,
        overlay=burn_in_heatmap(display, blob_heatmap(display.shape)),
        overlay_caption="Grad-CAM heatmap: pneumonia",
    )
    return ReportData(
        details=DETAILS,
        key_images=(key,),
        findings=FINDINGS,
        model=MODEL,
        measurements=(MeasurementRow("length", "41.7 mm", "image 1"),),
        impression="Right basal consolidation.",
        generated_at=dt.datetime(2026, 1, 2, 10, 30, tzinfo=dt.UTC),
    )


def anonymised(report: ReportData) -> ReportData:
    return ReportData(**{**report.__dict__, "details": StudyDetails(), "anonymized": True})


def test_text_holds_identifiers_findings_model_and_notice(report, tmp_path):
    text = " ".join(pdf_text(write_pdf(report, tmp_path / "r.pdf")).split())
    for expected in ("Zazólc, Gesla", PATIENT_ID, "2021-03-14", "ACC-5521", "Referrer, Rita"):
        assert expected in text
    for expected in ("pneumonia 87.3 % 42.0 % positive", "effusion 12.0 % 50.0 % negative"):
        assert expected in text
    assert "cxr-test-net 9.8.7" in text and "auc 0.951" in text and "41.7 mm" in text
    assert "Right basal consolidation." in text
    assert f"RadLens {viewer.__version__}" in text and "2026-01-02 10:30" in text
    assert " ".join(viewer.RESEARCH_USE_NOTICE.split()) in text


def test_disclaimer_is_on_every_page(report, tmp_path):
    many = ReportData(**{**report.__dict__, "key_images": report.key_images * 3})
    reader = PdfReader(write_pdf(many, tmp_path / "long.pdf"))
    assert len(reader.pages) >= 2
    for page in reader.pages:
        assert "research use only" in " ".join(page.extract_text().split())


def test_non_latin1_name_is_transliterated_not_dropped(report, tmp_path):
    cyrillic = StudyDetails(**{**DETAILS.__dict__, "patient_name": "Шевченко, Тарас"})
    data = ReportData(**{**report.__dict__, "details": cyrillic})
    assert "Shevchenko, Taras" in pdf_text(write_pdf(data, tmp_path / "c.pdf"))


def test_key_images_are_drawn_side_by_side_with_the_heatmap(report, tmp_path):
    page = render_pages(write_pdf(report, tmp_path / "r.pdf"), tmp_path)[0].astype(float)
    height, width, _ = page.shape
    assert page.std() > 20, "page looks blank"
    band = page[int(0.24 * height) : int(0.42 * height)]  # below the identifiers table
    left, right = band[:, : width // 2], band[:, width // 2 :]
    assert left.std() > 30 and right.std() > 30, "no image content in the key-image area"
    colour = np.abs(band[..., 0] - band[..., 2])  # red minus blue: grey pixels give 0
    assert colour[:, : width // 2].mean() < 2, "the displayed image must stay grey"
    assert colour[:, width // 2 :].max() > 60, "no heatmap colour beside it"


@pytest.mark.parametrize(("paper", "size_pt"), [("a4", (595, 842)), ("letter", (612, 792))])
def test_paper_size(report, paper, size_pt, tmp_path):
    box = PdfReader(write_pdf(report, tmp_path / "p.pdf", paper=paper)).pages[0].mediabox
    assert (round(box.width), round(box.height)) == size_pt


def test_unknown_paper_is_refused(report):
    with pytest.raises(ValueError, match="a4, letter"):
        build_pdf(report, paper="a3")


def searchable_bytes(pdf) -> bytes:
    """The file as stored plus every page's decompressed content stream."""
    pages = [page.get_contents().get_data() for page in PdfReader(pdf).pages]
    return pdf.read_bytes() + b"".join(pages)


def contains(blob: bytes, text: str) -> bool:
    return any(text.encode(codec) in blob for codec in ("utf-8", "cp1252", "utf-16-be"))


def test_anonymised_report_has_no_identifiers_in_text_bytes_or_metadata(report, tmp_path):
    named = write_pdf(report, tmp_path / "named.pdf")
    assert contains(searchable_bytes(named), PATIENT_ID)  # so the checks below can fail
    assert "Zazólc" in PdfReader(named).metadata.title
    pdf = write_pdf(anonymised(report), tmp_path / "anon.pdf")
    text, blob = pdf_text(pdf), searchable_bytes(pdf)
    for secret in (PATIENT_ID, "Zazólc", "Gesla", "ACC-5521", "Referrer", "2021-03-14"):
        assert secret not in text
        assert not contains(blob, secret)
    assert "pneumonia" in text and "Anonymised report" in text
    meta = PdfReader(pdf).metadata
    fields = " ".join(str(v) for v in meta.values())
    assert "Zaz" not in fields and PATIENT_ID not in fields and "Gesla" not in fields
    assert meta.title and meta.author == "RadLens"


def test_write_is_atomic_and_leaves_no_temp_file(report, tmp_path):
    target = tmp_path / "out" / "report.pdf"
    write_pdf(report, target)
    assert target.read_bytes().startswith(b"%PDF-")
    assert [p.name for p in target.parent.iterdir()] == ["report.pdf"]
