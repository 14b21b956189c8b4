"""Named, invertible transforms from modality values to the network input (MONAI Compose style).

Training and inference run the same list: `build_transforms(spec)` gives the steps up to the
model grid; `normalise` is applied last (after augmentation when training). Every geometric step
records what it did on the `Sample`, so `Sample.to_source_grid` maps a heatmap on the model grid
back onto the original pixel grid.

A large image is area-averaged down to the model grid first (`AreaShrink`), then windowed there:
the order the training images went through (the dataset's radiographs were shrunk to 224² before
the percentile window saw them), and the full-resolution array is read once instead of being
copied, windowed and clipped in float several times (issue 11: ~90 → ~20 ms for 3000 × 2600 16-bit).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol

import numpy as np
from PIL import Image

from inference.intensity import ROBUST_PERCENTILES, percentile_bounds

# ITU-R BT.601 luma weights (what Pillow's "L" conversion uses).
LUMA_WEIGHTS = np.array([0.299, 0.587, 0.114], dtype=np.float32)
PERCENTILE_SAMPLE_PIXELS = 262_144  # percentiles on a strided subset: fast on 3000² images


@dataclass(frozen=True)
class InputSpec:
    """The model's input contract, read from the card's `input` block."""

    size: int = 224
    channels: int = 1
    resize: str = "stretch"  # "stretch" (aspect not kept, as the training data) or "letterbox"
    windowing: str = "percentile"  # "percentile", or "file" (the file's VOI, else percentile)
    percentiles: tuple[float, float] = ROBUST_PERCENTILES
    mean: float = 0.5
    std: float = 0.25

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> InputSpec:
        known = {k: data[k] for k in cls.__dataclass_fields__ if k in data}
        if "percentiles" in known:
            known["percentiles"] = tuple(float(p) for p in known["percentiles"])
        return cls(**known)

    def to_dict(self) -> dict[str, Any]:
        return {
            "size": self.size,
            "channels": self.channels,
            "resize": self.resize,
            "windowing": self.windowing,
            "percentiles": list(self.percentiles),
            "mean": self.mean,
            "std": self.std,
            "value_range": "[0, 1] after windowing, then (x - mean) / std",
        }


class WindowLike(Protocol):
    @property
    def center(self) -> float: ...
    @property
    def width(self) -> float: ...


@dataclass(frozen=True)
class GeometryStep:
    """One geometric step: source shape, target shape, the scaled content box and its offset."""

    name: str
    source_shape: tuple[int, int]
    target_shape: tuple[int, int]
    content_shape: tuple[int, int]
    offset: tuple[int, int]


@dataclass
class Sample:
    """An image on its way to the network, with the geometric steps it has been through."""

    image: np.ndarray
    photometric: str = "MONOCHROME2"
    window: WindowLike | None = None
    geometry: list[GeometryStep] = field(default_factory=list)

    @property
    def source_shape(self) -> tuple[int, int]:
        """(rows, cols) of the original pixel grid."""
        if self.geometry:
            return self.geometry[0].source_shape
        return (int(self.image.shape[0]), int(self.image.shape[1]))

    def to_source_grid(self, heatmap: np.ndarray) -> np.ndarray:
        """Map a float map on the model grid back to the original pixel grid (inverse steps)."""
        out = np.asarray(heatmap, dtype=np.float32)
        for step in reversed(self.geometry):
            out = _invert_geometry(out, step)
        return out


def _resize_float(image: np.ndarray, shape: tuple[int, int]) -> np.ndarray:
    """Bilinear resize of a float32 2-D array to (rows, cols) (area-averaging when shrinking)."""
    rows, cols = shape
    if image.shape == (rows, cols):
        return image.astype(np.float32, copy=False)
    pil = Image.fromarray(image.astype(np.float32, copy=False), mode="F")
    shrinking = rows < image.shape[0] and cols < image.shape[1]
    resample = Image.Resampling.BOX if shrinking else Image.Resampling.BILINEAR
    return np.array(pil.resize((cols, rows), resample=resample), dtype=np.float32)


def _area_shrink(image: np.ndarray, shape: tuple[int, int]) -> np.ndarray:
    """Area average of a 2-D array down to (rows, cols), as float32. 8- and 16-bit unsigned
    values are averaged by Pillow in 16-bit (8-bit scaled by 257 there and back): no full-size
    float copy, and the mean is rounded to within 1/65,535 of the range; the rest in float32."""
    if image.dtype == np.uint16:
        return _box_uint16(image, shape)
    if image.dtype == np.uint8:
        return _box_uint16(np.multiply(image, 257, dtype=np.uint16), shape) / np.float32(257)
    return _resize_float(image, shape)


def _box_uint16(image: np.ndarray, shape: tuple[int, int]) -> np.ndarray:
    pil = Image.fromarray(np.ascontiguousarray(image))  # mode "I;16"
    shrunk = pil.resize((shape[1], shape[0]), resample=Image.Resampling.BOX)
    return np.asarray(shrunk, dtype=np.float32)


def _invert_geometry(image: np.ndarray, step: GeometryStep) -> np.ndarray:
    top, left = step.offset
    rows, cols = step.content_shape
    content = image[top : top + rows, left : left + cols]
    if content.shape == step.source_shape:
        return content
    if rows <= step.source_shape[0] and cols <= step.source_shape[1]:
        return _upsample_float(content, step.source_shape)
    return _resize_float(content, step.source_shape)


def _upsample_float(image: np.ndarray, shape: tuple[int, int]) -> np.ndarray:
    """Bilinear enlargement (pixel centres as PIL's, within 1e-4) on torch's threads: mapping a
    heatmap back onto a full-size radiograph is the largest array the analysis writes."""
    import torch  # here, not at import time: the viewer imports this module without torch

    tensor = torch.from_numpy(np.ascontiguousarray(image, dtype=np.float32))[None, None]
    out = torch.nn.functional.interpolate(tensor, size=shape, mode="bilinear", align_corners=False)
    return out[0, 0].numpy()


class ToGrey:
    """RGB (HxWx3) → float32 grey with BT.601 weights; grey images pass through unchanged (the
    steps after convert them to float32, the large ones only once shrunk)."""

    name = "to_grey"

    def __call__(self, sample: Sample) -> Sample:
        image = np.asarray(sample.image)
        if image.ndim == 3:
            image = image[..., :3].astype(np.float32) @ LUMA_WEIGHTS[: image.shape[-1]]
            sample.photometric = "MONOCHROME2"
        elif image.ndim != 2:
            raise ValueError(f"expected a 2-D image or HxWx3 RGB, got shape {image.shape}")
        if image.dtype.kind not in "uif":
            image = image.astype(np.float32)  # bool and the like
        sample.image = image
        return sample


class AreaShrink:
    """Area-average an image larger than its place on the model grid down to that place (the
    `Resize` layout), before windowing; smaller images pass through for `Resize` to enlarge."""

    name = "area_shrink"

    def __init__(self, size: int, mode: str = "stretch"):
        self.layout = Resize(size, mode)

    def __call__(self, sample: Sample) -> Sample:
        source = (int(sample.image.shape[0]), int(sample.image.shape[1]))
        content, _ = self.layout.layout(source)
        if content[0] < source[0] and content[1] < source[1]:
            sample.image = _area_shrink(sample.image, content)
            sample.geometry.append(GeometryStep(self.name, source, content, content, (0, 0)))
        return sample


class WindowToUnit:
    """Window modality values into [0, 1]: the file's VOI when asked for, else robust percentiles."""

    name = "window"

    def __init__(self, mode: str = "percentile", percentiles: Sequence[float] = ROBUST_PERCENTILES):
        if mode not in ("percentile", "file"):
            raise ValueError(f"unknown windowing mode {mode!r}")
        self.mode = mode
        self.percentiles = tuple(percentiles)

    def __call__(self, sample: Sample) -> Sample:
        sample.image = np.asarray(sample.image, dtype=np.float32)
        low, high = self._bounds(sample)
        scale = np.float32(1.0 / max(high - low, 1e-6))
        windowed = (sample.image - np.float32(low)) * scale
        sample.image = np.clip(windowed, 0.0, 1.0, out=windowed)
        return sample

    def _bounds(self, sample: Sample) -> tuple[float, float]:
        window = sample.window
        if self.mode == "file" and window is not None and float(window.width) > 0:
            center, width = float(window.center), float(window.width)
            return center - width / 2.0, center + width / 2.0
        return robust_range(sample.image, self.percentiles)


def robust_range(image: np.ndarray, percentiles: Sequence[float]) -> tuple[float, float]:
    """Percentile bounds of the pixel values, estimated on a strided subset for speed."""
    low, high = percentile_bounds(image, percentiles, PERCENTILE_SAMPLE_PIXELS)
    if high <= low:
        low, high = float(image.min()), float(image.max())
    return low, high


class InvertMonochrome1:
    """MONOCHROME1 stores bright as low values: flip after windowing so bone is bright."""

    name = "invert_monochrome1"

    def __call__(self, sample: Sample) -> Sample:
        if sample.photometric.upper() == "MONOCHROME1":
            sample.image = 1.0 - sample.image
            sample.photometric = "MONOCHROME2"
        return sample


class Resize:
    """Resize to size × size: "stretch" (aspect not kept) or "letterbox" (aspect kept + zero pad)."""

    name = "resize"

    def __init__(self, size: int, mode: str = "stretch"):
        if mode not in ("stretch", "letterbox"):
            raise ValueError(f"unknown resize mode {mode!r}")
        self.size = int(size)
        self.mode = mode

    def __call__(self, sample: Sample) -> Sample:
        source = (int(sample.image.shape[0]), int(sample.image.shape[1]))
        content, offset = self.layout(source)
        resized = _resize_float(sample.image, content)
        canvas = np.zeros((self.size, self.size), dtype=np.float32)
        canvas[offset[0] : offset[0] + content[0], offset[1] : offset[1] + content[1]] = resized
        sample.image = canvas
        target = (self.size, self.size)
        sample.geometry.append(GeometryStep(self.mode, source, target, content, offset))
        return sample

    def layout(self, source: tuple[int, int]) -> tuple[tuple[int, int], tuple[int, int]]:
        """(content shape, its offset) of a `source`-shaped image on the size × size grid."""
        if self.mode == "stretch":
            return (self.size, self.size), (0, 0)
        scale = self.size / max(source)
        content = (max(1, round(source[0] * scale)), max(1, round(source[1] * scale)))
        return content, ((self.size - content[0]) // 2, (self.size - content[1]) // 2)


class Compose:
    """Run named transforms in order; `names` documents the pipeline in cards and logs."""

    def __init__(self, transforms: Sequence[Any]):
        self.transforms = list(transforms)

    @property
    def names(self) -> list[str]:
        return [t.name for t in self.transforms]

    def __call__(self, sample: Sample) -> Sample:
        for transform in self.transforms:
            sample = transform(sample)
        return sample


def build_transforms(spec: InputSpec) -> Compose:
    """Modality values → [0, 1] grey on the model grid (normalisation comes after)."""
    return Compose(
        [
            ToGrey(),
            AreaShrink(spec.size, spec.resize),
            WindowToUnit(spec.windowing, spec.percentiles),
            InvertMonochrome1(),
            Resize(spec.size, spec.resize),
        ]
    )


def prepare(
    pixels: np.ndarray,
    spec: InputSpec,
    photometric: str = "MONOCHROME2",
    window: WindowLike | None = None,
) -> Sample:
    """Run the card's transforms on one image; `sample.image` is float32 [0, 1] size × size."""
    sample = Sample(image=np.asarray(pixels), photometric=photometric, window=window)
    return build_transforms(spec)(sample)


def normalise(batch: Any, spec: InputSpec) -> Any:
    """(x - mean) / std on a numpy array or torch tensor of [0, 1] images."""
    return (batch - spec.mean) / spec.std
