"""Ensembles: members verified one by one, logits averaged, one heatmap on the image grid."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from inference.engine import AnalysisInput, Analyzer
from inference.errors import ModelIntegrityError
from inference.loading import load_model, save_safetensors
from inference.model_card import ModelCard
from inference.networks import Ensemble, build_network
from inference.preprocessing import normalise, prepare
from tests.inference.test_loading import ARGS, make_model_dir
from viewer.cli import main


@pytest.fixture
def members(tmp_path) -> list:
    folders = []
    for seed in (0, 1):
        torch.manual_seed(seed)
        folder = tmp_path / f"m{seed}"
        folder.mkdir()
        sha = save_safetensors(
            build_network("small_resnet", ARGS).eval(), folder / "model.safetensors"
        )
        make_model_dir(folder, "model.safetensors", "safetensors", sha)
        folders.append(folder)
    return folders


def test_combined_model_averages_member_logits_and_maps_heatmaps(
    members, tmp_path, radiograph, capsys
):
    out = tmp_path / "ensemble"
    assert main(["models", "--combine", *map(str, members), "--out", str(out), "--id", "duo"]) == 0
    card = ModelCard.read(out)
    assert len(card.members) == 2 and card.id == "duo"
    model = load_model(card)
    assert isinstance(model, Ensemble)
    batch = normalise(
        torch.from_numpy(prepare(radiograph, card.input).image)[None, None], card.input
    )
    with torch.no_grad():
        separate = [load_model(ModelCard.read(m))(batch) for m in members]
        expected = (separate[0] + separate[1]) / 2
        torch.testing.assert_close(model(batch), expected)
    result = Analyzer(card, device="cpu").analyze(AnalysisInput(pixels=radiograph))
    assert result.heatmaps["finding"].shape == radiograph.shape
    assert np.isfinite(result.heatmaps["finding"]).all()
    assert result.model_sha256 == card.weights_sha256 != card.members[0][1]


def test_a_tampered_member_is_refused(members, tmp_path):
    from inference.ensemble import combine

    combine(members, tmp_path / "ensemble", "duo", "duo", "1")
    member = tmp_path / "ensemble" / "member-1.safetensors"
    data = bytearray(member.read_bytes())
    data[-1] ^= 0x01
    member.write_bytes(bytes(data))
    with pytest.raises(ModelIntegrityError, match="member-1"):
        load_model(ModelCard.read(tmp_path / "ensemble"))
