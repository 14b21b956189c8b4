"""Values of interest (VOI): windows, VOI LUTs and automatic windows (DICOM PS3.3 C.11.2).

The VOI transformation maps modality values (the output of the Modality LUT / rescale,
PS3.3 C.11.1) to display values. Here the display range is normalised to [0, 1] (or scaled to
`out_range`); MONOCHROME1 inversion and 8-bit quantisation happen later, in `render.py`.

Applied at render time only; stored pixels are never changed and no input array is modified.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from inference.intensity import ROBUST_PERCENTILES, percentile_bounds

LINEAR = "LINEAR"
LINEAR_EXACT = "LINEAR_EXACT"
SIGMOID = "SIGMOID"
VOI_FUNCTIONS = (LINEAR, LINEAR_EXACT, SIGMOID)


@dataclass(frozen=True)
class Window:
    """A window centre/width with its VOI LUT function (LINEAR, LINEAR_EXACT or SIGMOID)."""

    center: float
    width: float
    function: str = "LINEAR"
    explanation: str = ""


@dataclass(frozen=True)
class VoiLut:
    """A VOI LUT Sequence item: first mapped value, bits per entry and the table itself."""

    first_mapped: int
    bits: int
    table: np.ndarray
    explanation: str = ""


Voi = Window | VoiLut


# --- applying a VOI -----------------------------------------------------------------------


def apply_voi(
    values: np.ndarray, voi: Voi, out_range: tuple[float, float] = (0.0, 255.0)
) -> np.ndarray:
    """Map modality values through a window or VOI LUT to float32 in `out_range`.

    PS3.3 C.11.2: a Window Center/Width (C.11.2.1.2) or a VOI LUT Sequence item (C.11.2.1.1).
    The result is a new array; `values` is left untouched.
    """
    unit = voi_to_unit(values, voi)
    low, high = out_range
    if (low, high) == (0.0, 1.0):
        return unit
    return (unit * np.float32(high - low) + np.float32(low)).astype(np.float32, copy=False)


def voi_to_unit(values: np.ndarray, voi: Voi) -> np.ndarray:
    """Apply a window or VOI LUT; float32 in [0, 1] (0 = darkest for MONOCHROME2)."""
    if isinstance(voi, VoiLut):
        return apply_voi_lut_table(values, voi)
    return apply_window(values, voi)


def voi_to_uint8(values: np.ndarray, voi: Voi) -> np.ndarray:
    """Apply a window or VOI LUT and quantise to uint8 (round half up)."""
    return unit_to_uint8(voi_to_unit(values, voi))


def unit_to_uint8(unit: np.ndarray) -> np.ndarray:
    """[0, 1] float → uint8 0..255, rounding to nearest."""
    return np.clip(np.floor(unit * np.float32(255.0) + np.float32(0.5)), 0, 255).astype(np.uint8)


def apply_window(values: np.ndarray, window: Window) -> np.ndarray:
    """Window Center/Width to float32 in [0, 1] with the window's VOI LUT Function.

    - LINEAR, PS3.3 C.11.2.1.2.1: with c' = c - 0.5 and w' = w - 1,
      x <= c' - w'/2 → 0; x > c' + w'/2 → 1; else ((x - c') / w' + 0.5).
    - LINEAR_EXACT, PS3.3 C.11.2.1.3.2: the same without the -0.5 / -1 terms.
    - SIGMOID, PS3.3 C.11.2.1.3.1: 1 / (1 + exp(-4 (x - c) / w)).
    """
    function = validate_window(window)
    x = np.asarray(values, dtype=np.float64)
    if function == SIGMOID:
        with np.errstate(over="ignore"):  # exp → inf far below the centre gives exactly 0
            unit = 1.0 / (1.0 + np.exp(-4.0 * (x - window.center) / window.width))
        return unit.astype(np.float32)
    center, width = float(window.center), float(window.width)
    if function == LINEAR:
        center, width = center - 0.5, width - 1.0
    return _linear_ramp(x, center, width)


def _linear_ramp(x: np.ndarray, center: float, width: float) -> np.ndarray:
    """The piecewise linear VOI of C.11.2.1.2.1 / C.11.2.1.3.2, normalised to [0, 1].

    Clipping (x - c) / w + 0.5 to [0, 1] is the standard's three cases in one expression.
    """
    if width <= 0.0:  # LINEAR with width 1: a pure threshold at c - 0.5
        return (x > center).astype(np.float32)
    return np.clip((x - center) / width + 0.5, 0.0, 1.0).astype(np.float32)


def validate_window(window: Window) -> str:
    """The window's function name (upper case); ValueError for an unusable window."""
    function = (window.function or LINEAR).strip().upper()
    if function not in VOI_FUNCTIONS:
        raise ValueError(f"unsupported VOI LUT Function {window.function!r}")
    if not np.isfinite(window.center) or not np.isfinite(window.width):
        raise ValueError("window centre and width must be finite numbers")
    if function == LINEAR and window.width < 1:
        raise ValueError("a LINEAR window needs a width of at least 1 (PS3.3 C.11.2.1.2.1)")
    if function != LINEAR and window.width <= 0:
        raise ValueError(f"a {function} window needs a width greater than 0")
    return function


def is_usable(window: Window) -> bool:
    """Whether `apply_window` accepts this window (see `validate_window`)."""
    try:
        validate_window(window)
    except ValueError:
        return False
    return True


def apply_voi_lut_table(values: np.ndarray, lut: VoiLut) -> np.ndarray:
    """Map values through a VOI LUT Sequence table, PS3.3 C.11.2.1.1 and C.8.11.3.1.5.

    Values below the first mapped value take the first entry, values past the end the last
    entry. Entries are normalised by the table's output range, 2**bits - 1.
    """
    table = np.asarray(lut.table)
    index = np.asarray(values, dtype=np.float64) - lut.first_mapped
    index = np.clip(np.floor(index), 0, len(table) - 1).astype(np.intp)
    return (table.astype(np.float64)[index] / lut_output_max(lut)).astype(np.float32)


def lut_output_max(lut: VoiLut) -> float:
    """The largest output a VOI LUT can hold, 2**bits - 1.

    Some writers declare 16 bits for a table whose entries are 12-bit (or the reverse, entries
    above the declared range); then the entries' own bit depth is used so nothing saturates.
    """
    declared = float(2 ** int(lut.bits) - 1)
    table_max = float(np.max(lut.table)) if len(lut.table) else 0.0
    if table_max <= declared:
        return declared
    return float(2 ** int(np.ceil(np.log2(table_max + 1))) - 1)


# --- automatic and full-range windows ------------------------------------------------------


def full_range_window(values: np.ndarray, padding: Padding = None) -> Window:
    """A window spanning min..max of the modality values (padding excluded).

    The default when a file carries no VOI of its own: the minimum maps to black and the
    maximum to white.
    """
    kept = _unpadded(values, padding)
    if kept.size == 0:
        return Window(center=0.5, width=1.0, explanation="full range")
    return window_spanning(float(kept.min()), float(kept.max()), _is_integral(kept), "full range")


def auto_window(
    values: np.ndarray,
    padding: Padding = None,
    percentiles: tuple[float, float] = ROBUST_PERCENTILES,
) -> Window:
    """A robust automatic window: the 0.5th..99.5th percentile of the non-padding values.

    `padding` is PixelPaddingValue, or a (PixelPaddingValue, PixelPaddingRangeLimit) pair, in
    the same value space as `values` (PS3.3 C.7.5.1.1.2); those pixels never count.
    """
    kept = _unpadded(values, padding)
    if kept.size == 0:
        return Window(center=0.5, width=1.0, explanation="auto")
    low, high = percentile_bounds(kept, percentiles)
    return window_spanning(low, high, _is_integral(kept), "auto")


def window_spanning(
    low: float, high: float, integral: bool = True, explanation: str = ""
) -> Window:
    """The window that maps `low` to 0 and `high` to 1.

    For integer values a LINEAR window of width high - low + 1 (C.11.2.1.2.1 then maps low to
    exactly 0 and high to exactly 1); for real values a LINEAR_EXACT window of width high - low.
    """
    if integral:
        low, high = float(np.floor(low)), float(np.ceil(high))
        return Window((low + high + 1.0) / 2.0, high - low + 1.0, LINEAR, explanation)
    width = high - low
    if width <= 0:
        return Window(low + 0.5, 1.0, LINEAR, explanation)
    return Window((low + high) / 2.0, width, LINEAR_EXACT, explanation)


Padding = float | int | Sequence[float] | None


def padding_mask(values: np.ndarray, padding: Padding) -> np.ndarray:
    """True where a value is pixel padding (a single value, or an inclusive range)."""
    values = np.asarray(values)
    if padding is None:
        return np.zeros(values.shape, dtype=bool)
    bounds = [
        float(p) for p in np.atleast_1d(np.asarray(padding, dtype=np.float64)) if p is not None
    ]
    if not bounds:
        return np.zeros(values.shape, dtype=bool)
    return (values >= min(bounds)) & (values <= max(bounds))


def _unpadded(values: np.ndarray, padding: Padding) -> np.ndarray:
    values = np.asarray(values)
    if values.ndim == 3:  # colour: the window statistics come from luminance-like mean
        values = values.mean(axis=-1)
    kept = values[~padding_mask(values, padding)]
    return kept[np.isfinite(kept)] if kept.dtype.kind == "f" else kept


def _is_integral(values: np.ndarray) -> bool:
    if values.dtype.kind in "iub":
        return True
    return bool(np.all(np.mod(values, 1.0) == 0.0))


# --- reading the VOI LUT Module from a dataset ---------------------------------------------


def windows_from_dataset(ds) -> list[Window]:
    """All windows of a dataset's VOI LUT Module (PS3.3 C.11.2), in file order.

    Window Center, Window Width and Window Center & Width Explanation are multi-valued and
    paired by index; VOI LUT Function (C.11.2.1.3) applies to all of them. Windows whose
    width the function cannot use are dropped.
    """
    centers = _multi(ds.get("WindowCenter"))
    widths = _multi(ds.get("WindowWidth"))
    explanations = _multi(ds.get("WindowCenterWidthExplanation"))
    function = str(ds.get("VOILUTFunction", "") or LINEAR).strip().upper()
    windows = []
    for i, (center, width) in enumerate(zip(centers, widths, strict=False)):
        explanation = str(explanations[i]) if i < len(explanations) else ""
        window = _window_or_none(center, width, function, explanation)
        if window is not None:
            windows.append(window)
    return windows


def _window_or_none(center, width, function: str, explanation: str) -> Window | None:
    try:
        window = Window(float(center), float(width), function, explanation)
        validate_window(window)
    except (TypeError, ValueError):
        return None
    return window


def voi_luts_from_dataset(ds, header=None) -> list[VoiLut]:
    """The items of a dataset's VOI LUT Sequence (0028,3010) as `VoiLut` tables.

    LUT Descriptor (C.11.2.1.1 / C.8.11.3.1.5): number of entries (0 means 65536), first
    mapped value (US, or SS for signed pixel data), bits per entry. `header` is the file's
    top-level dataset when `ds` is a functional-group item (Frame VOI LUT, C.7.6.16.2.10): it
    gives Pixel Representation and the byte order of OW tables.
    """
    header = ds if header is None else header
    luts = []
    for item in ds.get("VOILUTSequence") or []:
        lut = _voi_lut_from_item(item, header)
        if lut is not None:
            luts.append(lut)
    return luts


def _voi_lut_from_item(item, ds) -> VoiLut | None:
    descriptor = _multi(item.get("LUTDescriptor"))
    if len(descriptor) != 3 or "LUTData" not in item:
        return None
    entries = int(descriptor[0]) or 65536
    first_mapped, bits = int(descriptor[1]), int(descriptor[2])
    if int(ds.get("PixelRepresentation", 0) or 0) == 1 and first_mapped > 32767:
        first_mapped -= 65536  # SS stored in a field read as US
    table = _lut_data(item["LUTData"], entries, bits, ds)
    if table is None or len(table) == 0:
        return None
    explanation = str(item.get("LUTExplanation", "") or "")
    return VoiLut(first_mapped=first_mapped, bits=bits, table=table, explanation=explanation)


def _lut_data(element, entries: int, bits: int, ds) -> np.ndarray | None:
    value = element.value
    if isinstance(value, bytes | bytearray):
        byteorder = "<" if _is_little_endian(ds) else ">"
        if bits <= 8 and len(value) == entries:  # 8-bit entries packed one per byte
            return np.frombuffer(value, dtype=np.uint8).astype(np.uint16)
        return np.frombuffer(value[: 2 * entries], dtype=f"{byteorder}u2").astype(np.uint16)
    table = np.asarray(_multi(value), dtype=np.int64)
    return np.clip(table, 0, 65535).astype(np.uint16)[:entries]


def _is_little_endian(ds) -> bool:
    meta = getattr(ds, "file_meta", None)
    syntax = getattr(meta, "TransferSyntaxUID", None) if meta is not None else None
    if syntax is not None:
        return syntax != "1.2.840.10008.1.2.2"
    original = getattr(ds, "original_encoding", (None, True))
    return original[1] is not False


def _multi(value) -> list:
    """A DICOM value as a list (VM 1 → one item, missing → empty)."""
    if value is None:
        return []
    if hasattr(value, "value") and not isinstance(value, str | bytes):
        value = value.value
    if value is None or value == "":
        return []
    if isinstance(value, str | bytes | int | float):
        return [value]
    return list(value)
