"""Report fixtures: a real chest radiograph wrapped as a DX DICOM file, and PDF helpers."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import numpy as np
import pydicom
import pytest
from PIL import Image
from pydicom.dataset import Dataset, FileMetaDataset
from pydicom.uid import ExplicitVRLittleEndian, generate_uid

DX_FOR_PRESENTATION = "1.2.840.10008.5.1.4.1.1.1.1"
PATIENT_NAME = "Zażółć^Gęślą"  # non-ASCII on purpose (transliterated in the PDF)
PATIENT_ID = "RLTEST-7734"
CXR_SAMPLE = ("PNEUMONIA", "person1023_virus_1714.jpeg")


def write_dx(path: Path, pixels: np.ndarray, **overrides) -> Path:
    """A minimal, valid DX For Presentation file holding 12-bit `pixels` (MONOCHROME2)."""
    meta = FileMetaDataset()
    meta.MediaStorageSOPClassUID = DX_FOR_PRESENTATION
    meta.MediaStorageSOPInstanceUID = generate_uid()
    meta.TransferSyntaxUID = ExplicitVRLittleEndian
    ds = Dataset()
    ds.file_meta = meta
    ds.SOPClassUID = DX_FOR_PRESENTATION
    ds.SOPInstanceUID = meta.MediaStorageSOPInstanceUID
    ds.StudyInstanceUID, ds.SeriesInstanceUID = generate_uid(), generate_uid()
    ds.SpecificCharacterSet = "ISO_IR 192"
    ds.PatientName, ds.PatientID = PATIENT_NAME, PATIENT_ID
    ds.PatientBirthDate, ds.PatientSex = "20210314", "F"
    ds.StudyDate, ds.StudyTime, ds.StudyID = "20260102", "101500", "1"
    ds.AccessionNumber, ds.ReferringPhysicianName = "ACC-5521", "Referrer^Rita"
    ds.InstitutionName, ds.StudyDescription = "Demo Children's Hospital", "XR CHEST AP"
    ds.Modality, ds.SeriesNumber, ds.InstanceNumber = "DX", 1, 1
    ds.SeriesDescription, ds.BodyPartExamined, ds.ViewPosition = "CHEST AP", "CHEST", "AP"
    ds.PatientOrientation = ["L", "F"]
    ds.Manufacturer, ds.ImageType = "RadLens test", ["ORIGINAL", "PRIMARY"]
    ds.PresentationIntentType, ds.ImagerPixelSpacing = "FOR PRESENTATION", [0.2, 0.2]
    ds.SamplesPerPixel, ds.PhotometricInterpretation = 1, "MONOCHROME2"
    ds.Rows, ds.Columns = pixels.shape
    ds.BitsAllocated, ds.BitsStored, ds.HighBit, ds.PixelRepresentation = 16, 12, 11, 0
    ds.RescaleIntercept, ds.RescaleSlope, ds.RescaleType = 0, 1, "US"
    ds.WindowCenter, ds.WindowWidth = 2048, 4096
    ds.PixelData = pixels.astype(np.uint16).tobytes()
    for keyword, value in overrides.items():
        setattr(ds, keyword, value)
    ds.save_as(path, enforce_file_format=True)
    return path


def radiograph_pixels(cxr_dir: Path, sample=CXR_SAMPLE, max_side: int = 1024) -> np.ndarray:
    picture = Image.open(cxr_dir / "samples-fullres" / sample[0] / sample[1]).convert("L")
    picture.thumbnail((max_side, max_side))
    return np.asarray(picture, dtype=np.uint16) * 16  # 8-bit grey → 12-bit stored values


@pytest.fixture
def cxr_dicom(cxr_dir, tmp_path) -> Path:
    """A DX file in its own study folder, built from a real full-resolution chest radiograph."""
    folder = tmp_path / "study"
    folder.mkdir()
    return write_dx(folder / "IM0001.dcm", radiograph_pixels(cxr_dir))


@pytest.fixture
def cxr_header(cxr_dicom) -> Dataset:
    return pydicom.dcmread(cxr_dicom, stop_before_pixels=True)


def need_tool(name: str) -> str:
    path = shutil.which(name)
    if path is None:
        pytest.skip(f"{name} not installed (poppler-utils; .ci/install installs it)")
    return path


def pdf_text(pdf: Path) -> str:
    command = [need_tool("pdftotext"), "-layout", str(pdf), "-"]
    return subprocess.run(command, capture_output=True, text=True, check=True, timeout=60).stdout


def render_pages(pdf: Path, out_dir: Path, dpi: int = 60) -> list[np.ndarray]:
    """Each page as an RGB array, rendered by poppler (an independent PDF reader)."""
    prefix = out_dir / "page"
    command = [need_tool("pdftoppm"), "-png", "-r", str(dpi), str(pdf), str(prefix)]
    subprocess.run(command, check=True, timeout=120)
    pages = sorted(out_dir.glob("page-*.png"))
    return [np.asarray(Image.open(p).convert("RGB")) for p in pages]


AI_MODEL = {"name": "cxr-test-net", "version": "9.8.7", "sha256": "ab12" * 16}  # a card summary


def ai_result(findings, heatmap: np.ndarray | None, reasons: tuple[str, ...] = ()):
    """A model's result (`inference.types.AnalysisResult`) from `AI_MODEL`: `findings` as
    (label, probability, threshold, positive), `heatmap` for the first of them."""
    from inference.types import AnalysisResult, Finding

    rows = tuple(Finding(*finding) for finding in findings)
    return AnalysisResult(
        findings=rows, heatmaps={} if heatmap is None else {rows[0].label: heatmap},
        model_name=AI_MODEL["name"], model_version=AI_MODEL["version"],
        model_sha256=AI_MODEL["sha256"], device="cpu", timings={}, warnings=(),
        intended_use_ok=not reasons, intended_use_reasons=reasons,
    )  # fmt: skip


def export_as_the_app_does(source: Path, out: Path, result, measurements=(), anonymize=False):
    """(DicomExport, ReportData): `result` for the first frame of the DICOM file `source`,
    through `compose_report` and `export_dicom` as `radlens export-dicom` and the window do;
    `measurements` are stored on that frame first (as the user would draw them)."""
    from viewer.core.index import build_index
    from viewer.core.measurements import MeasurementStore
    from viewer.core.series import open_series
    from viewer.core.voi import Window
    from viewer.report.compose import Analysis, compose_report, export_dicom

    with open_series(build_index([source]).all_series()[0]) as series:
        if measurements:
            ref = series.info.frames[0]
            store = MeasurementStore(series.info.study.study_instance_uid).load()
            for measurement in measurements:
                store.add(ref.sop_instance_uid, ref.frame_index, measurement)
            store.save()
        analysis = Analysis(result, AI_MODEL)
        window = Window(2048, 4096)
        data = compose_report(series, 0, analysis, window=window, anonymize=anonymize)
        return export_dicom(series, 0, data, out, result), data
