"""Decode one frame into stored values, and apply the modality LUT (PS3.3 C.11.1).

Uncompressed little-endian frames are read straight from the Pixel Data offset found by the
header scan (after checking the element header is still there); everything else goes through
pydicom's decoder plugins (pylibjpeg, gdcm, pyjpegls). Colour images come back as RGB uint8.
"""

from __future__ import annotations

import struct
import warnings
from dataclasses import dataclass
from typing import Any

import numpy as np
from pydicom.dataset import Dataset
from pydicom.pixels import apply_color_lut, apply_modality_lut, get_decoder, pixel_array
from pydicom.uid import UID, DeflatedExplicitVRLittleEndian, JPEGLSLossless, JPEGLSNearLossless

from viewer.core.codestream import HEAD_BYTES, frame_items, looks_complete, size_mismatch
from viewer.core.deflated import DeflatedFiles, frame_datasets
from viewer.core.discovery import display_path
from viewer.core.errors import DicomReadError
from viewer.core.pictures import is_picture_format, read_picture
from viewer.core.scan import PixelFormat, expected_pixel_bytes, short_error

_PIXEL_TAG_LE = b"\xe0\x7f\x10\x00"
_EMPTY_OFFSET_TABLE = b"\xfe\xff\x00\xe0\x00\x00\x00\x00"  # an item of length 0
# CharLS (pyjpegls) decodes valid JPEG-LS ~3x faster than libjpeg, but spends ~4 s failing on
# truncated streams that libjpeg decodes in 2 ms (found by scripts/fuzz_reader.py). So a JPEG-LS
# frame that looks complete (`codestream.looks_complete`) goes to CharLS first, one that does not
# never goes to CharLS; where the frame's fragments are not known, frames the user waits for use
# libjpeg first and the background loader's worker processes CharLS first.
# GDCM (CPU per 512² CT frame: J2K 23 ms against pylibjpeg's 17, JPEG-LS 9 ms against CharLS's
# 6, docs/PERFORMANCE.md) is the workers' last resort: it reads some streams the others reject,
# and where it aborts on a corrupt one only a worker process dies (the loader retries that
# chunk frame by frame, so only the bad frame is lost).
INTERACTIVE_PLUGINS = ("pylibjpeg", "pyjpegls", "pillow", "pydicom")
THROUGHPUT_PLUGINS = ("pyjpegls", "pylibjpeg", "pillow", "gdcm", "pydicom")
_preferred_plugins: tuple[str, ...] = INTERACTIVE_PLUGINS
JPEG_LS_SYNTAXES = frozenset({JPEGLSLossless, JPEGLSNearLossless})


def prefer_throughput() -> None:
    """Process-wide: try the fastest plugins first (for decoder worker processes only)."""
    global _preferred_plugins
    _preferred_plugins = THROUGHPUT_PLUGINS


_NATIVE_DTYPES = {
    (8, 0): "<u1",
    (8, 1): "<i1",
    (16, 0): "<u2",
    (16, 1): "<i2",
    (32, 0): "<u4",
    (32, 1): "<i4",
}


def is_colour(info) -> bool:
    """Whether a series decodes to RGB: three samples per pixel, or a palette."""
    fmt = info.pixel_format
    if info.photometric == "PALETTE COLOR":
        return True
    if fmt is not None:
        return fmt.samples_per_pixel == 3
    return info.photometric not in ("MONOCHROME1", "MONOCHROME2")


def raw_dtype(fmt: PixelFormat) -> np.dtype | None:
    """The numpy dtype of a native frame we can read directly, else None (use pydicom)."""
    if fmt.encapsulated or not fmt.little_endian or fmt.float_pixels:
        return None
    if fmt.samples_per_pixel != 1 or fmt.photometric == "PALETTE COLOR":
        return None
    name = _NATIVE_DTYPES.get((fmt.bits_allocated, fmt.pixel_representation))
    return np.dtype(name) if name else None


def stored_dtype(fmt: PixelFormat) -> np.dtype:
    """What pydicom returns for this format, native byte order."""
    if fmt.float_pixels:
        return np.dtype(np.float32 if fmt.bits_allocated == 32 else np.float64)
    bits = max(8, fmt.bits_allocated)
    return np.dtype(f"{'i' if fmt.pixel_representation else 'u'}{bits // 8}")


def frame_offset(ref, fmt: PixelFormat, rows: int, columns: int) -> int | None:
    if ref.pixel_offset is None:
        return None
    return ref.pixel_offset + ref.frame_index * expected_pixel_bytes(fmt, rows, columns, 1)


def read_raw_into(fp, ref, fmt: PixelFormat, out: np.ndarray) -> bool:
    """Read a native frame from an open file straight into `out`; False if the layout moved."""
    offset = frame_offset(ref, fmt, out.shape[0], out.shape[1])
    if offset is None or ref.pixel_offset < 12:
        return False
    fp.seek(ref.pixel_offset - 12)
    head = fp.read(12)
    if len(head) != 12 or struct.unpack("<L", head[8:])[0] != ref.pixel_length:
        return False
    if _PIXEL_TAG_LE not in (head[:4], head[4:8]):
        return False
    fp.seek(offset)
    if fp.readinto(memoryview(out).cast("B")) != out.nbytes:  # type: ignore[arg-type]
        return False
    keep_stored_bits(out, fmt)
    return True


def keep_stored_bits(values: np.ndarray, fmt: PixelFormat) -> None:
    """Bits Stored < Bits Allocated: the value is the stored bits only, as pydicom reads it (in
    place): signed data get the unused high bits filled with the sign, unsigned data cleared."""
    if not 0 < fmt.bits_stored < fmt.bits_allocated:
        return
    if fmt.pixel_representation == 1:
        shift = fmt.bits_allocated - fmt.bits_stored
        np.left_shift(values, shift, out=values)
        np.right_shift(values, shift, out=values)
    else:
        np.bitwise_and(values, (1 << fmt.bits_stored) - 1, out=values, casting="unsafe")


def read_raw_frame(ref, fmt: PixelFormat, rows: int, columns: int) -> np.ndarray | None:
    dtype = raw_dtype(fmt)
    if dtype is None:
        return None
    out = np.empty((rows, columns), dtype)
    with open(ref.path, "rb") as fp:
        return out if read_raw_into(fp, ref, fmt, out) else None


def decode_with_pydicom(
    path: str,
    frame_index: int,
    header: Dataset | None = None,
    syntax: str = "",
    frame_bytes=0,
    complete: bool | None = None,
    deflated: DeflatedFiles | None = None,
) -> np.ndarray:
    """One frame via pydicom's decoders: stored values, or RGB uint8 for colour images.

    `frame_bytes` (a native frame's size) is needed for deflated files only, which are inflated
    up to the frame asked for rather than whole; with `deflated` (the series' open files) the
    inflater goes on from where the last frame left it. `complete`: see `plugin_order`.
    """
    if syntax == DeflatedExplicitVRLittleEndian and deflated is not None:
        ds = deflated.frame(path, frame_index, frame_bytes)
        return _decoded(_decode_with_plugins(_frame_of(ds, 0), ""), header)
    if syntax == DeflatedExplicitVRLittleEndian:
        return next(decode_deflated(path, [frame_index], frame_bytes, header))[1]
    return _decoded(_decode_with_plugins(_frame_of(path, frame_index), syntax, complete), header)


def decode_deflated(path: str, frame_indices, frame_bytes: int, header: Dataset | None = None):
    """(index, values) for frames of a deflated file, in one forward pass over the stream."""
    for index, ds in frame_datasets(path, frame_indices, frame_bytes):
        yield index, _decoded(_decode_with_plugins(_frame_of(ds, 0), ""), header)


def _decoded(values: np.ndarray, header: Dataset | None) -> np.ndarray:
    photometric = str(header.get("PhotometricInterpretation", "") if header else "").upper()
    if photometric == "PALETTE COLOR" and header is not None:
        return to_uint8(apply_color_lut(values, header))
    if values.ndim == 3:
        return to_uint8(values)
    return values.astype(values.dtype.newbyteorder("="), copy=False)


def plugin_order(syntax: str, complete: bool | None = None) -> list[str]:
    """Decoder plugins to try; in this process GDCM only when nothing else can decode this
    syntax, in decoder worker processes (`prefer_throughput`) as the last resort.

    GDCM aborts the whole process (an uncaught C++ exception) on some corrupt JPEG streams,
    found by scripts/fuzz_reader.py; the pylibjpeg family and Pillow raise instead. `complete`
    (whether the codestream looks complete; None: not known) puts CharLS first for JPEG-LS,
    or leaves it out (see the comment on INTERACTIVE_PLUGINS).
    """
    if not syntax or not UID(syntax).is_encapsulated:
        return [""]  # native data: pydicom's own decoder
    try:
        available = list(get_decoder(UID(syntax)).available_plugins)
    except (NotImplementedError, ValueError):
        return [""]
    safe = [p for p in _preferred_plugins if p in available]
    if complete is not None and syntax in JPEG_LS_SYNTAXES:
        charls = ["pyjpegls"] if complete and "pyjpegls" in safe else []
        safe = charls + [p for p in safe if p != "pyjpegls"]
    return safe or available or [""]


def _decode_with_plugins(decode, syntax: str, complete: bool | None = None) -> np.ndarray:
    """`decode(plugin)` with each plugin of `plugin_order` in turn until one succeeds."""
    errors = []
    for plugin in plugin_order(syntax, complete):
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                return decode(plugin)
        except (KeyboardInterrupt, SystemExit):
            raise
        except BaseException as exc:  # noqa: BLE001 - try the next plugin, report all
            errors.append(f"{plugin or 'pydicom'}: {short_error(exc)}")
    raise RuntimeError("no decoder could read this frame (" + "; ".join(errors) + ")")


def _frame_of(source, frame_index: int):
    return lambda plugin: pixel_array(source, index=frame_index, decoding_plugin=plugin)


def to_uint8(rgb: np.ndarray) -> np.ndarray:
    """Scale colour samples of any bit depth to uint8."""
    if rgb.dtype == np.uint8:
        return rgb
    top = float(rgb.max()) if rgb.size else 0.0
    bits = 8 if top < 256 else 16 if top < 65536 else 32
    return (rgb.astype(np.float64) * (255.0 / (2**bits - 1))).round().astype(np.uint8)


def read_stored_frame(
    ref,
    fmt: PixelFormat | None,
    rows: int,
    columns: int,
    header=None,
    raw: bool = True,
    deflated: DeflatedFiles | None = None,
) -> np.ndarray:
    """Stored values of one frame; DicomReadError names the file and the reason.

    `raw=False` skips the direct-read attempt (the caller already tried it); `deflated`: the
    series' open deflated files, used for frames of multi-frame ones.
    """
    if is_picture_format(fmt):  # a JPEG/PNG secondary image
        return read_picture(ref.path)
    try:
        values = read_raw_frame(ref, fmt, rows, columns) if fmt and raw else None
        if values is None:
            stream = check_codestream(ref, rows, columns)
            if stream.items and header is None and fmt and is_plain_grey(fmt):
                values = decode_items(stream.items, fmt, rows, columns, stream.complete)
            else:
                syntax = fmt.transfer_syntax if fmt else ""
                frame_bytes = expected_pixel_bytes(fmt, rows, columns, 1) if fmt else 0
                opened = deflated if getattr(ref, "number_of_frames", 1) > 1 else None
                values = decode_with_pydicom(
                    ref.path, ref.frame_index, header, syntax, frame_bytes, stream.complete, opened
                )
    except DicomReadError:
        raise
    except (KeyboardInterrupt, SystemExit):
        raise
    except BaseException as exc:  # noqa: BLE001 - plugins raise anything, Rust panics included
        raise DicomReadError(
            display_path(ref.path), f"frame {ref.frame_index + 1}: {short_error(exc)}"
        ) from None
    return checked_shape(values, ref, rows, columns)


def checked_shape(values: np.ndarray, ref, rows: int, columns: int) -> np.ndarray:
    if values.shape[:2] != (rows, columns):
        raise DicomReadError(
            display_path(ref.path),
            f"decoded frame is {values.shape[1]}×{values.shape[0]}, header says {columns}×{rows}",
        )
    return values


@dataclass(frozen=True)
class Codestream:
    """A compressed frame as `check_codestream` found it."""

    items: bytes  # its encapsulated items (`codestream.frame_items`); b'' when not found
    complete: bool | None  # `codestream.looks_complete`; None where its fragments are not known


def check_codestream(ref, rows: int, columns: int) -> Codestream:
    """Refuse a compressed frame whose own header declares another size (before a decoder
    allocates what it declares); else the frame's items and whether it looks complete."""
    offset = getattr(ref, "fragment_offset", None)
    if offset is None:
        return Codestream(b"", None)
    with open(ref.path, "rb") as fp:
        items = frame_items(fp, offset, getattr(ref, "number_of_frames", 1) == 1)
        head = items[8 : 8 + HEAD_BYTES]
        if not items:
            fp.seek(offset)
            head = fp.read(HEAD_BYTES)
    reason = size_mismatch(head, rows, columns)
    if reason:
        raise DicomReadError(display_path(ref.path), f"frame {ref.frame_index + 1}: {reason}")
    return Codestream(items, looks_complete(head, items, rows, columns))


def decode_items(items: bytes, fmt: PixelFormat, rows: int, columns: int, complete) -> np.ndarray:
    """One grey frame from its encapsulated items, through the same pydicom decoder and
    plugins as `pixel_array` but without parsing the file's header again (the scan did)."""
    syntax = UID(fmt.transfer_syntax)
    options: dict[str, Any] = {
        "rows": rows,
        "columns": columns,
        "samples_per_pixel": 1,
        "bits_allocated": fmt.bits_allocated,
        "bits_stored": fmt.bits_stored,
        "pixel_representation": fmt.pixel_representation,
        "photometric_interpretation": fmt.photometric,
        "number_of_frames": 1,
        "transfer_syntax_uid": syntax,
    }
    source = _EMPTY_OFFSET_TABLE + items

    def decode(plugin: str) -> np.ndarray:
        return get_decoder(syntax).as_array(source, index=0, decoding_plugin=plugin, **options)[0]

    return _decoded(_decode_with_plugins(decode, syntax, complete), None)


def is_plain_grey(fmt: PixelFormat | None) -> bool:
    """Encapsulated one-sample grey data: decodable from its items alone (`decode_items`)."""
    return bool(
        fmt
        and fmt.encapsulated
        and fmt.samples_per_pixel == 1
        and fmt.photometric in ("MONOCHROME1", "MONOCHROME2")
        and fmt.transfer_syntax != DeflatedExplicitVRLittleEndian
    )


def needs_float(rescales, has_lut_sequence: bool = False) -> bool:
    """True when any frame's rescale is not the identity (modality values are not stored ones)."""
    return has_lut_sequence or any(r != (1.0, 0.0) for r in rescales)


INT16 = np.dtype(np.int16)
FLOAT32 = np.dtype(np.float32)


def modality_dtype(info) -> np.dtype | None:
    """The dtype a series' modality values are kept in (frames and volume alike).

    None: the stored dtype (every rescale is the identity). int16 when every frame's rescale
    has an integral slope and intercept that map every value Bits Stored allows into int16 (CT
    in HU: exact, half the bytes of float32). float32 otherwise (a Modality LUT Sequence, a
    fractional rescale, float pixels, or a range int16 cannot hold).
    """
    rescales = {f.rescale for f in info.frames}
    if not needs_float(rescales, info.has_modality_lut_sequence):
        return None
    fmt = info.pixel_format
    if info.has_modality_lut_sequence or fmt is None or fmt.float_pixels or is_colour(info):
        return FLOAT32
    low, high = storable_range(fmt)
    limits = np.iinfo(np.int16)
    for slope, intercept in rescales:
        if not (float(slope).is_integer() and float(intercept).is_integer()):
            return FLOAT32
        ends = (slope * low + intercept, slope * high + intercept)
        if min(ends) < limits.min or max(ends) > limits.max:
            return FLOAT32
    return INT16


def storable_range(fmt: PixelFormat) -> tuple[int, int]:
    """The smallest and largest stored value Bits Stored and Pixel Representation allow."""
    bits = min(max(1, int(fmt.bits_stored or fmt.bits_allocated)), max(8, fmt.bits_allocated))
    if fmt.pixel_representation:
        return -(2 ** (bits - 1)), 2 ** (bits - 1) - 1
    return 0, 2**bits - 1


def to_modality(
    stored: np.ndarray, rescale: tuple[float, float], target, header: Dataset | None = None
) -> np.ndarray:
    """Modality values in `target` (see `modality_dtype`; None keeps the stored values).

    The int16 path is exact for every value Bits Stored allows; a decoder's value outside that
    range is clipped to int16 rather than wrapped. RGB comes back unchanged.
    """
    if stored.ndim == 3:
        return stored
    if header is not None and "ModalityLUTSequence" in header:
        return apply_modality_lut(stored, header).astype(np.float32)
    if target is None:
        return stored
    slope, intercept = rescale
    if np.dtype(target) == INT16:
        return _integral_rescale(stored, int(slope), int(intercept))
    result = stored.astype(np.float32)
    if slope != 1.0:
        result *= np.float32(slope)
    if intercept != 0.0:
        result += np.float32(intercept)
    return result


def rescale_into(stored: np.ndarray, rescale: tuple[float, float], out: np.ndarray) -> None:
    """The int16 rescale of `modality_dtype`, written into `out` in one pass per term.

    For values Bits Stored allows (`keep_stored_bits`) it is exact in int16 arithmetic: the
    true result fits int16, and two's-complement wrap-around cannot change a result that fits.
    """
    slope, intercept = (int(v) for v in rescale)
    if slope == 1:
        np.add(stored, intercept, out=out, dtype=np.int16, casting="unsafe")
        return
    np.multiply(stored, slope, out=out, dtype=np.int16, casting="unsafe")
    if intercept:
        np.add(out, intercept, out=out, dtype=np.int16, casting="unsafe")


def _integral_rescale(stored: np.ndarray, slope: int, intercept: int) -> np.ndarray:
    limits = np.iinfo(np.int16)
    if stored.size and stored.dtype.kind in "iu":
        ends = (slope * int(stored.min()) + intercept, slope * int(stored.max()) + intercept)
        if limits.min <= min(ends) and max(ends) <= limits.max:  # exact in int16 (rescale_into)
            result16 = np.empty(stored.shape, np.int16)
            rescale_into(stored, (slope, intercept), result16)
            return result16
    result = stored.astype(np.int32)
    if slope != 1:
        result *= slope
    if intercept:
        result += intercept
    return np.clip(result, limits.min, limits.max, out=result).astype(np.int16)
