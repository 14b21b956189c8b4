"""Overlay planes (DICOM PS3.3 C.9.2, groups 6000–601E): the graphics a file carries beside its
pixels (a lesion outline, an annotation), as one boolean mask per frame.

Each plane is `OverlayRows` × `OverlayColumns` bits placed at `OverlayOrigin` (1-based row,
column; it may lie partly outside the image). Its bits are either in `OverlayData` (packed,
little-endian bit order, frame after frame for multi-frame overlays: `NumberOfFramesInOverlay`
from `ImageFrameOrigin`) or, in older files, embedded in the stored pixel values at
`OverlayBitPosition` (retired, still around). Nothing here trusts the header's sizes: a plane
needs no more memory than its image, and one that its data cannot fill is left out.

`frame_overlay(series, i)` is the mask for frame i of an open `Series` (None when the file has
no overlay for it); `burn_overlay(display, mask)` draws it over a rendered uint8 image. The
viewer, `radlens render` and the report's key image all use these two.
"""

from __future__ import annotations

import numpy as np
from pydicom.dataset import Dataset

OVERLAY_GROUPS = range(0x6000, 0x6020, 2)
OVERLAY_COLOUR = (255, 200, 0)  # amber: visible on grey and apart from the heatmap's colours


def has_overlays(ds: Dataset) -> bool:
    return any((group, 0x0010) in ds for group in OVERLAY_GROUPS)


def frame_overlay(series, i: int) -> np.ndarray | None:
    """The union of the overlay planes of frame i of `series` (bool rows × columns), or None.
    A series whose files have no overlay planes (the header scan says so) reads nothing."""
    if not getattr(series.info, "has_overlay_planes", False):  # a reformat has none
        return None
    header = series.header(i)
    if not has_overlays(header):
        return None
    info = series.info
    frame_in_file = info.frames[i].frame_index
    stored = None
    if any(_embedded(header, group) for group in OVERLAY_GROUPS if (group, 0x0010) in header):
        stored = series.stored_frame(i)
    return overlay_mask(header, frame_in_file, info.rows, info.columns, stored)


def overlay_mask(
    ds: Dataset, frame: int, rows: int, columns: int, stored: np.ndarray | None = None
) -> np.ndarray | None:
    """The union of every overlay plane of `ds` on frame `frame` (0-based, within the file)."""
    mask = np.zeros((rows, columns), dtype=bool)
    found = False
    for group in OVERLAY_GROUPS:
        if (group, 0x0010) not in ds:
            continue
        plane = _plane_bits(ds, group, frame, stored)
        if plane is not None:
            _place(mask, plane, _origin(ds, group))
            found = True
    return mask if found else None


def _value(ds: Dataset, group: int, element: int, default=None):
    item = ds.get((group, element))
    return default if item is None or item.value in (None, "") else item.value


def _embedded(ds: Dataset, group: int) -> bool:
    return (group, 0x3000) not in ds and int(_value(ds, group, 0x0100, 1) or 1) > 1


def _origin(ds: Dataset, group: int) -> tuple[int, int]:
    origin = _value(ds, group, 0x0050, [1, 1])
    try:
        return int(origin[0]) - 1, int(origin[1]) - 1
    except (TypeError, ValueError, IndexError):
        return 0, 0


def _plane_bits(ds: Dataset, group: int, frame: int, stored) -> np.ndarray | None:
    """The plane's bits for `frame`, or None when it has none for that frame or is unusable."""
    try:
        rows, columns = int(_value(ds, group, 0x0010, 0)), int(_value(ds, group, 0x0011, 0))
        frames = int(_value(ds, group, 0x0015, 1) or 1)
        first = int(_value(ds, group, 0x0051, 1) or 1)
    except (TypeError, ValueError):
        return None
    index = frame + 1 - first
    if rows <= 0 or columns <= 0 or not 0 <= index < frames:
        return None
    if _embedded(ds, group):
        return _embedded_bits(ds, group, rows, columns, stored)
    return _packed_bits(bytes(_value(ds, group, 0x3000, b"")), rows, columns, index)


def _packed_bits(data: bytes, rows: int, columns: int, index: int) -> np.ndarray | None:
    count = rows * columns
    start = index * count
    if (start + count + 7) // 8 > len(data):
        return None  # the header promises more bits than the data holds
    chunk = np.frombuffer(
        data, dtype=np.uint8, count=(start % 8 + count + 7) // 8, offset=start // 8
    )
    bits = np.unpackbits(chunk, bitorder="little")[start % 8 : start % 8 + count]
    return bits.reshape(rows, columns).astype(bool)


def _embedded_bits(ds: Dataset, group: int, rows: int, columns: int, stored) -> np.ndarray | None:
    """A plane kept in one bit of the stored pixel values (the image's own size)."""
    position = int(_value(ds, group, 0x0102, 0) or 0)
    if stored is None or np.ndim(stored) != 2 or not 0 <= position < 16:
        return None
    values = np.asarray(stored).astype(np.int64, copy=False)
    return (((values >> position) & 1).astype(bool))[:rows, :columns]


def _place(mask: np.ndarray, plane: np.ndarray, origin: tuple[int, int]) -> None:
    """OR `plane` into `mask` at (row, column) `origin`, clipped to the image."""
    top, left = origin
    rows, columns = mask.shape
    r0, c0 = max(top, 0), max(left, 0)
    r1, c1 = min(top + plane.shape[0], rows), min(left + plane.shape[1], columns)
    if r0 < r1 and c0 < c1:
        mask[r0:r1, c0:c1] |= plane[r0 - top : r1 - top, c0 - left : c1 - left]


def burn_overlay(display: np.ndarray, mask: np.ndarray | None) -> np.ndarray:
    """`display` (uint8 grey or RGB) with the mask's pixels in OVERLAY_COLOUR (RGB out); the
    image unchanged when there is no mask or it does not fit the image."""
    if mask is None or mask.shape != display.shape[:2] or not mask.any():
        return display
    rgb = np.repeat(display[..., None], 3, axis=2) if display.ndim == 2 else display.copy()
    rgb[mask] = OVERLAY_COLOUR
    return rgb


def overlay_rgba(mask: np.ndarray) -> np.ndarray:
    """The mask as an RGBA image (transparent where off) for a layer drawn over the image."""
    rgba = np.zeros((*mask.shape, 4), dtype=np.uint8)
    rgba[mask] = (*OVERLAY_COLOUR, 255)
    return rgba
