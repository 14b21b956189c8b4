"""`Series`: lazy access to one stack's frames, modality values, geometry and VOI.

Frames decode one at a time on first use and are kept in a small LRU cache; `load_all`
(or `viewer.core.loader.load_volume` from a background thread) reads every frame into one
volume, after which frames are served from it. The modality LUT is applied at load; VOI and
MONOCHROME1 inversion are left to render time.
"""

from __future__ import annotations

import functools
import threading
import warnings
from collections import OrderedDict

import numpy as np
from pydicom.dataset import Dataset
from pydicom.uid import DeflatedExplicitVRLittleEndian

from viewer.core.decode import is_colour, modality_dtype, read_stored_frame, to_modality
from viewer.core.deflated import DeflatedFiles
from viewer.core.discovery import display_path
from viewer.core.errors import DicomReadError, RadLensError
from viewer.core.geometry import FrameGeometry
from viewer.core.index import SeriesInfo
from viewer.core.pictures import is_picture_format, picture_header
from viewer.core.scan import (
    as_list,
    float_or_none,
    float_tuple,
    functional_item,
    read_header_dataset,
    short_error,
)
from viewer.core.scratch import session_dir
from viewer.core.voi import (
    VoiLut,
    Window,
    full_range_window,
    voi_luts_from_dataset,
    windows_from_dataset,
)

FRAME_CACHE_BYTES = 256 * 1024**2
HEADER_CACHE_FILES = 1024


def _reported(method):
    """Header values are parsed lazily: turn any failure into DicomReadError naming the file."""

    @functools.wraps(method)
    def wrapper(self, i: int, *args, **kwargs):
        try:
            return method(self, i, *args, **kwargs)
        except (RadLensError, IndexError, KeyboardInterrupt, SystemExit):
            raise
        except BaseException as exc:  # noqa: BLE001 - corrupt headers raise anything
            path = display_path(self.info.frames[i].path)
            raise DicomReadError(path, short_error(exc)) from None

    return wrapper


class Series:
    """One stack of frames; see docs/ARCHITECTURE.md for the contract."""

    def __init__(self, info: SeriesInfo) -> None:
        if not info.frames:
            raise DicomReadError(info.key, "series has no frames")
        self.info = info
        self.photometric = info.photometric
        self._modality = modality_dtype(info)
        self._headers: OrderedDict[str, Dataset] = OrderedDict()
        self._frames: OrderedDict[int, np.ndarray] = OrderedDict()
        self._cached_bytes = 0
        self._volume: np.ndarray | None = None
        self._volume_is_stored = False  # the volume holds the stored values too (see stored_frame)
        self._lock = threading.RLock()
        self._deflated = (
            DeflatedFiles(session_dir)
            if info.transfer_syntax == DeflatedExplicitVRLittleEndian
            else None
        )
        self.is_color = is_colour(info)
        self.pixel_padding = self._pixel_padding()

    def __len__(self) -> int:
        return len(self.info.frames)

    def __repr__(self) -> str:
        return f"Series({self.info.key!r}, {len(self)} frames, {self.info.modality})"

    def close(self) -> None:
        """Release the open files (a deflated multi-frame file's handle and scratch file);
        idempotent. What is decoded stays; a frame read later opens its file again."""
        if self._deflated is not None:
            self._deflated.close()

    def __enter__(self) -> Series:
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    # --- pixels -------------------------------------------------------------------------
    @_reported
    def modality_frame(self, i: int) -> np.ndarray:
        """Modality values of frame i (read-only array)."""
        ref = self.info.frames[self._check(i)]
        if self._volume is not None:
            return self._volume[i]
        with self._lock:
            if i in self._frames:
                self._frames.move_to_end(i)
                return self._frames[i]
        stored, header = self._read_stored(i, ref)
        values = to_modality(stored, ref.rescale, self._modality, header)
        values.flags.writeable = False
        self._remember(i, values)
        return values

    def frame_ready(self, i: int) -> bool:
        """Whether `modality_frame(i)` returns without decoding compressed data: the frame is
        in the volume or the frame cache, or it is stored uncompressed (one read; a deflated
        frame has to be inflated)."""
        with self._lock:
            if self._volume is not None or i in self._frames:
                return True
        fmt = self.info.pixel_format
        return fmt is not None and not fmt.encapsulated and self._deflated is None

    @_reported
    def stored_frame(self, i: int) -> np.ndarray:
        """Stored values of frame i, before the modality LUT (for export and tests).

        From the volume when its values are the stored ones (every rescale the identity, no
        frame skipped); else read again (a deflated file inflated again up to the frame).
        """
        ref = self.info.frames[self._check(i)]
        if self._volume_is_stored and self._volume is not None:
            return self._volume[i]
        return self._read_stored(i, ref)[0]

    def _read_stored(self, i: int, ref):
        """(stored values of frame i, `ref`, read from its file; the header they needed or None)."""
        header = self.header(i) if self._needs_header_for_pixels() else None
        stored = read_stored_frame(
            ref,
            self.info.pixel_format,
            self.info.rows,
            self.info.columns,
            header,
            deflated=self._deflated,
        )
        return stored, header

    def load_all(self, progress=None, cancel=None, workers=None):
        """Decode every frame into one volume (call from a background thread).

        Returns one SkippedFile per file with frames that could not be decoded; those slots stay
        zero-filled so frame indices keep matching `info.frames`.
        """
        from viewer.core.loader import load_volume

        volume = self._volume_from_cache()
        if volume is not None:  # e.g. a single radiograph already decoded for its first image
            skipped = []
            if progress:
                progress(len(self), len(self))
        else:
            volume, skipped = load_volume(self.info, progress, cancel, workers)
        volume.flags.writeable = False
        with self._lock:
            self._volume = volume
            self._volume_is_stored = self._modality is None and not skipped
            self._frames.clear()
            self._cached_bytes = 0
        self.close()  # frames come from the volume now: free a deflated file's scratch
        return skipped

    def _volume_from_cache(self) -> np.ndarray | None:
        """The volume, when every frame is already decoded in the frame cache (no second
        decode of what the first image needed), else None."""
        with self._lock:
            if len(self._frames) != len(self):
                return None
            return np.stack([self._frames[i] for i in range(len(self))])

    @property
    def volume(self) -> np.ndarray | None:
        """The whole-series volume once `load_all` has run, else None."""
        return self._volume

    # --- headers and geometry -----------------------------------------------------------
    def header(self, i: int) -> Dataset:
        """The header of frame i's file (everything before Pixel Data)."""
        path = self.info.frames[self._check(i)].path
        if is_picture_format(self.info.pixel_format):  # a JPEG/PNG: no DICOM header to read
            return picture_header(self.info)
        with self._lock:
            if path in self._headers:
                self._headers.move_to_end(path)
                return self._headers[path]
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                ds = read_header_dataset(path)
        except Exception as exc:  # noqa: BLE001 - file changed or vanished since the scan
            raise DicomReadError(display_path(path), short_error(exc)) from None
        with self._lock:
            self._headers[path] = ds
            if len(self._headers) > HEADER_CACHE_FILES:
                self._headers.popitem(last=False)
        return ds

    @_reported
    def geometry(self, i: int) -> FrameGeometry:
        ref = self.info.frames[self._check(i)]
        ds = self.header(i)
        measures = functional_item(ds, ref.frame_index, "PixelMeasuresSequence") or ds
        spacing, source = pixel_spacing(measures, ds)
        orientation = ref.orientation
        return FrameGeometry(
            rows=self.info.rows,
            columns=self.info.columns,
            spacing=spacing,
            origin=ref.position,
            row_cosine=tuple(orientation[:3]) if orientation else None,
            column_cosine=tuple(orientation[3:]) if orientation else None,
            slice_thickness=float_or_none(measures.get("SliceThickness")),
            spacing_source=source,
            patient_orientation=patient_orientation(ds),
        )

    # --- VOI ----------------------------------------------------------------------------
    @_reported
    def windows(self, i: int) -> list[Window]:
        """The file's own usable windows for frame i (Frame VOI LUT group, else top level)."""
        ds = self.header(self._check(i))
        return windows_from_dataset(self._frame_voi_item(ds, i) or ds)

    @_reported
    def voi_lut(self, i: int) -> VoiLut | None:
        """The first VOI LUT Sequence table of frame i (Frame VOI LUT group, else top level)."""
        ds = self.header(self._check(i))
        for source in (self._frame_voi_item(ds, i), ds):
            luts = voi_luts_from_dataset(source, header=ds) if source is not None else []
            if luts:
                return luts[0]
        return None

    @_reported
    def default_window(self, i: int, values: np.ndarray | None = None) -> Window:
        """The file's first usable window, else the full range of modality values (padding out).

        What a frame without a VOI LUT opens with (`viewer.core.render.initial_voi`). `values`
        are frame i's modality values when the caller already holds them.
        """
        own = self.windows(i)
        if own:
            return own[0]
        if self.is_color:  # colour bypasses VOI; no need to decode for a nominal window
            return Window(center=127.5, width=256.0, explanation="full range")
        if values is None:
            values = self.modality_frame(i)
        return full_range_window(values, self.pixel_padding)

    def keep_frame(self, i: int, values: np.ndarray) -> np.ndarray:
        """Cache frame i's modality values decoded elsewhere (a worker process:
        `viewer.core.preview.frame_for_display`); returns them, read-only."""
        self._check(i)
        values.flags.writeable = False
        self._remember(i, values)
        return values

    def adopt_frames(self, other: Series) -> int:
        """Take the decoded frames of `other` (e.g. the one-file preview of a folder) that are
        frames of this series too, so they are not decoded again; returns how many.

        Only when both keep modality values alike (same dtype rule and pixel format).
        """
        if self._modality != other._modality or self.info.pixel_format != other.info.pixel_format:
            return 0
        slots = {(f.path, f.frame_index): i for i, f in enumerate(self.info.frames)}
        with other._lock:
            decoded = [(other.info.frames[j], values) for j, values in other._frames.items()]
        taken = 0
        for ref, values in decoded:
            i = slots.get((ref.path, ref.frame_index))
            if i is not None and values.shape[:2] == (self.info.rows, self.info.columns):
                self._remember(i, values)
                taken += 1
        return taken

    # --- internals ----------------------------------------------------------------------
    def _check(self, i: int) -> int:
        if not 0 <= i < len(self.info.frames):
            raise IndexError(f"frame {i} out of range 0..{len(self.info.frames) - 1}")
        return i

    def _needs_header_for_pixels(self) -> bool:
        return self.photometric == "PALETTE COLOR" or self.info.has_modality_lut_sequence

    def _remember(self, i: int, values: np.ndarray) -> None:
        with self._lock:
            self._frames[i] = values
            self._cached_bytes += values.nbytes
            while self._cached_bytes > FRAME_CACHE_BYTES and len(self._frames) > 1:
                _, old = self._frames.popitem(last=False)
                self._cached_bytes -= old.nbytes

    def _frame_voi_item(self, ds: Dataset, i: int) -> Dataset | None:
        return functional_item(ds, self.info.frames[i].frame_index, "FrameVOILUTSequence")

    def _signed(self) -> bool:
        fmt = self.info.pixel_format
        return bool(fmt and fmt.pixel_representation)

    def _pixel_padding(self) -> tuple[float, float] | None:
        """PixelPaddingValue (and RangeLimit) mapped to modality units, low ≤ high."""
        if self.is_color:
            return None
        try:
            ds = self.header(0)
            value = padding_number(ds.get("PixelPaddingValue"), self._signed())
            limit = padding_number(ds.get("PixelPaddingRangeLimit"), self._signed())
        except Exception:  # noqa: BLE001 - an unreadable padding value means no padding
            return None
        if value is None:
            return None
        slope, intercept = self.info.frames[0].rescale
        ends = [v * slope + intercept for v in (value, value if limit is None else limit)]
        return (min(ends), max(ends))


def open_series(info: SeriesInfo) -> Series:
    """A lazy Series for one stack of the index; reads one header, no pixels."""
    return Series(info)


def pixel_spacing(measures: Dataset, ds: Dataset) -> tuple[tuple[float, float] | None, str]:
    """PixelSpacing, else ImagerPixelSpacing (projection radiographs), in mm."""
    for source, keyword in (
        (measures, "PixelSpacing"),
        (ds, "PixelSpacing"),
        (ds, "ImagerPixelSpacing"),
    ):
        spacing = float_tuple(source.get(keyword), 2)
        if spacing and all(s > 0 for s in spacing):
            return (spacing[0], spacing[1]), keyword
    return None, ""


def patient_orientation(ds: Dataset) -> tuple[str, str] | None:
    values = [str(v) for v in as_list(ds.get("PatientOrientation"))]
    return (values[0], values[1]) if len(values) == 2 else None


def padding_number(value, signed: bool) -> int | None:
    if value is None:
        return None
    if isinstance(value, bytes):
        if len(value) != 2:
            return None
        return int.from_bytes(value, "little", signed=signed)
    try:
        return int(value)
    except (TypeError, ValueError):
        return None
