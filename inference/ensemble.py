"""Combine trained models of one architecture into an ensemble model folder (logits averaged).

The members' weights are copied (with their hashes) and the card lists them under
`weights.members`; calibration and threshold must then be fitted on validation data
(`radlens evaluate --calibrate`), since the averaged logits are a new model.
"""

from __future__ import annotations

import shutil
from pathlib import Path

from inference.errors import ModelError
from inference.loading import verify_weights
from inference.model_card import ModelCard, write_card

CONTRACT_FIELDS = ("architecture", "input", "labels")


def combine(member_folders: list[Path], out: Path, model_id: str, name: str, version: str) -> Path:
    """Write `out/card.json` + `member-<i>.safetensors`; returns the card path."""
    cards = [ModelCard.read(folder) for folder in member_folders]
    if len(cards) < 2:
        raise ModelError("an ensemble needs at least two member models")
    _check_compatible(cards)
    out.mkdir(parents=True, exist_ok=True)
    members = []
    for index, card in enumerate(cards):
        (path,) = verify_weights(card)
        target = out / f"member-{index}{path.suffix}"
        shutil.copyfile(path, target)
        members.append({"file": target.name, "sha256": card.weights_sha256, "from": card.id})
    return write_card(_ensemble_card(cards, members, model_id, name, version), out)


def _check_compatible(cards: list[ModelCard]) -> None:
    first = cards[0].raw
    for card in cards[1:]:
        for field in CONTRACT_FIELDS:
            if _contract(card.raw.get(field)) != _contract(first.get(field)):
                raise ModelError(f"{card.id}: {field} differs from {cards[0].id}; cannot combine")
        if card.weights_format != "safetensors" or len(card.members) != 1:
            raise ModelError(f"{card.id}: only single safetensors models can be combined")


def _contract(value):
    return {k: v for k, v in value.items() if k != "pipeline"} if isinstance(value, dict) else value


def _ensemble_card(cards: list[ModelCard], members: list[dict], model_id, name, version) -> dict:
    first = dict(cards[0].raw)
    first.pop("schema_version", None)
    label = cards[0].labels[0]
    return {
        **{
            k: v
            for k, v in first.items()
            if k not in ("metrics", "training", "output", "thresholds")
        },
        "id": model_id,
        "name": name,
        "version": version,
        "weights": {"format": "safetensors", "members": members, "combination": "mean of logits"},
        "output": {"activation": "sigmoid", "temperature": 1.0, "bias": 0.0},
        "thresholds": {
            label: {"value": 0.5, "method": "placeholder: run radlens evaluate --calibrate"}
        },
        "training": {
            **{
                k: v
                for k, v in first.get("training", {}).items()
                if k in ("license", "citation", "data_description")
            },
            "ensemble_of": [card.raw.get("training", {}) | {"id": card.id} for card in cards],
        },
    }
