"""Acquisition degradations used in training: they change the image, not its range or layout."""

from __future__ import annotations

import numpy as np
import torch

from inference.augmentation import (
    AugmentConfig,
    augment,
    degrade,
    gaussian_blur,
    jpeg_round_trip,
    rescale_round_trip,
)
from inference.splits import split_by_patient


def _edges(count: int = 4, size: int = 64) -> torch.Tensor:
    batch = torch.zeros(count, 1, size, size)
    batch[:, :, :, size // 2 :] = 1.0
    return batch


def test_blur_softens_an_edge_by_its_own_sigma_and_zero_keeps_the_image():
    batch = _edges(2)
    out = gaussian_blur(batch, torch.tensor([0.0, 3.0]))
    assert torch.equal(out[0], batch[0])
    row = out[1, 0, 32]
    assert 0.4 < float(row[31]) < 0.5 and 0.5 < float(row[32]) < 0.6  # symmetric ramp
    assert float(row[20]) < 0.01 and float(row[44]) > 0.99


def test_round_trips_keep_shape_and_mean():
    image = torch.rand(1, 1, 64, 64)
    for out in (rescale_round_trip(image, 0.5), jpeg_round_trip(image, 40)):
        assert out.shape == image.shape
        assert abs(float(out.mean() - image.mean())) < 0.02
        assert not torch.equal(out, image)


def test_degrade_reports_heavy_blur_and_stays_in_range():
    generator = torch.Generator().manual_seed(0)
    config = AugmentConfig(heavy_blur_p=0.5, poisson_p=0, jpeg_p=0)  # no noise after the blur
    out, heavy = degrade(_edges(16, 224), config, generator, with_heavy=True)
    assert out.shape == (16, 1, 224, 224) and heavy.dtype == torch.bool
    assert 0 < int(heavy.sum()) < 16
    assert float(out.min()) >= 0.0 and float(out.max()) <= 1.0
    rows = out[heavy][:, 0, 112]  # σ ≥ 3 % of the width: no sharp step left
    assert float((rows[:, 1:] - rows[:, :-1]).abs().max()) < 0.15
    assert float((out[~heavy][:, 0, 112].diff(dim=1)).abs().max()) > 0.15
    assert augment(_edges(4), AugmentConfig(), generator).shape == (4, 1, 64, 64)


def test_patient_split_keeps_each_patient_in_one_part():
    rows = [
        {"split": "val", "label": label, "file": f"{label}{p}-{i}.jpeg", "patient": f"{label}{p}"}
        for label in ("NORMAL", "PNEUMONIA")
        for p in range(20)
        for i in range(1 + p % 3)
    ]
    parts = split_by_patient(rows, "val", {"calib": 0.5, "test": 0.5}, seed=11)
    patients = [{r["patient"] for r in part} for part in parts.values()]
    assert not patients[0] & patients[1]
    assert sum(len(part) for part in parts.values()) == len(rows)
    for part in parts.values():
        assert {r["label"] for r in part} == {"NORMAL", "PNEUMONIA"}
    assert np.isclose(len(patients[0]), 20, atol=2)


def test_patch_blur_blurs_one_region_and_reports_it():
    generator = torch.Generator().manual_seed(1)
    config = AugmentConfig(
        blur_p=0, rescale_p=0, jpeg_p=0, poisson_p=0, heavy_blur_p=0, patch_blur_p=0.5
    )
    images = torch.rand(16, 1, 96, 96)
    out, lost = degrade(images, config, generator, with_heavy=True)
    assert 0 < int(lost.sum()) < 16
    assert torch.equal(out[~lost], images[~lost])  # untouched images come back as they were
    changed = (out[lost] - images[lost]).abs() > 0.05
    share = changed.float().mean(dim=(1, 2, 3))
    assert bool((share > 0.02).all()) and bool((share < 0.6).all())  # a region, not the film
