"""Batched training augmentation on [0, 1] tensors (B×1×H×W), all in torch on the training device.

One random affine per image (random resized crop as zoom + aspect, small rotation, shift), then
acquisition degradations (`degrade`: Gaussian blur, a down/up-scaling round trip, Gaussian +
Poisson-like noise, JPEG re-compression — each with its own probability, so sharpness, resolution,
noise and compression carry no label information), then brightness, contrast and gamma.
"""

from __future__ import annotations

import io
import math
from dataclasses import asdict, dataclass

import numpy as np
import torch
import torch.nn.functional as F
from PIL import Image


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
    # acquisition degradations (probability per image, then the range drawn from)
    blur_p: float = 0.5
    blur_sigma: tuple[float, float] = (0.002, 0.02)  # fraction of the width
    rescale_p: float = 0.4
    rescale: tuple[float, float] = (0.4, 1.0)  # down-scale factor of the round trip
    jpeg_p: float = 0.4
    jpeg_quality: tuple[int, int] = (30, 95)
    poisson_p: float = 0.3
    poisson_counts: tuple[float, float] = (100.0, 2000.0)  # photons at full brightness
    # blur beyond recognition (label kept, so such an image teaches "no evidence either way"),
    # so that blurring away a region removes evidence instead of adding it
    heavy_blur_p: float = 0.2
    heavy_blur_sigma: tuple[float, float] = (0.03, 0.08)  # fraction of the width
    # the same for one soft-edged elliptical region (radii a fraction of the side): a patch
    # blurred away is no evidence either way, so blurring a region removes evidence, never adds it
    patch_blur_p: float = 0.0
    patch_blur_sigma: tuple[float, float] = (0.05, 0.15)  # fraction of the width
    patch_radius: tuple[float, float] = (0.12, 0.3)

    def as_dict(self) -> dict:
        return asdict(self)


def _uniform(low: float, high: float, count: int, generator: torch.Generator) -> torch.Tensor:
    return low + (high - low) * torch.rand(count, generator=generator)


def _chosen(probability: float, count: int, generator: torch.Generator) -> torch.Tensor:
    return torch.rand(count, generator=generator) < probability


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


def gaussian_blur(batch: torch.Tensor, sigmas_px: torch.Tensor) -> torch.Tensor:
    """Separable Gaussian blur, one σ (pixels) per image; σ ≤ 0 leaves the image as it is."""
    count, _, height, width = batch.shape
    radius = max(1, math.ceil(3 * float(sigmas_px.max())))
    offsets = torch.arange(-radius, radius + 1, dtype=batch.dtype, device=batch.device)
    sigmas = sigmas_px.to(batch).clamp_min(1e-3).view(count, 1)
    kernels = torch.exp(-0.5 * (offsets.view(1, -1) / sigmas) ** 2)
    kernels = kernels / kernels.sum(dim=1, keepdim=True)
    planes = F.pad(batch.view(1, count, height, width), (radius,) * 4, mode="replicate")
    planes = F.conv2d(planes, kernels.view(count, 1, 1, -1), groups=count)
    planes = F.conv2d(planes, kernels.view(count, 1, -1, 1), groups=count)
    blurred = planes.view(count, 1, height, width)
    keep = (sigmas_px <= 0).view(count, 1, 1, 1).to(batch.device)
    return torch.where(keep, batch, blurred)


def elliptical_masks(
    count: int, height: int, width: int, radius: tuple[float, float], generator: torch.Generator
) -> torch.Tensor:
    """count×1×H×W soft masks in [0, 1]: one ellipse each, centre inside the middle 70 %."""
    centres = _uniform(0.15, 0.85, 2 * count, generator).view(count, 2, 1, 1)
    radii = _uniform(*radius, 2 * count, generator).view(count, 2, 1, 1)
    ys = torch.linspace(0, 1, height).view(1, 1, height, 1)
    xs = torch.linspace(0, 1, width).view(1, 1, 1, width)
    distance = ((ys - centres[:, 0:1]) / radii[:, 0:1]) ** 2 + (
        (xs - centres[:, 1:2]) / radii[:, 1:2]
    ) ** 2
    return (1.5 - distance).clamp(0.0, 1.0).view(count, 1, height, width)  # soft 1 → 0 rim


def blur_patches(
    batch: torch.Tensor, config: AugmentConfig, chosen: torch.Tensor, generator: torch.Generator
) -> torch.Tensor:
    """The chosen images with one elliptical region blurred beyond recognition."""
    count, _, height, width = batch.shape
    sigmas = _uniform(*config.patch_blur_sigma, count, generator) * width * chosen
    masks = elliptical_masks(count, height, width, config.patch_radius, generator).to(batch)
    masks = masks * chosen.view(count, 1, 1, 1).to(batch)
    return batch * (1 - masks) + gaussian_blur(batch, sigmas) * masks


def rescale_round_trip(image: torch.Tensor, factor: float) -> torch.Tensor:
    """One 1×1×H×W image scaled down by `factor` (antialiased) and back up (bilinear)."""
    height, width = image.shape[-2:]
    small = (max(2, round(height * factor)), max(2, round(width * factor)))
    down = F.interpolate(image, size=small, mode="bilinear", antialias=True, align_corners=False)
    return F.interpolate(down, size=(height, width), mode="bilinear", align_corners=False)


def jpeg_round_trip(image: torch.Tensor, quality: int) -> torch.Tensor:
    """One 1×1×H×W [0, 1] image through 8-bit JPEG at `quality` and back."""
    pixels = (image[0, 0].clamp(0, 1) * 255).round().to(torch.uint8).cpu().numpy()
    buffer = io.BytesIO()
    Image.fromarray(pixels).save(buffer, format="JPEG", quality=int(quality))
    decoded = np.asarray(Image.open(io.BytesIO(buffer.getvalue())).convert("L"), dtype=np.float32)
    return torch.from_numpy(decoded / 255.0).view_as(image).to(image)


def poisson_noise(image: torch.Tensor, counts: float, generator: torch.Generator) -> torch.Tensor:
    """Signal-dependent (quantum) noise: variance ∝ brightness, `counts` photons at 1.0."""
    noise = torch.randn(image.shape, generator=generator).to(image)
    return image + noise * image.clamp_min(0).sqrt() / math.sqrt(counts)


def degrade(
    batch: torch.Tensor,
    config: AugmentConfig,
    generator: torch.Generator,
    with_heavy: bool = False,
):
    """Acquisition degradations, each image independently (see the module docstring).

    `with_heavy`: returns (images, which ones were blurred beyond recognition, whole or in part)."""
    count, width = batch.shape[0], batch.shape[-1]
    blur = _chosen(config.blur_p, count, generator)
    sigmas = _uniform(*config.blur_sigma, count, generator) * width * blur
    heavy = _chosen(config.heavy_blur_p, count, generator)
    heavy_sigmas = _uniform(*config.heavy_blur_sigma, count, generator) * width
    sigmas = torch.where(heavy, heavy_sigmas, sigmas)
    blur = blur | heavy
    out = gaussian_blur(batch, sigmas) if bool(blur.any()) else batch.clone()
    patch = _chosen(config.patch_blur_p, count, generator) & ~heavy
    if bool(patch.any()):
        out = blur_patches(out, config, patch, generator)
    heavy = heavy | patch
    rescale = _chosen(config.rescale_p, count, generator)
    factors = _uniform(*config.rescale, count, generator)
    poisson = _chosen(config.poisson_p, count, generator)
    low_count, high_count = (float(v) for v in np.log(config.poisson_counts))
    counts = torch.exp(_uniform(low_count, high_count, count, generator))
    jpeg = _chosen(config.jpeg_p, count, generator)
    qualities = _uniform(*config.jpeg_quality, count, generator).round().int()
    for i in range(count):
        image = out[i : i + 1]
        if rescale[i]:
            image = rescale_round_trip(image, float(factors[i]))
        if poisson[i]:
            image = poisson_noise(image, float(counts[i]), generator)
        if jpeg[i]:
            image = jpeg_round_trip(image, int(qualities[i]))
        out[i : i + 1] = image
    out = out.clamp(0.0, 1.0)
    return (out, heavy) if with_heavy else out


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
    """Random geometry, acquisition degradations, then intensity, per image; a new tensor."""
    return random_intensity(
        degrade(random_affine(batch, config, generator), config, generator), config, generator
    )
