"""Combine trained models of one architecture into an ensemble model folder (logits averaged).

The members' weights are copied (with their hashes) and the card lists them under
`weights.members`; calibration and threshold must then be fitted on validation data
(`radlens evaluate --calibrate`), since the averaged logits are a new model.
"""

from __future__ import annotations

import shutil
from dataclasses import replace
from pathlib import Path

from inference.errors import ModelError
from inference.loading import verify_weights
from inference.model_card import (
    Calibration,
    ModelCard,
    Threshold,
    Weights,
    WeightsFile,
    write_card,
)

CONTRACT_FIELDS = ("architecture_spec", "input", "labels")


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
        members.append(WeightsFile(target.name, card.weights_sha256, card.id))
    return write_card(_ensemble_card(cards, tuple(members), model_id, name, version), out)


def _check_compatible(cards: list[ModelCard]) -> None:
    first = cards[0]
    for card in cards[1:]:
        for field in CONTRACT_FIELDS:
            if getattr(card, field) != getattr(first, field):
                raise ModelError(f"{card.id}: {field} differs from {first.id}; cannot combine")
        if card.weights_format != "safetensors" or len(card.members) != 1:
            raise ModelError(f"{card.id}: only single safetensors models can be combined")


def _ensemble_card(
    cards: list[ModelCard], members: tuple[WeightsFile, ...], model_id, name, version
) -> ModelCard:
    """The first member's card with the ensemble's weights, uncalibrated, no metrics."""
    first = cards[0]
    kept = ("license", "citation", "data_description")
    return replace(
        first,
        id=model_id,
        name=name,
        version=version,
        weights=Weights("safetensors", members, combination="mean of logits"),
        calibration={label: Calibration() for label in first.labels},
        thresholds_spec={
            label: Threshold(0.5, "placeholder: run radlens evaluate --calibrate")
            for label in first.labels
        },
        metrics={},
        training={
            **{k: v for k, v in first.training.items() if k in kept},
            "ensemble_of": [card.training | {"id": card.id} for card in cards],
        },
        path=None,
    )
