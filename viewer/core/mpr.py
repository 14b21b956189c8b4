"""Multi-planar reformatting: patient planes (LPS) sampled from one `Volume`.

Planes and display convention (radiological), whatever plane the series was acquired in:

    plane      screen right   screen down   frames count from (`--frame 0`)
    axial      patient left   posterior     inferior  (frame normal +z, head)
    coronal    patient left   inferior      posterior (frame normal −y, anterior)
    sagittal   posterior      inferior      right     (frame normal +x, left)

so axial shows the patient's right on the image left and anterior at the top, coronal right
on the left and superior at the top, sagittal anterior on the left and superior at the top.

A `PlaneGrid` is the output grid of one plane: square pixels of the volume's finest spacing,
spanning the bounding box of the volume's voxel centres projected on the plane; frames one
voxel step apart along the plane normal. Neither side nor the frame count exceeds
MAX_SIDE_FACTOR × the volume's largest side (coarser pixels then), so memory stays bounded
whatever the headers claim. `PlaneGrid.geometry(k)` is an ordinary
`FrameGeometry`, so the probe, measurements in mm and orientation letters work unchanged.

`sample_plane` computes one frame straight from the volume (never a copy of it): when the
plane's axes run along voxel axes (an axial CT reformatted coronally, or an axial plane of an
axial CT) it slices the array and interpolates linearly along each axis separately; otherwise
(oblique or tilted stacks) it interpolates trilinearly. Thick slabs reduce samples spaced one
voxel apart along the normal across the slab thickness (MIP, MinIP or mean). Points outside
the volume take `Volume.fill`; in a slab only the samples inside count.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from viewer.core.geometry import FrameGeometry
from viewer.core.volume import Volume, cast_values

PLANES = ("axial", "coronal", "sagittal")
SLAB_MODES = ("mip", "minip", "mean")
# plane: (screen right u, screen down v, frame direction w), unit vectors in LPS.
PLANE_AXES = {
    "axial": ((1.0, 0.0, 0.0), (0.0, 1.0, 0.0), (0.0, 0.0, 1.0)),
    "coronal": ((1.0, 0.0, 0.0), (0.0, 0.0, -1.0), (0.0, -1.0, 0.0)),
    "sagittal": ((0.0, 1.0, 0.0), (0.0, 0.0, -1.0), (1.0, 0.0, 0.0)),
}
MAX_SIDE_FACTOR = 4  # a plane side or frame count is at most this × the volume's largest side
AXIS_TOLERANCE = 1e-6  # index-space components smaller than this count as zero
SNAP_TOLERANCE = 1e-4  # a fractional index this close to an integer is that integer


@dataclass(frozen=True)
class PlaneGrid:
    """The pixel grid of one reformatted plane: frame k, pixel (i, j) lies at
    origin + k·frame_step·w + j·spacing·u + i·spacing·v."""

    name: str
    u: np.ndarray
    v: np.ndarray
    w: np.ndarray
    origin: np.ndarray
    spacing: float
    frame_step: float
    rows: int
    columns: int
    frames: int

    def frame_origin(self, k: float) -> np.ndarray:
        return self.origin + k * self.frame_step * self.w

    def frame_of(self, point) -> float:
        """Fractional frame index of the plane through `point`."""
        return float((np.asarray(point, float) - self.origin) @ self.w) / self.frame_step

    def nearest_frame(self, point) -> int:
        return int(min(max(round(self.frame_of(point)), 0), self.frames - 1))

    def middle(self) -> int:
        return (self.frames - 1) // 2

    def geometry(self, k: int, thickness: float | None = None) -> FrameGeometry:
        return FrameGeometry(
            rows=self.rows,
            columns=self.columns,
            spacing=(self.spacing, self.spacing),
            origin=tuple(float(x) for x in self.frame_origin(k)),
            row_cosine=tuple(float(x) for x in self.u),
            column_cosine=tuple(float(x) for x in self.v),
            slice_thickness=thickness or self.frame_step,
            spacing_source="PixelSpacing",
        )


def plane_trace(geometry: FrameGeometry, point, normal) -> tuple[tuple, tuple] | None:
    """Where the plane through `point` with `normal` cuts a frame: a pixel (row, col) on the
    line and the line's direction (d_row, d_col) in pixels; None when the planes are parallel.

    Frame pixel (r, c) lies at O + c·Δc·X + r·Δr·Y, so the line is
    c·Δc·(X·n) + r·Δr·(Y·n) = (P − O)·n.
    """
    normal = np.asarray(normal, float)
    delta_r, delta_c = geometry.spacing
    a = delta_c * float(np.dot(geometry.row_cosine, normal))
    b = delta_r * float(np.dot(geometry.column_cosine, normal))
    if np.hypot(a, b) < 1e-6:
        return None
    d = float((np.asarray(point, float) - np.asarray(geometry.origin, float)) @ normal)
    scale = d / (a * a + b * b)
    return (b * scale, a * scale), (a, -b)


def plane_grid(volume: Volume, name: str) -> PlaneGrid:
    """The grid of patient plane `name` (axial, coronal or sagittal) over `volume`."""
    if name not in PLANE_AXES:
        raise ValueError(f"unknown plane {name!r} (choose from {', '.join(PLANES)})")
    u, v, w = (np.array(a, float) for a in PLANE_AXES[name])
    return grid_for_axes(volume, name, u, v, w)


def grid_for_axes(volume: Volume, name: str, u, v, w) -> PlaneGrid:
    """A grid with screen axes u, v and frame direction w (orthonormal) spanning the volume."""
    corners = volume.corners()
    lows = np.array([(corners @ a).min() for a in (u, v, w)])
    highs = np.array([(corners @ a).max() for a in (u, v, w)])
    extents = highs - lows
    limit = MAX_SIDE_FACTOR * max(volume.shape)
    spacing = max(min(volume.spacing()), float(max(extents[:2])) / (limit - 1))
    frame_step = max(voxel_step_along(volume, w), float(extents[2]) / (limit - 1))
    columns, rows = (int(np.floor(extents[n] / spacing + 1e-6)) + 1 for n in (0, 1))
    frames = int(np.floor(extents[2] / frame_step + 1e-6)) + 1
    origin = lows[0] * u + lows[1] * v + lows[2] * w
    return PlaneGrid(name, u, v, w, origin, spacing, frame_step, rows, columns, frames)


def voxel_step_along(volume: Volume, direction) -> float:
    """mm along `direction` that move the index by one voxel on its fastest-changing axis."""
    return 1.0 / float(np.max(np.abs(volume.inverse @ np.asarray(direction, float))))


def sample_plane(
    volume: Volume, grid: PlaneGrid, k: int, slab_mm: float = 0.0, mode: str = "mip"
) -> np.ndarray:
    """Frame `k` of `grid` (rows × columns) in the volume's dtype; a slab when `slab_mm` > 0."""
    if mode not in SLAB_MODES:
        raise ValueError(f"unknown slab mode {mode!r} (choose from {', '.join(SLAB_MODES)})")
    inverse = volume.inverse
    start = inverse @ (grid.frame_origin(k) - volume.origin)
    du, dv = (inverse @ (grid.spacing * a) for a in (grid.u, grid.v))
    offsets = slab_offsets(volume, grid, slab_mm)
    dw = inverse @ grid.w
    return cast_values(_sample(volume, grid, start, du, dv, dw, offsets, mode), volume.values.dtype)


def _sample(volume, grid, start, du, dv, dw, offsets, mode) -> np.ndarray:
    """The cheapest exact method for how the plane's axes lie in index space."""
    axes = separable_axes(du, dv, dw)
    if axes is not None:
        return _separable(volume, grid, start, du, dv, dw, offsets, axes, mode)
    w_axis = _sole_axis(dw, du, dv)
    if w_axis is not None:
        return _section(volume, grid, start, du, dv, dw, offsets, mode, w_axis)
    u_axis = _sole_axis(du, dv, dw)
    if u_axis is not None:
        return _lines(volume, start, du, dv, dw, offsets, mode, u_axis, (grid.rows, grid.columns))
    v_axis = _sole_axis(dv, du, dw)
    if v_axis is not None:
        shape = (grid.columns, grid.rows)
        return _lines(volume, start, dv, du, dw, offsets, mode, v_axis, shape).T
    return _trilinear_slab(volume, grid, start, du, dv, dw, offsets, mode)


DRAWN_SAMPLES = 257  # points per plane side checked by `frames_drawn` (cheap, dense enough)


def frames_drawn(
    volume: Volume, grid: PlaneGrid, k: int, slab_mm: float = 0.0
) -> tuple[int, int] | None:
    """(first, last) voxel frame (index along the volume's frame axis) that frame `k` of
    `grid` (a slab when `slab_mm` > 0) samples, both inclusive; None when it misses the volume.

    The plane (both faces of the slab) is checked at a dense grid of points; those inside the
    volume give the fractional frame indices, and interpolation reads the frames either side."""
    offsets = slab_offsets(volume, grid, slab_mm)
    rows = np.linspace(0.0, grid.rows - 1.0, min(grid.rows, DRAWN_SAMPLES))
    cols = np.linspace(0.0, grid.columns - 1.0, min(grid.columns, DRAWN_SAMPLES))
    r, c, o = np.meshgrid(rows, cols, [offsets[0], offsets[-1]], indexing="ij")
    steps = np.column_stack([grid.spacing * grid.v, grid.spacing * grid.u, grid.w])
    points = grid.frame_origin(k) + np.stack([r, c, o], -1).reshape(-1, 3) @ steps.T
    index = (points - volume.origin) @ volume.inverse.T
    top = np.array(volume.shape, float) - 1.0
    inside = np.all((index > -SNAP_TOLERANCE) & (index < top + SNAP_TOLERANCE), axis=1)
    if not inside.any():
        return None
    frames = np.clip(index[inside, 0], 0.0, top[0])
    first = int(np.floor(frames.min() + SNAP_TOLERANCE))
    last = int(np.ceil(frames.max() - SNAP_TOLERANCE))
    return first, last


def slab_offsets(volume: Volume, grid: PlaneGrid, slab_mm: float) -> np.ndarray:
    """mm along the normal of the samples a slab combines (one voxel step apart, centred)."""
    if slab_mm <= 0:
        return np.zeros(1)
    step = voxel_step_along(volume, grid.w)
    half = min(int(np.floor(slab_mm / (2 * step) + 1e-6)), max(volume.shape))  # ≤ the volume
    return np.arange(-half, half + 1) * step


def _axes_of(vector) -> np.ndarray:
    return np.flatnonzero(np.abs(vector) > AXIS_TOLERANCE * np.max(np.abs(vector)))


def _sole_axis(vector, *others) -> int | None:
    """The one voxel axis `vector` moves along, when none of `others` moves along it."""
    axes = _axes_of(vector)
    if len(axes) != 1:
        return None
    axis = int(axes[0])
    scale = np.max(np.abs(vector))
    return axis if all(abs(o[axis]) <= AXIS_TOLERANCE * scale for o in others) else None


def separable_axes(du, dv, dw) -> tuple[int, int, int] | None:
    """(axis of u, axis of v, axis of w) when each moves along one voxel axis only."""
    found = []
    for vector in (du, dv, dw):
        nonzero = _axes_of(vector)
        if len(nonzero) != 1:
            return None
        found.append(int(nonzero[0]))
    return tuple(found) if len(set(found)) == 3 else None  # type: ignore[return-value]


# --- axis-aligned planes: slicing plus separable linear interpolation ------------------------


def _cut_across(volume, axis: int, centre: float, steps: np.ndarray, mode) -> np.ndarray | None:
    """The voxel plane across `axis` at `centre` (voxels), or the slab through `centre + steps`
    projected by `mode`; None when it lies outside the volume."""
    if len(steps) > 1:
        return _slab_along(volume.values, axis, centre + steps, mode)
    return _plane_along(volume.values, axis, centre)


def _separable(volume, grid, start, du, dv, dw, offsets, axes, mode) -> np.ndarray:
    axis_u, axis_v, axis_w = axes
    plane = _cut_across(volume, axis_w, start[axis_w], offsets * dw[axis_w], mode)
    if plane is None:
        return np.full((grid.rows, grid.columns), volume.fill, np.float32)
    kept = [a for a in range(3) if a != axis_w]  # the plane's axes, in array order
    if kept.index(axis_v) == 1:
        plane = plane.T
    plane = np.ascontiguousarray(plane)  # a strided section gathers slowly
    rows = _line_positions(start[axis_v], dv[axis_v], grid.rows)
    cols = _line_positions(start[axis_u], du[axis_u], grid.columns)
    return _resample_2d(plane, rows, cols, volume.fill)


def _plane_along(values: np.ndarray, axis: int, index: float) -> np.ndarray | None:
    """The 2-D section of `values` at fractional `index` along `axis` (linear between two)."""
    count = values.shape[axis]
    snapped = round(index)
    if abs(index - snapped) < SNAP_TOLERANCE:
        if not 0 <= snapped < count:
            return None
        return _take(values, axis, snapped)
    lower = int(np.floor(index))
    if lower < 0 or lower + 1 >= count:
        return None
    weight = np.float32(index - lower)
    return _take(values, axis, lower) * (1 - weight) + _take(values, axis, lower + 1) * weight


def _slab_along(values: np.ndarray, axis: int, indices: np.ndarray, mode: str):
    """Reduce the voxel sections nearest to `indices` (those inside the volume) along `axis`."""
    inside = np.unique(np.clip(np.rint(indices).astype(int), -1, values.shape[axis]))
    inside = inside[(inside >= 0) & (inside < values.shape[axis])]
    if inside.size == 0:
        return None
    lo, hi = int(inside[0]), int(inside[-1]) + 1
    block = values[(slice(None),) * axis + (slice(lo, hi),)]
    if axis == values.ndim - 1:
        block = _fold_last_axis(block, mode)  # numpy reduces short last axes slowly
    if mode == "mip":
        return block.max(axis=axis)
    if mode == "minip":
        return block.min(axis=axis)
    return block.sum(axis=axis, dtype=np.float32) / np.float32(hi - lo)


def _fold_last_axis(block: np.ndarray, mode: str, keep: int = 4) -> np.ndarray:
    """Combine the two halves of the last axis elementwise until `keep` or fewer remain."""
    if mode == "mean":
        block = block.astype(np.float32, copy=False)
    combine = {"mip": np.maximum, "minip": np.minimum, "mean": np.add}[mode]
    while block.shape[-1] > keep:
        half = block.shape[-1] // 2
        folded = combine(block[..., :half], block[..., half : 2 * half])
        if block.shape[-1] % 2:
            combine(folded[..., :1], block[..., -1:], out=folded[..., :1])
        block = folded
    return block


def _take(values: np.ndarray, axis: int, index: int) -> np.ndarray:
    return values[(slice(None),) * axis + (index,)]


def _line_positions(first: float, step: float, count: int) -> np.ndarray:
    return first + step * np.arange(count)


def _resample_2d(plane: np.ndarray, rows: np.ndarray, cols: np.ndarray, fill) -> np.ndarray:
    """plane sampled at fractional rows × cols, linearly per axis, `fill` outside."""
    plane = _resample_axis(plane, rows, 0, fill)
    return _resample_axis(plane, cols, 1, fill)


def _resample_axis(plane: np.ndarray, positions: np.ndarray, axis: int, fill) -> np.ndarray:
    count = plane.shape[axis]
    step = positions[1] - positions[0] if len(positions) > 1 else 1.0
    first = positions[0]
    if abs(abs(step) - 1) < SNAP_TOLERANCE and abs(first - round(first)) < SNAP_TOLERANCE:
        exact = _exact_run(plane, int(round(first)), len(positions), int(round(step)), axis)
        if exact is not None:
            return exact
    lower = np.floor(positions).astype(np.intp)
    valid = (positions > -SNAP_TOLERANCE) & (positions < count - 1 + SNAP_TOLERANCE)
    lower = np.clip(lower, 0, max(count - 2, 0))
    weight = np.where(valid, np.clip(positions - lower, 0, 1), 0).astype(np.float32)
    upper = np.minimum(lower + 1, count - 1)
    shape = [1, 1]
    shape[axis] = -1
    w = weight.reshape(shape)
    out = np.take(plane, lower, axis=axis) * (1 - w) + np.take(plane, upper, axis=axis) * w
    if not valid.all():
        index = [slice(None), slice(None)]
        index[axis] = ~valid
        out[tuple(index)] = fill
    return out


def _exact_run(plane: np.ndarray, first: int, count: int, step: int, axis: int):
    """plane[first : first + count·step : step] along `axis` when it lies inside, else None."""
    last = first + (count - 1) * step
    size = plane.shape[axis]
    if not (0 <= first < size and 0 <= last < size):
        return None
    stop = last + step if last + step >= 0 else None
    index = [slice(None), slice(None)]
    index[axis] = slice(first, stop, step)
    return plane[tuple(index)]


# --- planes tilted about one voxel axis (gantry tilt): sections or lines, then bilinear ------


def _section(volume, grid, start, du, dv, dw, offsets, mode, axis) -> np.ndarray:
    """The plane is one section across `axis` (e.g. sagittal of a tilted axial CT)."""
    section = _cut_across(volume, axis, start[axis], offsets * dw[axis], mode)
    if section is None:
        return np.full((grid.rows, grid.columns), volume.fill, np.float32)
    section = np.ascontiguousarray(section)
    first, second = (a for a in range(3) if a != axis)
    i = np.arange(grid.rows)[:, None]
    j = np.arange(grid.columns)[None, :]
    along_first = start[first] + i * dv[first] + j * du[first]
    along_second = start[second] + i * dv[second] + j * du[second]
    out, inside = bilinear(section, along_first, along_second)
    out[~inside] = volume.fill
    return out


def _lines(volume, start, d_line, d_across, dw, offsets, mode, axis, shape) -> np.ndarray:
    """Each output row is one line of voxels along `axis` (moved only by `d_line`), found by
    bilinear interpolation across the other two axes, then resampled along it."""
    rows, columns = shape
    first, second = (a for a in range(3) if a != axis)
    lines_source = np.moveaxis(volume.values, axis, -1)
    i = np.arange(rows)
    neutral = {"mip": -np.inf, "minip": np.inf, "mean": 0.0}[mode]
    combined = None
    count = np.zeros(rows, np.int32)
    for offset in offsets:
        point = start + offset * dw
        lines, inside = bilinear(
            lines_source, point[first] + i * d_across[first], point[second] + i * d_across[second]
        )
        count += inside
        lines[~inside] = neutral
        combined = lines if combined is None else _combine(combined, lines, mode)
    if mode == "mean":
        combined /= np.maximum(count, 1)[:, None]
    combined[count == 0] = volume.fill
    positions = _line_positions(start[axis], d_line[axis], columns)
    return _resample_axis(combined, positions, 1, volume.fill)


def _combine(result: np.ndarray, samples: np.ndarray, mode: str) -> np.ndarray:
    if mode == "mip":
        return np.maximum(result, samples, out=result)
    if mode == "minip":
        return np.minimum(result, samples, out=result)
    result += samples
    return result


def bilinear(source: np.ndarray, first, second) -> tuple[np.ndarray, np.ndarray]:
    """`source` (A×B×…) at fractional indices (first, second) on its first two axes, linearly;
    the trailing axes come along (a line per point). Returns float32 values and `inside`."""
    size_a, size_b = source.shape[:2]
    first, second = np.asarray(first, float), np.asarray(second, float)
    inside = (first > -SNAP_TOLERANCE) & (first < size_a - 1 + SNAP_TOLERANCE)
    inside &= (second > -SNAP_TOLERANCE) & (second < size_b - 1 + SNAP_TOLERANCE)
    a0 = np.clip(np.floor(first).astype(np.intp), 0, max(size_a - 2, 0))
    b0 = np.clip(np.floor(second).astype(np.intp), 0, max(size_b - 2, 0))
    extra = (None,) * (source.ndim - 2)
    fa = np.clip(first - a0, 0, 1).astype(np.float32)[(..., *extra)]
    fb = np.clip(second - b0, 0, 1).astype(np.float32)[(..., *extra)]
    step_a, step_b = int(size_a > 1), int(size_b > 1)
    if source.ndim == 2 and source.flags.c_contiguous:  # a section: flat gathers are faster
        flat, corner = source.reshape(-1), a0 * size_b + b0

        def at(da: int, db: int) -> np.ndarray:
            return flat.take(corner + (da * size_b + db))
    else:

        def at(da: int, db: int) -> np.ndarray:
            return source[a0 + da, b0 + db]

    top = at(0, 0) * (1 - fb) + at(0, step_b) * fb
    bottom = at(step_a, 0) * (1 - fb) + at(step_a, step_b) * fb
    return (top * (1 - fa) + bottom * fa).astype(np.float32, copy=False), inside


# --- any plane: trilinear interpolation --------------------------------------------------------


def _trilinear_slab(volume, grid, start, du, dv, dw, offsets, mode) -> np.ndarray:
    base = (
        start[:, None, None]
        + du[:, None, None] * np.arange(grid.columns)[None, None, :]
        + dv[:, None, None] * np.arange(grid.rows)[None, :, None]
    ).reshape(3, -1)
    neutral = {"mip": -np.inf, "minip": np.inf, "mean": 0.0}[mode]
    result = np.full(base.shape[1], neutral, np.float32)
    count = np.zeros(base.shape[1], np.int32)
    for offset in offsets:
        samples, inside = trilinear(volume.values, base + (offset * dw)[:, None])
        samples = np.where(inside, samples, np.float32(neutral))
        count += inside
        if mode == "mip":
            np.maximum(result, samples, out=result)
        elif mode == "minip":
            np.minimum(result, samples, out=result)
        else:
            result += samples
    if mode == "mean":
        result /= np.maximum(count, 1)
    result = np.where(count > 0, result, np.float32(volume.fill))
    return result.reshape(grid.rows, grid.columns)


def trilinear(values: np.ndarray, coords: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Trilinear samples of `values` at fractional indices `coords` (3×N), and which are inside."""
    size = np.array(values.shape, float)[:, None]
    inside = np.all((coords > -SNAP_TOLERANCE) & (coords < size - 1 + SNAP_TOLERANCE), axis=0)
    lower = np.floor(coords).astype(np.intp)
    for axis in range(3):
        np.clip(lower[axis], 0, max(values.shape[axis] - 2, 0), out=lower[axis])
    frac = np.clip(coords - lower, 0, 1).astype(np.float32)
    flat = np.ascontiguousarray(values).reshape(-1)
    strides = np.array([values.shape[1] * values.shape[2], values.shape[2], 1], np.intp)
    corner = strides @ lower
    steps = [strides[a] if values.shape[a] > 1 else 0 for a in range(3)]
    out = np.zeros(coords.shape[1], np.float32)
    for dk in (0, 1):
        wk = frac[0] if dk else 1 - frac[0]
        for dr in (0, 1):
            wkr = wk * (frac[1] if dr else 1 - frac[1])
            for dc in (0, 1):
                weight = wkr * (frac[2] if dc else 1 - frac[2])
                out += flat[corner + dk * steps[0] + dr * steps[1] + dc * steps[2]] * weight
    return out, inside
