"""Modality values → display pixels (uint8), in the order of the DICOM grayscale pipeline.

PS3.4 N.2.1.1 / PS3.3 C.11: stored values → Modality LUT (done by `Series.modality_frame`) →
VOI LUT or window (`voi.py`, PS3.3 C.11.2) → MONOCHROME1 inversion (PS3.3 C.7.6.3.1.2,
applied exactly once) → the user's invert toggle (XOR) → 8-bit display value.
Colour images bypass VOI (C.11.2 is for grayscale). Inputs are never modified in place.
"""

from __future__ import annotations

import threading

import numpy as np

from viewer.core.voi import (
    Padding,
    Voi,
    Window,
    full_range_window,
    unit_to_uint8,
    voi_to_unit,
)

MONOCHROME1 = "MONOCHROME1"
MONOCHROME_PHOTOMETRICS = ("MONOCHROME1", "MONOCHROME2")


def render_array(
    values: np.ndarray,
    window: Voi | None = None,
    photometric: str = "MONOCHROME2",
    *,
    invert: bool = False,
    padding: Padding = None,
) -> np.ndarray:
    """Render a frame of modality values to uint8: HxW grey, or HxWx3 for colour input.

    `window` is a `Window` or `VoiLut`; None means the full range of the (non-padding) values.
    """
    values = np.asarray(values)
    if is_colour(values):
        return render_colour(values, invert=invert)
    voi = window if window is not None else full_range_window(values, padding)
    inverted = display_inverted(photometric, invert)
    if values.dtype.kind in "iu" and values.dtype.itemsize <= 2:
        return _grey_by_lookup(values, voi, inverted)
    return _grey_to_uint8(values, voi, inverted)


def _grey_to_uint8(values: np.ndarray, voi: Voi, inverted: bool) -> np.ndarray:
    unit = voi_to_unit(values, voi)
    if inverted:
        unit = 1.0 - unit
    return unit_to_uint8(unit)


def _grey_by_lookup(values: np.ndarray, voi: Voi, inverted: bool) -> np.ndarray:
    """8/16-bit integers: render every possible value once, then index (same numbers, faster).

    Signed values are read through their unsigned bit pattern, so the table is ordered
    0..max, min..-1 and needs no offset or copy of the frame.
    """
    values = _native(values)
    return np.take(grey_table(values.dtype, voi, inverted), _table_index(values))


def _native(values: np.ndarray) -> np.ndarray:
    return values if values.dtype.isnative else values.astype(values.dtype.newbyteorder("="))


def _table_index(values: np.ndarray) -> np.ndarray:
    """The unsigned bit pattern of 8/16-bit integers: a view, no copy (strided views too)."""
    return values.view(np.dtype(f"u{values.dtype.itemsize}"))


def grey_table(dtype: np.dtype, voi: Voi, inverted: bool) -> np.ndarray:
    """uint8 display value of every value of an 8/16-bit integer dtype, in bit-pattern order."""
    return _cached_table(np.dtype(dtype), voi, inverted, "grey")


def argb32_table(dtype: np.dtype, voi: Voi, inverted: bool) -> np.ndarray:
    """`grey_table` packed as opaque 0xFFRRGGBB uint32 grey (Qt's Format_RGB32)."""
    return _cached_table(np.dtype(dtype), voi, inverted, "argb32")


_TABLES: dict[tuple, np.ndarray] = {}
_TABLES_KEPT = 8
_TABLES_LOCK = threading.Lock()  # the UI thread paints while loader threads render thumbnails


def _cached_table(dtype: np.dtype, voi: Voi, inverted: bool, kind: str) -> np.ndarray:
    """A few recent tables, so scrolling at one window renders each table once.

    Only windows are cached (hashable and small); a VOI LUT's table is rebuilt.
    """
    key = (dtype.str, voi, inverted, kind) if isinstance(voi, Window) else None
    with _TABLES_LOCK:
        table = _TABLES.get(key) if key else None
    if table is None:
        unsigned = np.dtype(f"u{dtype.itemsize}")
        every_value = np.arange(2 ** (8 * dtype.itemsize), dtype=unsigned).view(dtype)
        table = _grey_to_uint8(every_value, voi, inverted)
        if kind == "argb32":
            table = pack_argb32(table)
        table.flags.writeable = False  # shared between callers
        if key:
            with _TABLES_LOCK:
                while len(_TABLES) >= _TABLES_KEPT:
                    _TABLES.pop(next(iter(_TABLES)))
                _TABLES[key] = table
    return table


def pack_argb32(pixels: np.ndarray) -> np.ndarray:
    """uint8 grey HxW or RGB HxWx3 → uint32 0xFFRRGGBB (Qt's Format_RGB32), a new array."""
    if pixels.ndim == 3:
        r, g, b = (pixels[..., i].astype(np.uint32) for i in range(3))
        return (r << 16) | (g << 8) | b | np.uint32(0xFF000000)
    return pixels.astype(np.uint32) * np.uint32(0x010101) | np.uint32(0xFF000000)


def render_argb32(
    values: np.ndarray, window: Voi | None, photometric: str = "MONOCHROME2", *, invert=False
) -> np.ndarray:
    """The pixels of `render_array` packed as uint32 0xFFRRGGBB, ready for Qt to draw.

    8/16-bit integer grey (the usual stored and modality types) takes one gather from a table of
    every value; other types are rendered by `render_array` and packed. `values` may be any
    strided view (a screen-sized sample of a frame); it is never copied for the integer path.
    """
    values = np.asarray(values)
    if not is_colour(values) and values.dtype.kind in "iu" and values.dtype.itemsize <= 2:
        voi = window if window is not None else full_range_window(values)
        values = _native(values)
        table = argb32_table(values.dtype, voi, display_inverted(photometric, invert))
        return np.take(table, _table_index(values))
    return pack_argb32(render_array(values, window, photometric, invert=invert))


def render_frame(series, i: int, window: Voi | None = None, *, invert: bool = False) -> np.ndarray:
    """Frame `i` of a `Series` as the viewer shows it: uint8 HxW (grey) or HxWx3 (colour).

    Without `window`: the file's own VOI LUT, else its first window, else the full range.
    """
    values = series.modality_frame(i)
    if window is None and not is_colour(values):
        window = initial_voi(series, i, values)
    return render_array(values, window, series.photometric, invert=invert)


def initial_voi(series, i: int, values: np.ndarray | None = None) -> Voi:
    """The VOI a frame opens with: its VOI LUT Sequence, else `Series.default_window`.

    PS3.3 C.11.2 allows either a VOI LUT or a window to be applied; like pydicom's
    `apply_voi_lut(prefer_lut=True)`, a table the file carries wins. Otherwise the file's first
    usable window, else the full range of the non-padding values: one definition, in `Series`.
    """
    lut = series.voi_lut(i)
    if lut is not None:
        return lut
    return series.default_window(i, values)


def modality_padding(series, i: int = 0) -> Padding:
    """The series' pixel padding as a (low, high) range of modality values, or None.

    `Series.pixel_padding` already maps PixelPaddingValue / PixelPaddingRangeLimit (stored
    values, PS3.3 C.7.5.1.1.2) through the rescale, so it is used as it is.
    """
    return getattr(series, "pixel_padding", None)


def display_inverted(photometric: str, invert: bool = False) -> bool:
    """Whether low VOI output shows white: MONOCHROME1, XOR the user's invert toggle."""
    return (str(photometric).strip().upper() == MONOCHROME1) != bool(invert)


def is_colour(values: np.ndarray) -> bool:
    return values.ndim == 3 and values.shape[-1] in (3, 4)


def render_colour(values: np.ndarray, *, invert: bool = False) -> np.ndarray:
    """RGB(A) values → uint8 HxWx3; 16-bit samples are scaled down, never windowed."""
    rgb = np.asarray(values)[..., :3]
    if rgb.dtype != np.uint8:
        top = 255.0 if float(np.max(rgb, initial=0)) <= 255 else 65535.0
        rgb = np.clip(np.floor(rgb.astype(np.float64) * (255.0 / top) + 0.5), 0, 255)
    rgb = rgb.astype(np.uint8)  # a copy, also for uint8 input
    return 255 - rgb if invert else rgb
