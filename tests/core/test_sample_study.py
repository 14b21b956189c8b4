"""The bundled sample study opens, holds the expected series, and decodes like pydicom."""

from __future__ import annotations

import filecmp
import importlib.util
import sys
from pathlib import Path

import numpy as np
import pydicom
import pytest
from PIL import Image

from viewer.core.index import build_index
from viewer.core.render import render_frame
from viewer.core.series import open_series
from viewer.paths import sample_study_dir

STUDY_DIR = sample_study_dir() / "demo-study"
BUILDER = Path(__file__).resolve().parents[2] / "scripts" / "build_sample_study.py"
RADIOGRAPH_SOURCES = {
    "chest-ap-1.dcm": ("PNEUMONIA/person1044_virus_1740.jpeg", "1.2.840.10008.1.2.4.90"),
    "chest-ap-2.dcm": ("PNEUMONIA/person1029_bacteria_2961.jpeg", "1.2.840.10008.1.2.4.80"),
    "chest-ap-3.dcm": ("NORMAL/IM-0117-0001.jpeg", "1.2.840.10008.1.2.1"),
}


@pytest.fixture(scope="module")
def sample_index():
    return build_index([sample_study_dir()])


def _series_by_file(index) -> dict[str, object]:
    return {_file_name(info.frames[0].path): info for info in index.all_series() if info.frames}


def _file_name(path) -> str:
    return str(path).replace("\\", "/").rsplit("/", 1)[-1]


def test_one_fictitious_patient_one_study_four_series(sample_index):
    (patient,) = sample_index.patients
    assert str(patient.name) == "RADLENS^DEMO" and patient.patient_id == "DEMO-0001"
    (study,) = patient.studies
    modalities = sorted(info.modality for info in study.series)
    assert modalities == ["DX", "DX", "DX", "MR"]
    mr = next(info for info in study.series if info.modality == "MR")
    assert len(mr.frames) == 35 and (mr.rows, mr.columns) == (256, 256)
    # the only non-DICOM file beside the study is its documentation: ignored, not an error
    assert not sample_index.skipped
    assert [_file_name(p) for p in sample_index.ignored] == ["SOURCES.md"]
    assert not build_index([STUDY_DIR]).skipped


def test_each_transfer_syntax_is_present(sample_index):
    syntaxes = {str(info.transfer_syntax) for info in sample_index.all_series()}
    assert syntaxes == {
        "1.2.840.10008.1.2.4.90",  # JPEG 2000 lossless
        "1.2.840.10008.1.2.4.80",  # JPEG-LS lossless
        "1.2.840.10008.1.2.1",  # explicit VR little endian
        "1.2.840.10008.1.2.5",  # RLE lossless
    }


@pytest.mark.parametrize("file_name", sorted(RADIOGRAPH_SOURCES))
def test_radiographs_decode_like_pydicom(sample_index, file_name):
    info = _series_by_file(sample_index)[file_name]
    ds = pydicom.dcmread(STUDY_DIR / file_name)
    assert ds.file_meta.TransferSyntaxUID == RADIOGRAPH_SOURCES[file_name][1]
    series = open_series(info)
    np.testing.assert_array_equal(series.modality_frame(0), ds.pixel_array)
    assert series.photometric == ds.PhotometricInterpretation


def test_mr_slices_decode_like_pydicom(sample_index):
    info = next(s for s in sample_index.all_series() if s.modality == "MR")
    series = open_series(info)
    for i in (0, 17, 34):
        expected = pydicom.dcmread(info.frames[i].path).pixel_array
        np.testing.assert_array_equal(series.modality_frame(i), expected)


@pytest.mark.parametrize("file_name", sorted(RADIOGRAPH_SOURCES))
def test_radiographs_display_as_their_source_images(sample_index, cxr_dir, file_name):
    """Default VOI is the file's FULL window; MONOCHROME1 (chest-ap-3) comes back upright."""
    series = open_series(_series_by_file(sample_index)[file_name])
    source = cxr_dir / "samples-fullres" / RADIOGRAPH_SOURCES[file_name][0]
    expected = np.asarray(Image.open(source).convert("L"))
    np.testing.assert_array_equal(render_frame(series, 0), expected)


def test_radiograph_headers():
    ds = pydicom.dcmread(STUDY_DIR / "chest-ap-3.dcm", stop_before_pixels=True)
    assert ds.Modality == "DX" and ds.PresentationIntentType == "FOR PRESENTATION"
    assert ds.ViewPosition == "AP" and ds.BodyPartExamined == "CHEST"
    assert 0.14 <= float(ds.ImagerPixelSpacing[0]) <= 0.2
    assert ds.PhotometricInterpretation == "MONOCHROME1" and ds.PresentationLUTShape == "INVERSE"


def test_mr_carries_no_source_identifiers():
    for path in sorted((STUDY_DIR / "mr-sag-t1").glob("*.dcm")):
        ds = pydicom.dcmread(path, stop_before_pixels=True)
        assert ds.PatientName == "RADLENS^DEMO" and ds.PatientID == "DEMO-0001"
        assert not any(element.tag.is_private for element in ds)
        assert "InstitutionAddress" not in ds and "DeviceSerialNumber" not in ds
        assert not str(ds.SOPInstanceUID).startswith("1.3.12.2.1107")  # Siemens UIDs replaced


def test_size_and_sources():
    total = sum(p.stat().st_size for p in sample_study_dir().rglob("*") if p.is_file())
    assert total <= 12 * 1024 * 1024
    sources = (sample_study_dir() / "SOURCES.md").read_text(encoding="utf-8")
    for needed in (
        "CC BY 4.0",
        "Kermany",
        "doi:10.17632/rscbjbr9sj.2",
        "BSD 2-Clause",
        "fictitious",
    ):
        assert needed in sources


@pytest.mark.slow
def test_builder_reproduces_the_committed_files(tmp_path, cxr_dir, monkeypatch):
    spec = importlib.util.spec_from_file_location("build_sample_study", BUILDER)
    builder = importlib.util.module_from_spec(spec)
    monkeypatch.setitem(sys.modules, spec.name, builder)  # dataclasses look their module up
    spec.loader.exec_module(builder)
    written = builder.build(cxr_dir.parent, tmp_path)
    assert len(written) == 38
    for path in written:
        committed = sample_study_dir() / path.relative_to(tmp_path)
        assert filecmp.cmp(path, committed, shallow=False), committed.name
