"""`radlens analyze` on the bundled DICOM sample study and on PNG/JPEG, through the real core."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from viewer.cli import main

SAMPLE_STUDY = Path(__file__).resolve().parents[2] / "resources" / "samples" / "demo-study"


@pytest.fixture
def sample_study() -> Path:
    if not (SAMPLE_STUDY / "chest-ap-3.dcm").is_file():
        pytest.skip("bundled sample study not present")
    return SAMPLE_STUDY


def run_json(capsys, *args: str) -> tuple[int, list[dict]]:
    status = main(["analyze", *args, "--json", "--device", "cpu"])
    return status, json.loads(capsys.readouterr().out)


def test_monochrome1_dicom_scores_like_its_source_jpeg(
    shipped_model_dir, sample_study, cxr_dir, capsys
):
    """chest-ap-3.dcm stores IM-0117-0001.jpeg inverted as MONOCHROME1: same grey image, same score."""
    source = cxr_dir / "samples-fullres" / "NORMAL" / "IM-0117-0001.jpeg"
    status, entries = run_json(
        capsys, str(sample_study / "chest-ap-3.dcm"), str(source), "--model", str(shipped_model_dir)
    )
    assert status == 0
    dicom, jpeg = (e["findings"][0]["probability"] for e in entries)
    assert dicom == pytest.approx(jpeg, abs=2e-3)
    assert all(e["model"]["sha256"] for e in entries)
    by_suffix = {Path(e["path"]).suffix: e for e in entries}
    assert by_suffix[".dcm"]["intended_use_ok"] and by_suffix[".dcm"]["reasons"] == []
    assert not by_suffix[".jpeg"]["intended_use_ok"]  # a JPEG has no header to check
    assert by_suffix[".jpeg"]["reasons"][0].startswith("intended use not verifiable")


def test_study_folder_analyses_radiographs_and_flags_the_mr(
    shipped_model_dir, sample_study, tmp_path, capsys
):
    status, entries = run_json(
        capsys, str(sample_study), "--model", str(shipped_model_dir), "--heatmaps", str(tmp_path)
    )
    assert status == 0
    chest = [e for e in entries if Path(e["path"]).name.startswith("chest-ap")]
    mr = [e for e in entries if "mr-sag-t1" in e["path"]]
    assert len(chest) == 3 and mr
    for entry in chest:
        assert 0.0 <= entry["findings"][0]["probability"] <= 1.0
        assert set(entry["timings"]) >= {"decode", "preprocess", "forward", "gradcam", "total"}
        heatmap = np.load(entry["heatmaps"]["pneumonia"]["npy"])
        assert heatmap.shape == (entry_shape(entry["path"]))
        assert Path(entry["heatmaps"]["pneumonia"]["png"]).is_file()
    assert all(not e["intended_use_ok"] and e["findings"] == [] for e in mr)
    assert "outside the model's intended use" in mr[0]["warnings"][0]


def with_header(source: Path, target: Path, **attributes) -> Path:
    """A copy of a sample radiograph with other header values (and its own UIDs)."""
    import pydicom
    from pydicom.uid import generate_uid

    dataset = pydicom.dcmread(source)
    for keyword, value in attributes.items():
        if value is None:
            dataset.pop(keyword, None)
        else:
            setattr(dataset, keyword, value)
    dataset.SOPInstanceUID = dataset.file_meta.MediaStorageSOPInstanceUID = generate_uid()
    dataset.SeriesInstanceUID = generate_uid()
    target.parent.mkdir(parents=True, exist_ok=True)
    dataset.save_as(target)
    return target


def test_adult_lateral_and_undated_radiographs_are_refused_with_their_reasons(
    shipped_model_dir, sample_study, tmp_path, capsys
):
    """The issue's case: a patient born 1940 was read "75 % · positive" without a word."""
    source = sample_study / "chest-ap-2.dcm"
    adult = with_header(source, tmp_path / "a" / "adult.dcm", PatientBirthDate="19400101")
    lateral = with_header(source, tmp_path / "b" / "lateral.dcm", ViewPosition="LL")
    undated = with_header(
        source, tmp_path / "c" / "undated.dcm", PatientBirthDate="", PatientAge=None
    )
    stated = with_header(source, tmp_path / "d" / "stated.dcm", PatientAge="045Y")
    paths = [str(p) for p in (adult, lateral, undated, stated)]
    status, entries = run_json(capsys, *paths, "--model", str(shipped_model_dir))
    assert status == 0
    by_name = {Path(e["path"]).name: e for e in entries}
    for name, reason in [
        ("adult.dcm", "patient age 84 years (model: aged 1–5 years)"),
        ("lateral.dcm", "view position LL — a lateral view (model: AP, PA)"),
        ("undated.dcm", "patient age not recorded (model: aged 1–5 years)"),
        ("stated.dcm", "patient age 45 years (model: aged 1–5 years)"),  # PatientAge first
    ]:
        entry = by_name[name]
        assert entry["findings"] == [] and not entry["intended_use_ok"], name
        assert entry["reasons"] == [reason]
    status, forced = run_json(capsys, str(adult), "--model", str(shipped_model_dir), "--force")
    assert forced[0]["findings"] and not forced[0]["intended_use_ok"]
    assert forced[0]["reasons"] == [by_name["adult.dcm"]["reasons"][0]]
    assert "analysed on request" in forced[0]["warnings"][0]


def entry_shape(path: str) -> tuple[int, int]:
    import pydicom

    header = pydicom.dcmread(path, stop_before_pixels=True)
    return int(header.Rows), int(header.Columns)


def test_a_bad_file_is_reported_and_the_others_still_run(
    shipped_model_dir, radiograph_path, tmp_path, capsys
):
    broken = tmp_path / "broken.png"
    broken.write_bytes(b"not a png at all")
    status, entries = run_json(
        capsys, str(broken), str(radiograph_path), "--model", str(shipped_model_dir)
    )
    assert status == 1
    by_name = {Path(e["path"]).name: e for e in entries}
    assert "error" in by_name["broken.png"] and "Traceback" not in by_name["broken.png"]["error"]
    assert by_name[radiograph_path.name]["findings"][0]["probability"] >= 0.0


def test_models_lists_the_shipped_model(shipped_model_dir, capsys):
    assert main(["models", "--json"]) == 0
    listed = {m["id"]: m for m in json.loads(capsys.readouterr().out)}
    summary = listed["pneumonia-cxr"]
    assert summary["validation_metrics"]["auc"] > 0.9 and "CC BY 4.0" in summary["license"]


def test_a_folder_of_pictures_analyses_each_picture_once(
    shipped_model_dir, cxr_dir, tmp_path, capsys
):
    """Pictures in a folder are collected directly; the index, which also opens pictures as
    secondary images, must not add them a second time."""
    import shutil

    sources = sorted((cxr_dir / "val" / "NORMAL").glob("*.jpeg"))[:3]
    for source in sources:
        shutil.copy(source, tmp_path / source.name)
    status, entries = run_json(capsys, str(tmp_path), "--model", str(shipped_model_dir))
    assert status == 0
    assert sorted(Path(e["path"]).name for e in entries) == sorted(s.name for s in sources)
