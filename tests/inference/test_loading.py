"""Safe loading: hashes checked first, arbitrary pickles refused before any of their code runs."""

from __future__ import annotations

import os
import pickle
import shutil
from pathlib import Path

import pytest
import torch

from inference.errors import ModelIntegrityError
from inference.loading import load_model, save_safetensors, sha256_of
from inference.model_card import ModelCard, write_card
from inference.networks import build_network

ARGS = {"widths": [8, 16, 16, 16], "stem_width": 8}


def make_model_dir(folder: Path, weights_file: str, weights_format: str, sha256: str) -> ModelCard:
    card = {
        "id": "tiny",
        "name": "tiny test model",
        "version": "0",
        "labels": ["finding"],
        "architecture": {"name": "small_resnet", "arguments": ARGS},
        "weights": {"file": weights_file, "format": weights_format, "sha256": sha256},
        "input": {"size": 32},
        "thresholds": {"finding": {"value": 0.5}},
    }
    return ModelCard.read(write_card(card, folder))


def test_safetensors_model_loads_and_matches(tmp_path):
    network = build_network("small_resnet", ARGS)
    sha = save_safetensors(network, tmp_path / "model.safetensors")
    loaded = load_model(make_model_dir(tmp_path, "model.safetensors", "safetensors", sha))
    for key, value in network.state_dict().items():
        assert torch.equal(loaded.state_dict()[key], value)


def test_tampered_weights_are_refused(tmp_path):
    sha = save_safetensors(build_network("small_resnet", ARGS), tmp_path / "model.safetensors")
    card = make_model_dir(tmp_path, "model.safetensors", "safetensors", sha)
    data = bytearray((tmp_path / "model.safetensors").read_bytes())
    data[-1] ^= 0xFF  # flip one byte of the last weight
    (tmp_path / "model.safetensors").write_bytes(bytes(data))
    with pytest.raises(ModelIntegrityError, match="does not match the model card"):
        load_model(card)


class Payload:
    """Unpickling this would create a marker file: it must never happen."""

    def __init__(self, marker: Path):
        self.marker = marker

    def __reduce__(self):
        return (os.system, (f"touch {self.marker}",))


def test_pickle_with_a_payload_is_refused_and_never_runs(tmp_path):
    marker = tmp_path / "payload-ran"
    state = build_network("small_resnet", ARGS).state_dict()
    state["evil"] = Payload(marker)
    weights = tmp_path / "model.pt"
    with open(weights, "wb") as stream:
        pickle.dump(state, stream, protocol=2)
    # The card's hash matches, so only the weights-only unpickler stands in the way.
    card = make_model_dir(tmp_path, "model.pt", "state_dict", sha256_of(weights))
    with pytest.raises(ModelIntegrityError, match="refused"):
        load_model(card)
    assert not marker.exists()


def test_torch_save_with_a_payload_is_refused(tmp_path):
    marker = tmp_path / "payload-ran"
    weights = tmp_path / "model.pt"
    torch.save({"weight": torch.zeros(1), "evil": Payload(marker)}, weights)
    card = make_model_dir(tmp_path, "model.pt", "state_dict", sha256_of(weights))
    with pytest.raises(ModelIntegrityError):
        load_model(card)
    assert not marker.exists()


def test_shipped_weights_match_their_card(shipped_model_dir):
    card = ModelCard.read(shipped_model_dir)
    assert card.weights_format == "safetensors"
    total = 0
    for path, expected in card.member_files:
        assert sha256_of(path) == expected
        total += path.stat().st_size
    assert total <= 25 * 1024 * 1024


def test_copied_model_with_swapped_weights_is_refused(shipped_model_dir, tmp_path):
    copy = tmp_path / "copy"
    shutil.copytree(shipped_model_dir, copy)
    card = ModelCard.read(copy)
    network = build_network("small_resnet", card.architecture_args)
    save_safetensors(network, card.member_files[-1][0])
    with pytest.raises(ModelIntegrityError):
        load_model(ModelCard.read(copy))
