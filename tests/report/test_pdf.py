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
from viewer.report.overlay import exported_heatmap
from viewer.report.pdf import build_pdf, write_pdf
from viewer.report.report_data import (
    FindingRow,
    KeyImage,
    MeasurementRow,
    ModelSummary,
    ReportData,
    ReportHeader,
    StudyDetails,
    report_header,
)

DETAILS = StudyDetails(
    patient_name="Zażółć, Gęślą",
    patient_id=PATIENT_ID,
    birth_date="2021-03-14",
    sex="female",
    age="4 y",
    modality="DX",
    body_part="CHEST",
    view="AP",
    study_description="XR CHEST AP",
    study_date="2026-01-02",
    accession_number="ACC-5521",
    referring_physician="Referrer, Rita",
    institution="Demo Children's Hospital",
)
SIGNED = dt.datetime(2026, 1, 2, 11, 45, tzinfo=dt.UTC)
HEADER = report_header(
    "St. Elsewhere Radiology", "Fever and cough for 3 days.", "final", "Dr. Ana Reader", SIGNED
)
FINDINGS = (FindingRow("pneumonia", 0.8731, 0.42, True), FindingRow("effusion", 0.1204, 0.5, False))
CARD = {
    "name": "cxr-test-net",
    "version": "9.8.7",
    "intended_use": {"statement": "Research only. Frontal chest radiographs of children."},
    "metrics": {"validation": {"auc": 0.951, "auc_ci95": [0.93, 0.97], "images": 530}},
    "training": {"history": [{"epoch": 1, "val_auc": 0.9}, {"epoch": 2, "val_auc": 0.95}]},
}
MODEL = ModelSummary.from_card_summary(
    {
        "name": "cxr-test-net",
        "version": "9.8.7",
        "intended_use": "Research only. Frontal chest radiographs of children.",
        "validation_data": "val split of Kermany 2018 (530 images)",
        "validation_metrics": {
            "auc": 0.951,
            "auc_ci95": [0.93, 0.97],
            "sensitivity": 0.93,
            "specificity": 0.9,
            "images": 530,
        },
        "card": CARD,
    }
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
        overlay=exported_heatmap(display, blob_heatmap(display.shape)),
        overlay_caption="AI heatmap: pneumonia",
    )
    return ReportData(
        details=DETAILS,
        key_images=(key,),
        findings=FINDINGS,
        model=MODEL,
        measurements=(MeasurementRow("1. length", "41.7 mm", "image 1"),),
        impression="Right basal consolidation.",
        generated_at=dt.datetime(2026, 1, 2, 10, 30, tzinfo=dt.UTC),
        header=HEADER,
    )


def changed(report: ReportData, **fields) -> ReportData:
    return ReportData(**{**report.__dict__, **fields})


def anonymised(report: ReportData) -> ReportData:
    """As `build_report_data(..., anonymize=True)` makes it."""
    header = ReportHeader(**{**HEADER.__dict__, "institution": "", "signed_at": None})
    return changed(
        report,
        details=DETAILS.anonymised(),
        header=header,
        anonymized=True,
        generated_at=None,
    )


def flat(text: str) -> str:
    return " ".join(text.split())


@pytest.mark.parametrize("paper", ["a4", "letter"])
def test_one_page_holds_the_whole_report(report, paper, tmp_path):
    pdf = write_pdf(report, tmp_path / "r.pdf", paper)
    assert len(PdfReader(pdf).pages) == 1
    text = flat(pdf_text(pdf))
    header = ["St. Elsewhere Radiology", "FINAL", "Zazólc, Gesla", PATIENT_ID, "female, 4 y"]
    header += ["2021-03-14", "DX chest, AP view", "XR CHEST AP", "2026-01-02", "ACC-5521"]
    header += ["Referrer, Rita", "Clinical indication Fever and cough for 3 days."]
    findings = ["pneumonia 87.3 % 42.0 % positive", "effusion 12.0 % 50.0 % negative"]
    verdict = ["Intended use: Within the model's intended use"]
    body = ["1. length 41.7 mm image 1", "Impression Right basal consolidation."]
    model = ["cxr-test-net 9.8.7", "Research only. Frontal chest radiographs of children."]
    model += ["AUC 0.951 (95 % CI 0.930", "sensitivity 0.930, specificity 0.900", "530 images"]
    model += ["on val split of Kermany 2018"]
    signature = ["Reader: Dr. Ana Reader", "Signature:", "Signed 2026-01-02 11:45 UTC"]
    footer = [flat(viewer.RESEARCH_USE_NOTICE), f"RadLens {viewer.__version__}", "page 1 of 1"]
    for expected in header + findings + verdict + body + model + signature + footer:
        assert expected in text, expected
    assert "Appendix" not in text and "val_auc" not in text


def test_the_page_stays_one_when_much_is_written(report, tmp_path):
    """Many measurements and a long impression: the key images shrink, the page stays one."""
    rows = tuple(MeasurementRow(f"{n}. length", f"{n}.0 mm", "image 1") for n in range(1, 7))
    long = changed(report, measurements=rows, impression="Consolidation. " * 30)
    for paper in ("a4", "letter"):
        pdf = write_pdf(long, tmp_path / f"{paper}.pdf", paper)
        assert len(PdfReader(pdf).pages) == 1, paper
        assert "6. length 6.0 mm" in flat(pdf_text(pdf))


def test_preliminary_report_is_not_signed(report, tmp_path):
    data = changed(report, header=report_header(indication="Cough.", reader="Dr. Ana Reader"))
    text = flat(pdf_text(write_pdf(data, tmp_path / "r.pdf")))
    assert "PRELIMINARY" in text and "Preliminary: not signed" in text
    assert "Signed 20" not in text
    assert "Demo Children's Hospital" in text  # no institution set: the study's


def test_final_report_needs_a_reader():
    with pytest.raises(ValueError, match="reader"):
        report_header(status="final")
    with pytest.raises(ValueError, match="preliminary or final"):
        report_header(status="draft")


def test_outside_intended_use_is_said_above_the_findings(report, tmp_path):
    reasons = ("patient age 45 y is outside 1-5 y", "view LATERAL is not AP or PA")
    data = changed(report, intended_use_reasons=reasons)
    text = flat(pdf_text(write_pdf(data, tmp_path / "r.pdf")))
    assert "Intended use: Outside the model's intended use: patient age 45 y" in text
    assert "Analysed on request; interpret with caution." in text
    assert "Within the model's intended use" not in text


def test_appendix_holds_the_whole_card_only_when_asked(report, tmp_path):
    pdf = write_pdf(changed(report, appendix=True), tmp_path / "r.pdf")
    pages = PdfReader(pdf).pages
    assert len(pages) == 2
    first, second = (flat(page.extract_text()) for page in pages)
    assert "The full model card is in the appendix." in first and "Appendix" not in first
    assert "Appendix: model card of cxr-test-net 9.8.7" in second
    assert "epoch 1, val_auc 0.900" in second and "auc_ci95 0.930" in second
    for page in (first, second):
        assert "research use only" in page and "of 2" in page


def test_disclaimer_is_on_every_page(report, tmp_path):
    many = changed(report, key_images=report.key_images * 4)
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
    band = page[int(0.28 * height) : int(0.42 * height)]  # below the identifiers table
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


SECRETS = (PATIENT_ID, "Zazólc", "Gesla", "ACC-5521", "Referrer", "2021-03-14", "2026-01-02")
SECRETS += ("St. Elsewhere", "Demo Children", "XR CHEST AP", "11:45", "10:30")


@pytest.mark.parametrize("paper", ["a4", "letter"])
def test_anonymised_report_has_no_identifiers_or_dates_anywhere(report, paper, tmp_path):
    named = write_pdf(report, tmp_path / "named.pdf", paper)
    assert contains(searchable_bytes(named), PATIENT_ID)  # so the checks below can fail
    assert "Zazólc" in PdfReader(named).metadata.title
    pdf = write_pdf(anonymised(report), tmp_path / "anon.pdf", paper)
    text, blob = flat(pdf_text(pdf)), searchable_bytes(pdf)
    for secret in SECRETS:
        assert secret not in text, secret
        assert not contains(blob, secret), secret
    for kept in ("pneumonia 87.3 %", "Anonymised report", "female, 4 y", "DX chest, AP view"):
        assert kept in text
    assert "Reader: Dr. Ana Reader" in text and "date withheld" in text
    assert len(PdfReader(pdf).pages) == 1
    meta = PdfReader(pdf).metadata
    fields = " ".join(str(v) for v in meta.values())
    assert "Zaz" not in fields and PATIENT_ID not in fields and "Gesla" not in fields
    assert meta.title and meta.author == "RadLens"
    today = dt.date.today().strftime("%Y%m%d")
    assert today not in str(meta.get("/CreationDate")) and today not in str(meta.get("/ModDate"))


def test_anonymised_age_of_ninety_and_over_is_grouped():
    old = StudyDetails(sex="male", age="93 y", patient_name="X").anonymised()
    assert old.sex_age == "male, 90 y or older" and not old.patient_name
    assert StudyDetails(age="4 y").anonymised().age == "4 y"


def test_write_is_atomic_and_leaves_no_temp_file(report, tmp_path):
    target = tmp_path / "out" / "report.pdf"
    write_pdf(report, target)
    assert target.read_bytes().startswith(b"%PDF-")
    assert [p.name for p in target.parent.iterdir()] == ["report.pdf"]
