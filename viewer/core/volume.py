"""A series as one 3-D volume in patient space: voxel values plus the affine from the headers.

DICOM PS3.3 C.7.6.2.1.1: pixel (row r, column c) of a frame at ImagePositionPatient S lies at
S + c·Δc·X + r·Δr·Y. A stack of such frames is a volume when every frame shares one
orientation and the positions lie on one line, evenly spaced:

    P(k, r, c) = origin + k·s + r·Δr·Y + c·Δc·X          (k = frame, r = row, c = column)

`s`, the step from one frame's position to the next, comes from the positions themselves, not
from the normal X × Y: a tilted-gantry CT (the frames' planes tilted, the table moving along
z) has `s` off the normal, and using the true `s` is what keeps its reformats free of shear.
Positions unevenly spaced along the line are resampled once, linearly, onto the smallest step
(with a warning saying so); a stack that cannot be one volume (repeated positions, mixed
orientations, positions off one line, no geometry, colour) raises `VolumeError` saying why.
Voxel values stay in the series' modality dtype; a volume that needs no resampling shares the
series' array (no copy).
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from viewer.core.errors import RadLensError
from viewer.core.geometry import slice_normal

ORIENTATION_TOLERANCE = 1e-3  # max difference of direction cosines within one volume
POSITION_TOLERANCE_MM = 1e-3  # positions closer than this along the normal are "the same"
EVEN_TOLERANCE_MM = 0.01  # steps that differ by less than this (+1 %) are even
LINE_TOLERANCE_PIXELS = 0.1  # how far a position may stray from the stack's line
MAX_RESAMPLE_FACTOR = 4  # a resampled stack has at most this many times the original frames


class VolumeError(RadLensError):
    """A stack that cannot be reformatted as one volume; the message says why."""


@dataclass(frozen=True)
class Volume:
    """Voxel values (frames, rows, columns) and where each voxel sits in the patient (mm, LPS).

    `matrix` columns are the patient-space steps of one frame, one row and one column;
    `index_to_patient` and `patient_to_index` convert. `value_range` is (min, max) of the
    non-padding values; `fill` is what lies outside the volume (the lowest value).
    """

    values: np.ndarray
    origin: np.ndarray  # patient position of voxel (0, 0, 0)
    matrix: np.ndarray  # 3x3, columns: frame step, row step, column step (mm)
    modality: str = ""
    value_range: tuple[float, float] = (0.0, 1.0)
    fill: float = 0.0
    warnings: list[str] = field(default_factory=list)

    @property
    def shape(self) -> tuple[int, int, int]:
        return tuple(self.values.shape)  # type: ignore[return-value]

    @property
    def inverse(self) -> np.ndarray:
        return np.linalg.inv(self.matrix)

    def index_to_patient(self, index) -> np.ndarray:
        """Patient coordinates of a (frame, row, column) index (fractional allowed)."""
        return self.origin + self.matrix @ np.asarray(index, float)

    def patient_to_index(self, point) -> np.ndarray:
        """(frame, row, column) of a patient point, fractional."""
        return self.inverse @ (np.asarray(point, float) - self.origin)

    def spacing(self) -> tuple[float, float, float]:
        """Distance between frame planes (along their normal), rows and columns, in mm."""
        frame_step, row_step, col_step = self.matrix.T
        normal = slice_normal((*col_step, *row_step))
        return (
            abs(float(frame_step @ normal)),
            float(np.linalg.norm(row_step)),
            float(np.linalg.norm(col_step)),
        )

    def corners(self) -> np.ndarray:
        """The eight corner voxel centres in patient coordinates (8x3)."""
        top = np.array(self.shape, float) - 1.0
        grid = np.array([[a, b, c] for a in (0, 1) for b in (0, 1) for c in (0, 1)], float)
        return self.origin + (grid * top) @ self.matrix.T


def build_volume(series, progress=None, cancel=None) -> Volume:
    """The volume of an open `Series` (its frames are loaded first when they are not yet).

    Call from a background thread: loading and any resampling take time.
    """
    frames = series.info.frames
    name = _series_name(series)
    if series.is_color:
        raise VolumeError(f"{name}: colour images cannot be reformatted")
    if len(frames) < 2:
        raise VolumeError(f"{name}: one frame is not a volume")
    geometry = series.geometry(0)
    if not geometry.has_patient_geometry or any(
        f.position is None or not f.orientation for f in frames
    ):
        raise VolumeError(f"{name}: frames without position, orientation or pixel spacing")
    check_orientations(name, [f.orientation for f in frames])
    positions = np.array([f.position for f in frames], float)
    if series.volume is None:
        series.load_all(progress=progress, cancel=cancel)
    return volume_from_stack(
        name, series.volume, positions, geometry, series.info.modality, series.pixel_padding
    )


def volume_from_stack(
    name: str,
    values: np.ndarray,
    positions: np.ndarray,
    geometry,
    modality: str = "",
    padding: tuple[float, float] | None = None,
) -> Volume:
    """A volume from frames in order (`values` K×R×C), their positions (K×3) and the first
    frame's `FrameGeometry` (orientation, pixel spacing)."""
    row_cos = np.asarray(geometry.row_cosine, float)
    col_cos = np.asarray(geometry.column_cosine, float)
    delta_r, delta_c = geometry.spacing
    normal = slice_normal((*row_cos, *col_cos))
    distances = check_positions(name, positions, normal)
    slope = line_slope(name, positions, distances, min(delta_r, delta_c))
    warnings: list[str] = []
    tilt = float(np.degrees(np.arccos(min(1.0, 1.0 / float(np.linalg.norm(slope))))))
    if tilt > 0.01:
        warnings.append(
            f"frames step {tilt:.1f}° off their normal (tilted gantry): reformatted without shear"
        )
    steps = np.diff(distances)
    if _uneven(steps):
        values, distances = resample_even(values, distances)
        warnings.append(
            f"uneven slice spacing ({steps.min():.2f}–{steps.max():.2f} mm): resampled to "
            f"{distances[1] - distances[0]:.2f} mm slices for reformatting"
        )
    step = (distances[-1] - distances[0]) / (len(distances) - 1)
    matrix = np.column_stack([slope * step, delta_r * col_cos, delta_c * row_cos])
    low, high, fill = value_limits(values, padding)
    values = values if not values.flags.writeable else _read_only(values)
    return Volume(values, positions[0].copy(), matrix, modality, (low, high), fill, warnings)


def check_orientations(name: str, orientations) -> None:
    first = np.asarray(orientations[0], float)
    distinct = 1
    for other in orientations[1:]:
        if np.max(np.abs(np.asarray(other, float) - first)) > ORIENTATION_TOLERANCE:
            distinct += 1
    if distinct > 1:
        raise VolumeError(f"{name}: frames have mixed orientations, not one volume")


def check_positions(name: str, positions: np.ndarray, normal: np.ndarray) -> np.ndarray:
    """Distances along the normal, strictly increasing, else VolumeError saying why."""
    distances = positions @ normal
    steps = np.diff(distances)
    distinct = 1 + int(np.sum(np.abs(steps) >= POSITION_TOLERANCE_MM))
    if distinct < len(distances):
        raise VolumeError(
            f"{name}: {len(distances)} frames at only {distinct} distinct slice positions "
            "(several phases, echoes or acquisitions?), not one volume"
        )
    if np.any(steps < 0):
        raise VolumeError(f"{name}: frames are not in slice order")
    return distances


def line_slope(name: str, positions, distances, pixel: float) -> np.ndarray:
    """The patient-space step per mm along the normal (the normal itself unless tilted).

    Positions must lie on one straight line (within a tenth of a pixel); a stack whose
    in-plane offset wanders is not one volume.
    """
    slope = (positions[-1] - positions[0]) / (distances[-1] - distances[0])
    predicted = positions[0] + np.outer(distances - distances[0], slope)
    stray = float(np.max(np.linalg.norm(positions - predicted, axis=1)))
    if stray > LINE_TOLERANCE_PIXELS * pixel:
        raise VolumeError(
            f"{name}: frame positions do not lie on one line (off by up to {stray:.2f} mm), "
            "not one volume"
        )
    return slope


def _uneven(steps: np.ndarray) -> bool:
    mean = float(np.mean(steps))
    return float(np.max(np.abs(steps - mean))) > EVEN_TOLERANCE_MM + 0.01 * mean


def resample_even(values: np.ndarray, distances: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Frames linearly resampled onto the smallest step (bounded), and their new distances."""
    extent = float(distances[-1] - distances[0])
    step = float(np.min(np.diff(distances)))
    count = int(np.ceil(extent / step - 0.01)) + 1  # steps no longer than the smallest
    count = min(count, MAX_RESAMPLE_FACTOR * len(distances))
    targets = distances[0] + np.arange(count) * (extent / (count - 1) if count > 1 else 0.0)
    fractional = np.interp(targets, distances, np.arange(len(distances)))
    lower = np.minimum(np.floor(fractional).astype(int), len(distances) - 2)
    weight = (fractional - lower).astype(np.float32)
    out = np.empty((count, *values.shape[1:]), values.dtype)
    for j, (k, w) in enumerate(zip(lower, weight, strict=True)):
        mixed = values[k] * (1 - w) + values[k + 1] * w
        out[j] = cast_values(mixed, values.dtype)
    return out, targets


def cast_values(values: np.ndarray, dtype) -> np.ndarray:
    dtype = np.dtype(dtype)
    if values.dtype == dtype:
        return values
    if dtype.kind in "iu":
        info = np.iinfo(dtype)
        return np.clip(np.rint(values), info.min, info.max).astype(dtype)
    return values.astype(dtype, copy=False)


def value_limits(values: np.ndarray, padding) -> tuple[float, float, float]:
    """(low, high) of the non-padding values and the fill for outside the volume."""
    low, high = float(values.min()), float(values.max())
    fill = low
    if padding is not None:
        kept = values[(values < padding[0]) | (values > padding[1])]
        if kept.size:
            low, high = float(kept.min()), float(kept.max())
    return low, high, fill


def _read_only(values: np.ndarray) -> np.ndarray:
    view = values.view()
    view.flags.writeable = False
    return view


def _series_name(series) -> str:
    info = series.info
    label = info.description or info.modality or "series"
    return f"series {info.number} ({label})" if info.number is not None else label
