"""A clear negative's heatmap only when asked (`--heatmap-for-negatives` on analyze, report and
export-dicom), said so wherever it appears; the report's model section quotes the held-out
test. The image: a val normal the shipped model calls far below the display threshold (0.1)."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from tests.report.conftest import pdf_text, write_dx
from viewer import RESEARCH_USE_NOTICE
from viewer.cli import main

CLEAR_NEGATIVE = ("val", "NORMAL", "IM-0666-0001-0002.jpeg")  # shipped 1.3.0: p ≈ 0.0006
ON_REQUEST = "map drawn on request"
SHIPPED_MODEL = Path(__file__).resolve().parents[2] / "resources" / "models" / "pneumonia-cxr"


@pytest.fixture
def shipped_model_dir() -> Path:
    if not (SHIPPED_MODEL / "card.json").is_file():
        pytest.skip(f"the shipped model is not in {SHIPPED_MODEL}")
    return SHIPPED_MODEL


@pytest.fixture
def clear_negative(cxr_dir, shipped_model_dir):
    path = cxr_dir.joinpath(*CLEAR_NEGATIVE)
    if not path.is_file():
        pytest.skip(f"{path} not found")
    return path


@pytest.fixture
def clear_negative_dx(clear_negative, tmp_path):
    """The same radiograph as a DX file of a 4-year-old (within the intended use)."""
    folder = tmp_path / "study"
    folder.mkdir()
    pixels = np.asarray(Image.open(clear_negative).convert("L"), dtype=np.uint16) * 16
    return write_dx(folder / "IM0001.dcm", pixels, StudyDescription="Thorax^1_CHEST_AP")


def analyze_json(capsys, path, *options: str) -> dict:
    status = main(["analyze", str(path), "--json", "--device", "cpu", *options])
    assert status == 0
    return json.loads(capsys.readouterr().out)[0]


def test_analyze_draws_a_clear_negative_map_only_when_asked(clear_negative, tmp_path, capsys):
    plain = analyze_json(capsys, clear_negative, "--heatmaps", str(tmp_path / "plain"))
    asked = analyze_json(
        capsys, clear_negative, "--heatmaps", str(tmp_path / "asked"), "--heatmap-for-negatives"
    )
    probability = plain["findings"][0]["probability"]
    assert probability < 0.1 and asked["findings"][0]["probability"] == pytest.approx(probability)
    assert "heatmaps_on_request" not in plain
    assert asked["heatmaps_on_request"] == ["pneumonia"]
    assert asked["heatmap_hide_below"] > probability
    blank = np.load(plain["heatmaps"]["pneumonia"]["npy"])
    drawn = np.load(asked["heatmaps"]["pneumonia"]["npy"])
    assert not blank.any() and drawn.max() > 0


def test_report_says_the_map_was_drawn_on_request_and_quotes_the_held_out_test(
    clear_negative_dx, shipped_model_dir, tmp_path, capsys
):
    plain, asked = tmp_path / "plain.pdf", tmp_path / "asked.pdf"
    folder = str(clear_negative_dx.parent)
    assert main(["report", folder, "--out", str(plain)]) == 0, capsys.readouterr().err
    assert main(["report", folder, "--out", str(asked), "--heatmap-for-negatives"]) == 0
    plain_text, asked_text = (" ".join(pdf_text(p).split()) for p in (plain, asked))
    assert "nothing is drawn for a clear negative unless asked for" in plain_text
    assert ON_REQUEST not in plain_text
    assert "is below the heatmap display threshold (10.0 %); map drawn on request" in asked_text
    assert "Study Thorax · 1_CHEST_AP" in asked_text  # not "Thorax^1_CHEST_AP"
    # the condensed model section: the held-out val-test, not the val-calib figures
    metrics = json.loads((shipped_model_dir / "card.json").read_text())["metrics"]
    test, calib = metrics["held_out_test"], metrics["validation"]
    low, high = test["auc_ci95"]
    assert f"Held-out test: AUC {test['auc']:.3f} (95 % CI {low:.3f}–{high:.3f})" in asked_text
    assert f"{test['images']} images ({test['positives']} positive)" in asked_text
    assert (
        "held out by patient from the dataset's training split, same hospital; "
        "not an external test" in asked_text
    )
    assert "Validation:" not in asked_text and f"{calib['images']} images" not in asked_text
    assert RESEARCH_USE_NOTICE in asked_text


def test_export_dicom_burns_in_the_map_only_when_asked(clear_negative_dx, tmp_path, capsys):
    import pydicom

    def exported_sc(name: str, *options: str):
        out = tmp_path / name
        out.mkdir()
        folder = str(clear_negative_dx.parent)
        assert main(["export-dicom", folder, "--out", str(out), *options]) == 0
        capsys.readouterr()
        (sc,) = out.glob("SC_*.dcm")
        return pydicom.dcmread(sc)

    plain, asked = exported_sc("plain"), exported_sc("asked", "--heatmap-for-negatives")
    pixels = [ds.pixel_array.astype(int) for ds in (plain, asked)]
    assert pixels[0].shape == pixels[1].shape and np.abs(pixels[1] - pixels[0]).max() > 50
    assert ON_REQUEST in asked.DerivationDescription
    assert ON_REQUEST not in plain.DerivationDescription
