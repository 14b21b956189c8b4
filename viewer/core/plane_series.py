"""`PlaneSeries`: one reformatted plane of a volume, served with the `Series` interface.

A viewport, the probe, measurements, overlays and `radlens render` read a `Series` through
`len`, `info`, `modality_frame(i)`, `frame_ready(i)`, `geometry(i)`, `windows(i)`,
`voi_lut(i)`, `default_window(i)`, `header(i)`, `photometric`, `is_color` and
`pixel_padding`. `PlaneSeries` answers the same calls for frame i of a patient plane of a
`Volume` (computed on demand by `viewer.core.mpr.sample_plane`, kept in a small LRU cache),
so everything that works on an acquired frame works on a reformatted one. Its frames carry
their patient position and orientation; their SOP Instance UID is a made-up key
(``mpr.<plane>.<series UID>``) that measurements are stored under, never written to a file.

Thread safety: `modality_frame` may run on a worker thread (the viewport's frame fetcher)
while the UI reads cached frames; changing the slab bumps a generation so results computed
for the old slab are dropped.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from dataclasses import replace

import numpy as np

from viewer.core.geometry import FrameGeometry, slice_normal
from viewer.core.index import FrameRef, SeriesInfo
from viewer.core.mpr import SLAB_MODES, PlaneGrid, frames_drawn, plane_grid, sample_plane
from viewer.core.voi import Window, full_range_window, window_spanning
from viewer.core.volume import Volume

PLANE_CACHE_BYTES = 48 * 1024**2  # per plane
MODE_TITLES = {"mip": "MIP", "minip": "MinIP", "mean": "Mean"}


class PlaneSeries:
    """Frames of one patient plane (axial, coronal or sagittal) of `volume`."""

    is_reformat = True

    def __init__(self, base, volume: Volume, plane: str) -> None:
        self.base = base  # the acquired Series the volume was built from
        self.volume = volume
        self.plane = plane
        self.grid: PlaneGrid = plane_grid(volume, plane)
        self.slab_mm = 0.0
        self.mode = "mip"
        self.photometric = base.photometric
        self.is_color = False
        self.pixel_padding = base.pixel_padding
        self._lock = threading.Lock()
        self._cache: OrderedDict[int, np.ndarray] = OrderedDict()
        self._generation = 0
        self.info = plane_info(base.info, self.grid, volume)

    def __len__(self) -> int:
        return self.grid.frames

    def __repr__(self) -> str:
        return f"PlaneSeries({self.base.info.key!r}, {self.plane}, {len(self)} frames)"

    # --- slab ---------------------------------------------------------------------------------

    def set_slab(self, slab_mm: float, mode: str = "mip") -> None:
        """Thick slab of `slab_mm` (0 = thin plane) combined by `mode` (mip, minip, mean)."""
        if mode not in SLAB_MODES:
            raise ValueError(f"unknown slab mode {mode!r}")
        with self._lock:
            self.slab_mm, self.mode = max(0.0, float(slab_mm)), mode
            self._generation += 1
            self._cache.clear()
        base = f"{self.base.info.description} ({self.plane}".strip()
        slab = self.slab_label()
        self.info.description = f"{base}, {slab})" if slab else f"{base})"

    def slab_label(self) -> str:
        return f"{MODE_TITLES[self.mode]} {self.slab_mm:g} mm" if self.slab_mm > 0 else ""

    def frame_caption(self, i: int) -> str:
        """Which plane and slab frame i is: 'coronal reformat, frame 65 of 130, MIP 10 mm slab'
        (frames counted from 1, from the inferior, posterior or right side)."""
        text = f"{self.plane} reformat, frame {self._check(i) + 1} of {len(self)}"
        slab = self.slab_label()
        return f"{text}, {slab} slab" if slab else text

    def source_frames(self, i: int) -> list[int]:
        """The base series' frames (indices into `base.info.frames`) that frame i (and its
        slab) draws its pixels from: the acquired slices it cuts; [] when it misses them all.
        A volume resampled to even spacing maps back to the acquired slices around it."""
        drawn = frames_drawn(self.volume, self.grid, self._check(i), self.slab_mm)
        if drawn is None:
            return []
        frames = self.base.info.frames
        normal = slice_normal(frames[0].orientation)
        acquired = (np.array([f.position for f in frames], float) - frames[0].position) @ normal
        step = float(self.volume.matrix[:, 0] @ normal)  # mm between voxel frames
        low, high = (n * step for n in drawn)
        tolerance = 1e-3 * max(abs(step), 1e-6)
        first = max(int(np.searchsorted(acquired, low + tolerance, "right")) - 1, 0)
        last = min(int(np.searchsorted(acquired, high - tolerance, "left")), len(frames) - 1)
        return list(range(first, last + 1))

    # --- pixels -------------------------------------------------------------------------------

    def modality_frame(self, i: int) -> np.ndarray:
        i = self._check(i)
        with self._lock:
            if i in self._cache:
                self._cache.move_to_end(i)
                return self._cache[i]
            generation, slab, mode = self._generation, self.slab_mm, self.mode
        values = sample_plane(self.volume, self.grid, i, slab, mode)
        if values.flags.writeable:
            values.flags.writeable = False
        with self._lock:
            if generation == self._generation:
                self._remember(i, values)
        return values

    def frame_ready(self, i: int) -> bool:
        with self._lock:
            return i in self._cache

    # --- geometry, VOI, header ----------------------------------------------------------------

    def geometry(self, i: int) -> FrameGeometry:
        return self.grid.geometry(self._check(i), self.slab_mm or None)

    def windows(self, i: int) -> list[Window]:
        return self.base.windows(0)

    def voi_lut(self, i: int):
        return self.base.voi_lut(0)

    def default_window(self, i: int, values: np.ndarray | None = None) -> Window:
        """The file's first window, else the full range (of the whole volume unless the frame's
        values are given: never computes a plane for it)."""
        own = self.windows(i)
        if own:
            return own[0]
        if values is not None:
            return full_range_window(values, self.pixel_padding)
        low, high = self.volume.value_range
        integral = self.volume.values.dtype.kind in "iu"
        return window_spanning(low, high, integral, "full range")

    def header(self, i: int):
        return self.base.header(0)

    # --- internals ----------------------------------------------------------------------------

    def _check(self, i: int) -> int:
        if not 0 <= i < len(self):
            raise IndexError(f"frame {i} out of range 0..{len(self) - 1}")
        return int(i)

    def _remember(self, i: int, values: np.ndarray) -> None:
        self._cache[i] = values
        while sum(v.nbytes for v in self._cache.values()) > PLANE_CACHE_BYTES:
            self._cache.popitem(last=False)
            if len(self._cache) <= 1:
                break


def plane_info(base: SeriesInfo, grid: PlaneGrid, volume: Volume) -> SeriesInfo:
    """A SeriesInfo for the plane: the base's identity, the grid's size and per-frame planes."""
    orientation = (*(float(x) for x in grid.u), *(float(x) for x in grid.v))
    sop = f"mpr.{grid.name}.{base.series_instance_uid}"
    first = base.frames[0]
    frames = [
        FrameRef(
            path=first.path,
            frame_index=k,
            sop_instance_uid=sop,
            instance_number=k + 1,
            position=tuple(float(x) for x in grid.frame_origin(k)),
            orientation=orientation,
        )
        for k in range(grid.frames)
    ]
    return replace(
        base,
        key=f"{base.key}@{grid.name}",
        description=f"{base.description} ({grid.name})".strip(),
        rows=grid.rows,
        columns=grid.columns,
        frames=frames,
        warnings=list(base.warnings) + list(volume.warnings),
        stack_label=grid.name,
    )
