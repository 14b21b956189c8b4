"""Batched training augmentation on [0, 1] tensors (B×1×H×W), all in torch on the training device.

One random affine per image (random resized crop as zoom + aspect, small rotation, shift) through
`affine_grid`/`grid_sample`, then brightness, contrast, gamma and Gaussian noise.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass

import torch
import torch.nn.functional as F


@dataclass(frozen=True)
class AugmentConfig:
    zoom: tuple[float, float] = (0.85, 1.2)  # >1 zooms in (crop), <1 zooms out (padded)
    aspect: tuple[float, float] = (0.9, 1.1)
    rotation_deg: float = 10.0
    shift: float = 0.08  # fraction of the half-width
    brightness: float = 0.1
    contrast: tuple[float, float] = (0.75, 1.33)
    gamma: tuple[float, float] = (0.7, 1.4)
    noise_std: float = 0.03

    def as_dict(self) -> dict:
        return asdict(self)


def _uniform(low: float, high: float, count: int, generator: torch.Generator) -> torch.Tensor:
    return low + (high - low) * torch.rand(count, generator=generator)


def random_affine(batch: torch.Tensor, config: AugmentConfig, generator: torch.Generator):
    count = batch.shape[0]
    zoom = torch.exp(_uniform(math.log(config.zoom[0]), math.log(config.zoom[1]), count, generator))
    aspect = torch.exp(
        _uniform(math.log(config.aspect[0]), math.log(config.aspect[1]), count, generator)
    )
    angle = _uniform(-config.rotation_deg, config.rotation_deg, count, generator) * math.pi / 180
    shift = _uniform(-config.shift, config.shift, 2 * count, generator).view(count, 2)
    scale_x = 1.0 / (zoom * aspect.sqrt())
    scale_y = 1.0 / (zoom / aspect.sqrt())
    cos, sin = torch.cos(angle), torch.sin(angle)
    theta = torch.stack(
        [
            torch.stack([cos * scale_x, -sin * scale_y, shift[:, 0]], dim=1),
            torch.stack([sin * scale_x, cos * scale_y, shift[:, 1]], dim=1),
        ],
        dim=1,
    ).to(batch)
    grid = F.affine_grid(theta, list(batch.shape), align_corners=False)
    return F.grid_sample(batch, grid, mode="bilinear", padding_mode="zeros", align_corners=False)


def random_intensity(batch: torch.Tensor, config: AugmentConfig, generator: torch.Generator):
    count = batch.shape[0]
    shape = (count, 1, 1, 1)
    gamma = torch.exp(
        _uniform(math.log(config.gamma[0]), math.log(config.gamma[1]), count, generator)
    )
    out = batch.clamp(0.0, 1.0) ** gamma.view(shape).to(batch)
    contrast = _uniform(*config.contrast, count, generator).view(shape).to(batch)
    mean = out.mean(dim=(1, 2, 3), keepdim=True)
    out = (out - mean) * contrast + mean
    out = out + _uniform(-config.brightness, config.brightness, count, generator).view(shape).to(
        batch
    )
    noise_level = _uniform(0.0, config.noise_std, count, generator).view(shape).to(batch)
    noise = torch.randn(batch.shape, generator=generator).to(batch)
    return (out + noise * noise_level).clamp(0.0, 1.0)


def augment(batch: torch.Tensor, config: AugmentConfig, generator: torch.Generator) -> torch.Tensor:
    """Random geometry then intensity, per image, on a [0, 1] batch; returns a new tensor."""
    return random_intensity(random_affine(batch, config, generator), config, generator)
