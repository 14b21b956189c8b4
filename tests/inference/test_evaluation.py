"""`radlens evaluate`: reproduces the shipped card's figures; agrees with `radlens analyze`."""

from __future__ import annotations

import csv
import json

import pytest
from PIL import Image

from inference.engine import Analyzer
from inference.evaluation import REFERENCE_FILENAME, evaluate
from viewer.cli import main


def test_shipped_model_reproduces_its_reference_subset(shipped_model_dir, cxr_dir, tmp_path):
    reference = json.loads((shipped_model_dir / REFERENCE_FILENAME).read_text())
    analyzer = Analyzer(shipped_model_dir, device="cpu")
    assert reference["model_sha256"] == analyzer.card.weights_sha256
    report = evaluate(
        analyzer, cxr_dir / "val", tmp_path, limit=reference["limit"], seed=reference["seed"]
    )
    assert report["images"] == reference["images"]
    assert report["auc"] == pytest.approx(reference["auc"], abs=2e-3)
    for key in ("sensitivity", "specificity", "accuracy"):
        assert report[key] == pytest.approx(reference[key], abs=1.5 / report["images"])
    with open(tmp_path / "per_image.csv", newline="") as stream:
        rows = {row["file"]: float(row["probability"]) for row in csv.DictReader(stream)}
    assert rows.keys() == reference["probabilities"].keys()
    for name, probability in reference["probabilities"].items():
        assert rows[name] == pytest.approx(probability, abs=1e-4), name
    for picture in ("roc.png", "reliability.png"):
        assert Image.open(tmp_path / picture).size == (480, 480)


def test_card_validation_metrics_are_complete(shipped_model_dir):
    card = json.loads((shipped_model_dir / "card.json").read_text())
    validation = card["metrics"]["validation"]
    for key in (
        "auc",
        "auc_ci95",
        "sensitivity",
        "specificity",
        "ppv",
        "npv",
        "ece",
        "confusion_matrix",
    ):
        assert key in validation
    assert validation["threshold"] == pytest.approx(
        card["thresholds"]["pneumonia"]["value"], abs=1e-6
    )
    assert validation["sensitivity"] >= 0.95
    training = card["training"]
    assert "CC BY 4.0" in training["license"]
    runs = training.get("ensemble_of", [training])
    assert runs and all(run["command"].startswith("radlens train") for run in runs)


def test_analyze_and_evaluate_give_the_same_probability(
    shipped_model_dir, cxr_dir, tmp_path, capsys
):
    data = tmp_path / "data"
    picks = {"NORMAL": "IM-0117-0001.jpeg", "PNEUMONIA": "person1023_virus_1714.jpeg"}
    for label, name in picks.items():
        (data / label).mkdir(parents=True)
        (data / label / name).symlink_to(cxr_dir / "samples-fullres" / label / name)
    model = str(shipped_model_dir)
    assert (
        main(["evaluate", "--model", model, "--data", str(data), "--out", str(tmp_path / "ev")])
        == 0
    )
    capsys.readouterr()
    with open(tmp_path / "ev" / "per_image.csv", newline="") as stream:
        evaluated = {
            row["file"].split("/")[1]: float(row["probability"]) for row in csv.DictReader(stream)
        }
    paths = [str(data / label / name) for label, name in picks.items()]
    assert main(["analyze", *paths, "--model", model, "--json", "--device", "cpu"]) == 0
    analysed = json.loads(capsys.readouterr().out)
    for entry in analysed:
        name = entry["path"].rsplit("/", 1)[1]
        assert entry["findings"][0]["probability"] == pytest.approx(evaluated[name], abs=1e-5)
