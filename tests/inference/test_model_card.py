"""The model card: one typed schema, validated on load with one-line errors, one writer."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from inference.errors import ModelError
from inference.model_card import SCHEMA_VERSION, ModelCard, migrate, write_card

SHA = "ab" * 32


def minimal(**changes) -> dict:
    card = {
        "id": "tiny",
        "name": "tiny",
        "version": "1",
        "labels": ["finding"],
        "architecture": {"name": "small_resnet", "arguments": {}},
        "weights": {"file": "model.safetensors", "format": "safetensors", "sha256": SHA},
        "input": {"size": 32},
        "thresholds": {"finding": {"value": 0.5}},
    }
    return {**card, **changes}


def write_raw(folder: Path, data: dict) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "card.json").write_text(json.dumps(data), encoding="utf-8")
    return folder / "card.json"


def test_the_shipped_card_is_schema_2_and_round_trips(shipped_model_dir, tmp_path):
    card = ModelCard.read(shipped_model_dir)
    data = json.loads((shipped_model_dir / "card.json").read_text(encoding="utf-8"))
    assert data["schema_version"] == SCHEMA_VERSION == 2
    assert card.to_dict() == data  # what is on disk is exactly what the writer writes
    copy = ModelCard.read(write_card(card, tmp_path))
    assert copy.to_dict() == card.to_dict() and copy.weights_sha256 == card.weights_sha256


def test_a_schema_1_card_is_migrated_on_load(tmp_path):
    v1 = minimal(
        gradcam_layer="blocks[-1]",
        input={"size": 32, "pipeline": ["to_grey"], "value_range": "[0, 1]"},
        output={"activation": "sigmoid", "temperature": 2.0, "bias": 0.5, "calibration": "Platt"},
    )
    card = ModelCard.read(write_raw(tmp_path, v1))
    assert card.calibration["finding"].temperature == 2.0
    assert card.calibration["finding"].bias == 0.5 and card.calibration["finding"].method == "Platt"
    assert "gradcam_layer" not in card.to_dict() and "pipeline" not in card.to_dict()["input"]
    assert card.calibrate([0.0]) == pytest.approx(1 / (1 + 2.718281828**-0.5))
    assert migrate(card.to_dict()) == card.to_dict()


@pytest.mark.parametrize(
    ("changes", "field"),
    [
        ({"labels": []}, "'labels'"),
        ({"thresholds": {"finding": {"value": "high"}}}, "'thresholds.finding.value'"),
        ({"thresholds": {"finding": {"value": 1.5}}}, "'thresholds.finding.value'"),
        ({"thresholds": {}}, "'thresholds.finding'"),
        ({"weights": {"file": "m", "format": "pickle", "sha256": SHA}}, "'weights.format'"),
        ({"weights": {"file": "m", "format": "safetensors", "sha256": "12"}}, "'weights.sha256'"),
        ({"input": {"size": 32, "channels": 3}}, "'input.channels'"),
        ({"input": {"size": 32, "colour": True}}, "'input.colour'"),
        ({"intended_use": {"age_years": {"min": 6, "below": 1}}}, "'intended_use.age_years'"),
        ({"intended_use": {"view": "AP"}}, "'intended_use.view'"),
        ({"schema_version": 9}, "'schema_version'"),
    ],
)
def test_a_bad_field_is_one_line_naming_the_card_and_the_field(tmp_path, changes, field):
    path = write_raw(tmp_path, minimal(**changes))
    with pytest.raises(ModelError) as raised:
        ModelCard.read(path)
    message = str(raised.value)
    assert "\n" not in message and str(path) in message and field in message


def test_missing_field_is_named(tmp_path):
    data = minimal()
    del data["architecture"]
    with pytest.raises(ModelError, match=r"field 'architecture': missing"):
        ModelCard.read(write_raw(tmp_path, data))


def test_the_writer_refuses_an_invalid_card_and_leaves_nothing(tmp_path):
    with pytest.raises(ModelError):
        write_card(minimal(labels="finding"), tmp_path / "out")
    assert not (tmp_path / "out" / "card.json").exists()


def test_calibration_is_per_label(tmp_path):
    data = minimal(
        labels=["a", "b"],
        thresholds={"a": {"value": 0.5}, "b": {"value": 0.3}},
        output={"calibration": {"a": {"temperature": 1.0}, "b": {"bias": 1.0}}},
        schema_version=2,
    )
    card = ModelCard.read(write_raw(tmp_path, data))
    assert card.thresholds == {"a": 0.5, "b": 0.3}
    assert card.calibrate([0.0, 0.0]) == pytest.approx([0.5, 1 / (1 + 2.718281828**-1)])


def test_calibrate_writes_the_card_through_the_one_writer(shipped_model_dir, tmp_path, cxr_dir):
    """`evaluate --calibrate` on a small folder: the card it writes reads back, schema 2."""
    from inference.engine import Analyzer
    from inference.evaluation import calibrate

    model = tmp_path / "model"
    shutil.copytree(shipped_model_dir, model)
    analyzer = Analyzer(model, device="cpu")
    data = tmp_path / "val"
    for label in ("NORMAL", "PNEUMONIA"):
        (data / label).mkdir(parents=True)
        for path in sorted((cxr_dir / "val" / label).glob("*.jpeg"))[:6]:
            shutil.copy(path, data / label / path.name)
    calibrate(analyzer, data, target_sensitivity=0.9)
    card = ModelCard.read(model)
    assert card.to_dict()["schema_version"] == 2
    assert card.calibration["pneumonia"].method.startswith("Platt scaling")
    assert card.thresholds == analyzer.card.thresholds
    assert card.metrics["validation"]["images"] == 12
    assert card.intended_use == ModelCard.read(shipped_model_dir).intended_use


def test_shipped_model_files_name_no_path_of_the_machine_they_were_made_on():
    """The card's data descriptions are printed in every report: no absolute build-machine path."""
    import re

    from inference.registry import DEFAULT_MODEL, find_model

    folder = find_model(DEFAULT_MODEL).folder
    for name in ("card.json", "reference_subset.json"):
        text = (folder / name).read_text(encoding="utf-8")
        assert not re.search(r"(?<![\w.])/(work|home|root|tmp|Users)/", text), name
