"""Model folders (issue 10.7): files a card names stay inside its folder; TorchScript is code.

Real networks saved as safetensors / TorchScript in model folders the tests build; refusals are
one line naming the model and the reason, through the API and through `radlens analyze`.
"""

from __future__ import annotations

import os
from pathlib import Path

import pydicom
import pytest
import torch

from inference.errors import ModelIntegrityError, ModelTrustError
from inference.loading import load_model, save_safetensors, sha256_of
from inference.model_card import ModelCard
from inference.networks import build_network
from inference.trust import trust_file
from tests.inference.test_loading import ARGS, Payload, make_model_dir
from viewer.cli import main

pytestmark = pytest.mark.filterwarnings("ignore:`torch.jit:DeprecationWarning")
CT_SLICE = pydicom.data.get_testdata_file("CT_small.dcm")
OUTSIDE = "is outside the model folder; refused"


@pytest.fixture
def outside_weights(tmp_path) -> tuple[Path, str]:
    """Valid weights outside any model folder: a matching hash must not let them in."""
    path = tmp_path / "elsewhere" / "weights.safetensors"
    path.parent.mkdir()
    return path, save_safetensors(build_network("small_resnet", ARGS), path)


def model_folder(tmp_path: Path) -> Path:
    folder = tmp_path / "models" / "tiny"
    folder.mkdir(parents=True)
    return folder


@pytest.mark.parametrize("how", ["absolute", "dotdot", "symlink"])
def test_weights_outside_the_folder_are_refused_even_with_a_matching_hash(
    tmp_path, outside_weights, how
):
    outside, sha = outside_weights
    folder = model_folder(tmp_path)
    name = {"absolute": str(outside), "dotdot": "../../elsewhere/weights.safetensors"}.get(how)
    if how == "symlink":
        (folder / "weights.safetensors").symlink_to(outside)
        name = "weights.safetensors"
    card = make_model_dir(folder, name, "safetensors", sha)
    with pytest.raises(ModelIntegrityError) as refused:
        load_model(card)
    assert str(refused.value) == f"model 'tiny': file {name!r} named by its card {OUTSIDE}"


def test_a_system_file_is_refused_before_it_is_read(tmp_path):
    if not Path("/etc/passwd").is_file():
        pytest.skip("no /etc/passwd on this system")
    card = make_model_dir(model_folder(tmp_path), "/etc/passwd", "safetensors", "0" * 64)
    with pytest.raises(ModelIntegrityError, match=OUTSIDE):  # not "sha256 … does not match"
        load_model(card)


def test_a_symlink_inside_the_folder_is_fine(tmp_path):
    folder = model_folder(tmp_path)
    network = build_network("small_resnet", ARGS)
    sha = save_safetensors(network, folder / "v1.safetensors")
    (folder / "current.safetensors").symlink_to("v1.safetensors")
    loaded = load_model(make_model_dir(folder, "current.safetensors", "safetensors", sha))
    assert all(torch.equal(loaded.state_dict()[k], v) for k, v in network.state_dict().items())


def test_analyze_names_the_model_and_reason_in_one_line(tmp_path, outside_weights, capsys):
    outside, sha = outside_weights
    folder = model_folder(tmp_path)
    make_model_dir(folder, str(outside), "safetensors", sha)
    assert main(["analyze", CT_SLICE, "--model", str(folder), "--device", "cpu"]) == 2
    err = capsys.readouterr().err.strip()
    assert (
        err == f"radlens analyze: model 'tiny': file {str(outside)!r} named by its card {OUTSIDE}"
    )


def torchscript_model(folder: Path, seed: int = 0) -> tuple[ModelCard, torch.nn.Module]:
    torch.manual_seed(seed)
    network = build_network("small_resnet", ARGS).eval()
    traced = torch.jit.trace(network, torch.zeros(1, 1, 32, 32))
    traced.save(str(folder / "model.pt"))
    return make_model_dir(folder, "model.pt", "torchscript", sha256_of(folder / "model.pt")), traced


def test_torchscript_loads_only_from_a_folder_the_user_trusts(tmp_path, capsys):
    folder = model_folder(tmp_path)
    card, traced = torchscript_model(folder)
    with pytest.raises(ModelTrustError, match="TorchScript is code and its folder is not trusted"):
        load_model(card)

    assert main(["models", "--trust", str(folder)]) == 0
    assert str(folder.resolve()) in trust_file().read_text()
    image = torch.rand(1, 1, 32, 32)
    assert torch.equal(load_model(card)(image), traced(image))

    card, _ = torchscript_model(folder, seed=1)  # new weights in the trusted folder
    with pytest.raises(ModelTrustError):
        load_model(card)


def test_a_marker_inside_the_folder_does_not_make_it_trusted(tmp_path):
    folder = model_folder(tmp_path)
    card, _ = torchscript_model(folder)
    (folder / "TRUSTED").write_text("trust me")
    (folder / "trusted_models.txt").write_text(f"{card.weights_sha256}  {folder.resolve()}\n")
    with pytest.raises(ModelTrustError):
        load_model(card)


def test_a_pickle_posing_as_torchscript_is_one_line_and_never_runs(tmp_path, capsys):
    folder = model_folder(tmp_path)
    marker = tmp_path / "payload-ran"
    torch.save({"weight": torch.zeros(1), "evil": Payload(marker)}, folder / "model.pt")
    make_model_dir(folder, "model.pt", "torchscript", sha256_of(folder / "model.pt"))
    assert main(["analyze", CT_SLICE, "--model", str(folder), "--device", "cpu"]) == 2
    assert "is not trusted" in capsys.readouterr().err

    assert main(["models", "--trust", str(folder)]) == 0
    capsys.readouterr()
    assert main(["analyze", CT_SLICE, "--model", str(folder), "--device", "cpu"]) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("radlens analyze: model 'tiny': model.pt is not a loadable TorchScript")
    assert len(err.splitlines()) == 1 and "Traceback" not in err
    assert not marker.exists() and not os.path.exists(marker)
