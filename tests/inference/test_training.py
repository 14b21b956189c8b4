"""`radlens train` on a small real subset: the loss falls, a loadable model + card is written."""

from __future__ import annotations

import json
import shutil

import numpy as np
import pytest
import torch

from inference.augmentation import AugmentConfig
from inference.engine import AnalysisInput, Analyzer
from inference.training import TrainConfig, Trainer
from viewer.cli import main


def small_config(cxr_dir, out, **overrides) -> TrainConfig:
    settings = dict(data=cxr_dir, out=out, epochs=2, limit=40, size=64, batch_size=16, lr=3e-3)
    settings.update(overrides)
    return TrainConfig(**settings)


def member_config(cxr_dir, out, model_dir, member: int, **overrides) -> TrainConfig:
    """Fine-tuning one network of `model_dir` for short 16-image epochs at 224 px."""
    settings = dict(size=224, init=str(model_dir), init_member=member, epoch_images=16)
    return small_config(cxr_dir, out, **{**settings, **overrides})


def test_two_epochs_lower_the_loss_and_write_a_loadable_model(cxr_dir, tmp_path, radiograph):
    # geometric + intensity augmentation only: two tiny epochs must show the loss falling
    light = AugmentConfig(blur_p=0, rescale_p=0, jpeg_p=0, poisson_p=0, heavy_blur_p=0)
    config = small_config(cxr_dir, tmp_path / "model", augment=light)
    trainer = Trainer(config, log=lambda _line: None)
    trainer.load_data()
    labels = trainer.train_set.labels.astype(np.float64)
    before = trainer.dataset_loss(trainer.train_images, labels)
    out = trainer.run()
    after = trainer.dataset_loss(trainer.train_images, labels)
    assert after < before
    assert len(trainer.history) == 2
    card = json.loads((out / "card.json").read_text())
    assert card["labels"] == ["pneumonia"] and card["input"]["size"] == 64
    assert 0.0 < card["thresholds"]["pneumonia"]["value"] < 1.0
    result = Analyzer(out, device="cpu").analyze(AnalysisInput(pixels=radiograph))
    assert 0.0 <= result.findings[0].probability <= 1.0
    assert result.heatmaps["pneumonia"].shape == radiograph.shape


def test_training_resumes_from_its_checkpoint(cxr_dir, tmp_path):
    out = tmp_path / "model"
    Trainer(small_config(cxr_dir, out, epochs=1), log=lambda _line: None).run()
    lines: list[str] = []
    resumed = Trainer(small_config(cxr_dir, out, epochs=2, resume=True), log=lines.append)
    resumed.run()
    assert any(line.startswith("resumed after epoch 1") for line in lines)
    assert [h["epoch"] for h in resumed.history] == [1, 2]


def test_train_cli_reports_a_bad_dataset_without_a_traceback(tmp_path, capsys):
    (tmp_path / "train" / "ONLY").mkdir(parents=True)
    (tmp_path / "val").mkdir()
    status = main(
        ["train", "--data", str(tmp_path), "--out", str(tmp_path / "out"), "--epochs", "1"]
    )
    assert status == 2
    assert "expected exactly two label folders" in capsys.readouterr().err


@pytest.mark.cuda
def test_training_step_on_cuda(cxr_dir, tmp_path):
    import torch

    if not torch.cuda.is_available():
        pytest.skip("no CUDA GPU")
    trainer = Trainer(
        small_config(cxr_dir, tmp_path / "m", epochs=1, device="cuda"), log=lambda _l: None
    )
    trainer.run()
    assert trainer.device.type == "cuda"


def single_member_model(shipped_model_dir, folder):
    """The shipped model's first network as a model of its own (fine-tuning takes one network)."""
    from inference.model_card import ModelCard, write_card

    card = ModelCard.read(shipped_model_dir)
    path, sha = card.member_files[0]
    folder.mkdir()
    shutil.copyfile(path, folder / path.name)
    raw = {k: v for k, v in card.raw.items() if k != "schema_version"}
    write_card(
        {**raw, "weights": {"file": path.name, "format": "safetensors", "sha256": sha}}, folder
    )
    return folder


def test_fine_tuning_from_a_model_keeps_frozen_blocks(cxr_dir, tmp_path, shipped_model_dir):
    from inference.loading import load_model
    from inference.model_card import ModelCard

    start = single_member_model(shipped_model_dir, tmp_path / "start")
    config = small_config(
        cxr_dir, tmp_path / "tuned", epochs=1, size=224, init=str(start), freeze_blocks=2
    )
    trainer = Trainer(config, log=lambda _line: None)
    trainer.run()
    original = load_model(ModelCard.read(start)).state_dict()
    tuned = trainer.model.state_dict()
    frozen = [k for k in original if k.startswith(("blocks.0.", "blocks.1."))]
    trained = [k for k in original if k.startswith("blocks.4.") and k.endswith("weight")]
    assert frozen and all(torch.equal(original[k], tuned[k].cpu()) for k in frozen)
    assert any(not torch.equal(original[k], tuned[k].cpu()) for k in trained)
    assert json.loads((tmp_path / "tuned" / "card.json").read_text())["training"]["recipe"]["init"]


def test_fine_tuning_an_ensemble_is_a_clear_error(cxr_dir, tmp_path, shipped_model_dir):
    from inference.errors import InferenceError

    with pytest.raises(InferenceError, match="ensemble"):
        Trainer(
            small_config(cxr_dir, tmp_path / "t", init=str(shipped_model_dir)), log=lambda _l: None
        )


def test_fine_tuning_one_member_with_consistency_and_short_epochs(
    cxr_dir, tmp_path, shipped_model_dir
):
    config = member_config(
        cxr_dir, tmp_path / "tuned", shipped_model_dir, 1, consistency=0.1, selection="last"
    )
    lines: list[str] = []
    trainer = Trainer(config, log=lines.append)
    trainer.run()
    assert [h["epoch"] for h in trainer.history] == [1, 2]
    assert sum("*best" in line for line in lines) == 2  # "last": every epoch replaces the model
    recipe = json.loads((tmp_path / "tuned" / "card.json").read_text())["training"]["recipe"]
    assert recipe["consistency"] == 0.1 and recipe["epoch_images"] == 16
    assert recipe["init"].endswith("member 1")


def test_deepening_a_trained_network_keeps_its_output_and_trains(
    cxr_dir, tmp_path, shipped_model_dir
):
    from inference.loading import _network_from, verify_weights
    from inference.model_card import ModelCard
    from inference.networks import SmallResNet, deepened

    card = ModelCard.read(shipped_model_dir)
    shallow = _network_from(card, verify_weights(card)[0]).eval()
    arguments = {**card.architecture_args, "depths": [1, 1, 2, 2]}
    deeper = deepened(shallow, arguments).eval()
    images = torch.rand(3, 1, 224, 224) * 4 - 2
    with torch.no_grad():
        assert torch.allclose(deeper(images), shallow(images), atol=1e-5)
    assert isinstance(deeper.blocks[3], torch.nn.Sequential) and len(deeper.blocks[3]) == 2
    rebuilt = SmallResNet(**arguments)
    rebuilt.load_state_dict(deeper.state_dict())  # a card with `depths` rebuilds it exactly
    with pytest.raises(ValueError, match="one count per stage"):
        SmallResNet(**{**arguments, "depths": [1, 2]})
    with pytest.raises(ValueError, match="cannot deepen"):  # blocks are never dropped
        deepened(deeper, {**arguments, "depths": [1, 1, 1, 1]})

    config = member_config(
        cxr_dir, tmp_path / "deeper", shipped_model_dir, 0, epochs=1, depths=(1, 1, 2, 2)
    )
    trainer = Trainer(config, log=lambda _line: None)
    trainer.run()
    written = ModelCard.read(tmp_path / "deeper")
    assert written.architecture_args["depths"] == [1, 1, 2, 2]
    added = trainer.model.blocks[4][1].bn2.weight.detach()
    assert float(added.abs().sum()) > 0  # the added block learned (it started at zero)
