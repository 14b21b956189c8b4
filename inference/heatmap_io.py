"""Heatmap files: the float map as NPY and a PNG overlay (colour map blended on the grey image)."""

from __future__ import annotations

import io
from pathlib import Path

import numpy as np
from PIL import Image

from inference.files import atomic_write_bytes
from inference.preprocessing import InputSpec, InvertMonochrome1, Sample, ToGrey, WindowToUnit

# A perceptually ordered blue → cyan → yellow → red ramp (control points, linearly interpolated).
RAMP = np.array(
    [[0, 0, 140], [0, 90, 255], [0, 220, 220], [250, 230, 0], [255, 90, 0], [190, 0, 0]],
    dtype=np.float32,
)


def unit_image(pixels: np.ndarray, spec: InputSpec, photometric: str, window=None) -> np.ndarray:
    """The image as the model sees its grey levels ([0, 1], bone bright), on the source grid."""
    sample = Sample(image=np.asarray(pixels), photometric=photometric, window=window)
    for step in (ToGrey(), WindowToUnit(spec.windowing, spec.percentiles), InvertMonochrome1()):
        sample = step(sample)
    return sample.image


def colourise(heatmap: np.ndarray) -> np.ndarray:
    """float [0, 1] HxW → uint8 HxWx3 through `RAMP`."""
    position = np.clip(heatmap, 0.0, 1.0) * (len(RAMP) - 1)
    low = np.floor(position).astype(int).clip(0, len(RAMP) - 2)
    fraction = (position - low)[..., None]
    return (RAMP[low] * (1 - fraction) + RAMP[low + 1] * fraction).astype(np.uint8)


def overlay(grey: np.ndarray, heatmap: np.ndarray, opacity: float = 0.45) -> np.ndarray:
    """Blend the colour map onto the grey image, more where the map is high."""
    base = np.repeat((np.clip(grey, 0, 1) * 255)[..., None], 3, axis=2)
    alpha = (opacity * np.clip(heatmap, 0, 1))[..., None]
    return (base * (1 - alpha) + colourise(heatmap) * alpha).astype(np.uint8)


def write_heatmap(
    out_dir: Path, stem: str, label: str, grey: np.ndarray, heatmap: np.ndarray
) -> dict:
    """Write `<stem>_<label>.npy` and `.png`; returns their paths."""
    out_dir.mkdir(parents=True, exist_ok=True)
    npy_path, png_path = out_dir / f"{stem}_{label}.npy", out_dir / f"{stem}_{label}.png"
    buffer = io.BytesIO()
    np.save(buffer, heatmap.astype(np.float32))
    atomic_write_bytes(npy_path, buffer.getvalue())
    buffer = io.BytesIO()
    Image.fromarray(overlay(grey, heatmap)).save(buffer, format="PNG")
    atomic_write_bytes(png_path, buffer.getvalue())
    return {"npy": str(npy_path), "png": str(png_path)}
