"""One DICOM reader: training and evaluation read DICOM through the viewer core, as the viewer."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pytest

from inference.errors import ImageInputError
from inference.image_io import read_image
from viewer.cli import main
from viewer.core.analysis_input import file_analysis_input, frame_analysis_input

SAMPLE_STUDY = Path(__file__).resolve().parents[2] / "resources" / "samples" / "demo-study"
LABELS = {"chest-ap-1.dcm": "PNEUMONIA", "chest-ap-2.dcm": "PNEUMONIA", "chest-ap-3.dcm": "NORMAL"}


@pytest.fixture
def dicom_dataset(tmp_path) -> Path:
    """The sample study's radiographs as a folder-per-label dataset (labels from SOURCES.md)."""
    if not (SAMPLE_STUDY / "chest-ap-3.dcm").is_file():
        pytest.skip("bundled sample study not present")
    for name, label in LABELS.items():
        (tmp_path / label).mkdir(exist_ok=True)
        shutil.copy(SAMPLE_STUDY / name, tmp_path / label / name)
    return tmp_path


def test_inference_alone_refuses_dicom_with_one_line(dicom_dataset):
    with pytest.raises(ImageInputError, match=r"^chest-ap-3.dcm: DICOM is read by the viewer core"):
        read_image(dicom_dataset / "NORMAL" / "chest-ap-3.dcm")


def test_the_dataset_reader_gives_the_viewers_pixels_and_header(dicom_dataset):
    from viewer.core.index import build_index
    from viewer.core.series import open_series

    path = dicom_dataset / "NORMAL" / "chest-ap-3.dcm"  # MONOCHROME1, JPEG-free
    read = file_analysis_input(path)
    (info,) = build_index([path]).all_series()
    shown = frame_analysis_input(open_series(info), 0)
    assert np.array_equal(read.pixels, shown.pixels) and read.photometric == shown.photometric
    assert read.window == shown.window and read.from_dicom
    assert 1.0 <= read.patient_age_years < 6.0 and read.view == "AP"


def test_a_broken_dicom_file_is_one_line(tmp_path):
    broken = tmp_path / "broken.dcm"
    broken.write_bytes(b"DICM" * 10)
    with pytest.raises(ImageInputError, match=r"^broken.dcm: "):
        file_analysis_input(broken)


def test_radlens_evaluate_reads_a_dicom_dataset_through_the_core(
    dicom_dataset, shipped_model_dir, capsys
):
    status = main(
        ["evaluate", "--model", str(shipped_model_dir), "--data", str(dicom_dataset), "--json"]
    )
    report = json.loads(capsys.readouterr().out)
    assert status == 0 and report["images"] == 3 and report["failures"] == []


def test_radlens_train_reads_a_dicom_dataset_through_the_core(dicom_dataset, tmp_path):
    """`inference` alone refuses DICOM (above): a model trained here saw the core's pixels."""
    from inference.model_card import ModelCard

    data = tmp_path / "data"
    for split in ("train", "val"):
        shutil.copytree(dicom_dataset, data / split, ignore=shutil.ignore_patterns("data"))
    out = tmp_path / "model"
    args = ["train", "--data", str(data), "--out", str(out), "--epochs", "1", "--size", "32"]
    assert main([*args, "--device", "cpu", "--batch-size", "3"]) == 0
    card = ModelCard.read(out)
    assert card.metrics["validation"]["data"]["images"] == 3
