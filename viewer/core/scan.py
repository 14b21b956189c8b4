"""Header-only scan of one file: `scan_file(path) -> list[HeaderRecord] | SkippedFile`.

No pixel data is read. The file is parsed with `stop_before_pixels=True` on our own file
object, which pydicom leaves positioned on the Pixel Data element; a 12-byte peek there tells
whether pixels are present and, for native (uncompressed) syntaxes, where they start and how
long they are. The loader later reads uncompressed frames straight from that offset.
Segmentations, structured reports and other non-image objects come back as a `StudyObject`
(see `study_objects.py`), never as images or as "no pixel data".

What a header declares is checked before anything is decoded: the decoded size against
`RADLENS_MAX_IMAGE_GB` ("too large (N GB)"), native lengths against the file, and for
encapsulated data the 8-byte item headers (a complete fragment per frame) and the first
fragment's codestream header (its declared size). Deflated files are inflated only up to Pixel
Data (`viewer/core/deflated.py`).
"""

from __future__ import annotations

import functools
import os
import struct
import warnings
import zlib
from dataclasses import dataclass, field, replace

import pydicom
from pydicom.datadict import dictionary_VR, tag_for_keyword
from pydicom.dataelem import RawDataElement
from pydicom.dataset import Dataset
from pydicom.errors import InvalidDicomError
from pydicom.uid import (
    UID,
    ExplicitVRLittleEndian,
    ImplicitVRLittleEndian,
    RLELossless,
)

from viewer.core.codestream import HEAD_BYTES, size_mismatch
from viewer.core.deflated import (
    InflateLimitError,
    is_deflated,
    read_deflated_header,
    read_file_meta,
)
from viewer.core.overlay_planes import has_overlays
from viewer.core.study_objects import StudyObject, study_object
from viewer.core.values import float_or_none, int_or_none

PIXEL_TAGS = {
    0x7FE00010: "PixelData",
    0x7FE00008: "FloatPixelData",
    0x7FE00009: "DoubleFloatPixelData",
}
UNDEFINED_LENGTH = 0xFFFFFFFF
PER_FRAME_GROUPS, SHARED_GROUPS = 0x52009230, 0x52009229
# CVE-2019-11687: a DICOM preamble may hold a Windows PE or ELF header, making the file
# both a valid DICOM and an executable. We refuse such files.
EXECUTABLE_MAGIC = {b"MZ": "Windows PE (MZ)", b"\x7fELF": "ELF"}


@dataclass(frozen=True)
class SkippedFile:
    """A file that was not opened, with a human-readable reason (never patient data)."""

    path: str
    reason: str


@dataclass(frozen=True)
class PixelFormat:
    """How the stored pixels are laid out; equal formats can share one volume dtype."""

    bits_allocated: int
    bits_stored: int
    pixel_representation: int
    samples_per_pixel: int
    photometric: str
    transfer_syntax: str
    little_endian: bool
    encapsulated: bool
    float_pixels: bool = False


@dataclass(frozen=True)
class HeaderRecord:
    """What the header scan knows about one frame (a single-frame file gives one record)."""

    path: str
    frame_index: int
    number_of_frames: int
    sop_instance_uid: str
    sop_class_uid: str
    instance_number: int | None
    position: tuple[float, ...] | None  # three values (x, y, z) in mm
    orientation: tuple[float, ...] | None
    rows: int
    columns: int
    pixel_format: PixelFormat
    modality: str
    patient: tuple[str, ...]  # name, id, birth date, sex, age
    study: tuple[str, ...]  # uid, date, time, description, accession, referring, institution
    series_instance_uid: str
    series_number: int | None
    series_description: str
    acquisition_number: int | None = None
    has_overlay_planes: bool = False  # groups 60xx: graphics drawn over the image
    image_type: tuple[str, ...] = ()
    stack_id: str | None = None
    rescale: tuple[float, float] = (1.0, 0.0)
    has_modality_lut_sequence: bool = False
    pixel_offset: int | None = None  # file offset of the PixelData value (native syntaxes)
    pixel_length: int | None = None
    notes: tuple[str, ...] = field(default=())
    frame_of_reference_uid: str = ""
    slice_thickness: float | None = None
    echo_number: int | None = None
    fragment_offset: int | None = None  # file offset of this frame's first fragment (encapsulated)

    @property
    def is_localizer(self) -> bool:
        return "LOCALIZER" in self.image_type


def scan_file(path: str | os.PathLike) -> list[HeaderRecord] | SkippedFile | StudyObject:
    """Scan one file's header; every failure becomes a SkippedFile with its reason."""
    path = str(path)
    try:
        with warnings.catch_warnings():  # pydicom warns on odd values; the record says enough
            warnings.simplefilter("ignore")
            return _scan(path)
    except _Skip as skip:
        return SkippedFile(path, str(skip))
    except (KeyboardInterrupt, SystemExit):
        raise
    except BaseException as exc:  # noqa: BLE001 - any parser failure is a reason to skip
        return SkippedFile(path, f"not readable as DICOM ({short_error(exc)})")


def short_error(exc: BaseException) -> str:
    """`Type: message` on one line, bounded so a corrupt file cannot flood the report."""
    lines = [line.strip() for line in str(exc).splitlines() if line.strip()]
    text = "; ".join(lines)
    if len(text) > 300:
        text = text[:297] + "..."
    return f"{type(exc).__name__}: {text}" if text else type(exc).__name__


class _Skip(Exception):
    """Internal: a file rejected for a stated reason."""


def _scan(path: str) -> list[HeaderRecord] | StudyObject:
    size = os.path.getsize(path)
    if size == 0:
        raise _Skip("empty file (0 bytes)")
    with open(path, "rb") as fp:
        check_preamble(fp.read(132))
        ds, pixel_peek = _read_header(fp)
        found = study_object(path, ds, patient_fields(ds), study_fields(ds))
        if found is not None:
            return found
        fragments = walk_fragments(fp, pixel_peek, size)
    return records_from_header(path, ds, pixel_peek, size, fragments)


def read_header_dataset(path: str) -> Dataset:
    """Everything before Pixel Data, read in bounded memory (deflated files included)."""
    with open(path, "rb") as fp:
        return _read_header(fp)[0]


def check_preamble(head: bytes) -> None:
    """Refuse a DICOM whose 128-byte preamble starts like an executable (polyglot file)."""
    for magic, kind in EXECUTABLE_MAGIC.items():
        if head.startswith(magic):
            raise _Skip(
                f"preamble holds an executable header ({kind}): possible DICOM/executable "
                "polyglot (CVE-2019-11687); refused"
            )


def _read_header(fp) -> tuple[Dataset, tuple[int, int, int] | None]:
    """Parse up to Pixel Data; return the dataset and (tag, value offset, length) if present.

    The offset is -1 for deflated files (it is an offset into the inflated stream).
    """
    meta = read_file_meta(fp)
    if is_deflated(meta):
        return _read_deflated_header(fp, meta)
    fp.seek(0)
    try:
        ds: Dataset = pydicom.dcmread(fp, stop_before_pixels=True)
    except InvalidDicomError:
        ds = _read_without_preamble(fp)
    return ds, peek_pixel_element(fp, ds)


def _read_deflated_header(fp, meta) -> tuple[Dataset, tuple[int, int, int] | None]:
    try:
        ds, reader = read_deflated_header(fp, meta)
        peek = peek_pixel_element(reader, ds)
    except InflateLimitError as exc:
        raise _Skip(f"too large (header {exc}); refused") from None
    except zlib.error as exc:
        raise _Skip(f"deflated data corrupt ({short_error(exc)})") from None
    return ds, None if peek is None else (peek[0], -1, peek[2])


def _read_without_preamble(fp) -> Dataset:
    """Old files without preamble/meta: accept only if they start with a group 0008 element."""
    fp.seek(0)
    if fp.read(2) != b"\x08\x00":
        raise _Skip("not a DICOM file (no 'DICM' marker after the preamble)")
    fp.seek(0)
    ds = pydicom.dcmread(fp, stop_before_pixels=True, force=True)
    implicit, little = ds.original_encoding
    if not little or "SOPClassUID" not in ds:
        raise _Skip("not a DICOM file (no 'DICM' marker after the preamble)")
    ds.file_meta.TransferSyntaxUID = ImplicitVRLittleEndian if implicit else ExplicitVRLittleEndian
    return ds


def peek_pixel_element(fp, ds: Dataset) -> tuple[int, int, int] | None:
    """Read the element header at the file position pydicom stopped on."""
    implicit, little = ds.original_encoding
    start = fp.tell()
    head = fp.read(12)
    if len(head) < 8:
        if head:
            raise _Skip("file truncated inside the header (ends within an element header)")
        return None
    order = "<" if little else ">"
    group, elem = struct.unpack(order + "HH", head[:4])
    tag = group << 16 | elem
    if tag not in PIXEL_TAGS:
        return None
    if implicit:
        (length,) = struct.unpack(order + "L", head[4:8])
        return tag, start + 8, length
    if len(head) < 12:
        raise _Skip("file truncated inside the Pixel Data element header")
    (length,) = struct.unpack(order + "L", head[8:12])
    return tag, start + 12, length


def missing_pixels_reason(ds: Dataset) -> str:
    """Why there is nothing to show: cut inside the header, cut after it, or no image at all."""
    kind = ds.get("SOPClassUID", UID("")).name or "unknown SOP class"
    cut = truncated_element(ds)
    if cut:
        return f"file truncated inside the header (in element {cut}; no pixel data)"
    if "Rows" in ds and "BitsAllocated" in ds:
        return f"no pixel data: the file ends after an image header (truncated?) ({kind})"
    return f"no pixel data ({kind})"


def truncated_element(ds: Dataset) -> str:
    """The last element's tag when its value is shorter than its length (the file was cut)."""
    if not len(ds):
        return ""
    tag = max(ds.keys())
    elem = ds.get_item(tag)
    length = getattr(elem, "length", UNDEFINED_LENGTH)
    value = getattr(elem, "value", None)
    if isinstance(value, bytes) and length != UNDEFINED_LENGTH and len(value) < length:
        return f"({tag >> 16:04X},{tag & 0xFFFF:04X})"
    return ""


@dataclass(frozen=True)
class Fragments:
    """The items of encapsulated Pixel Data after the Basic Offset Table."""

    offsets: tuple[int, ...]  # file offsets of the complete fragments' values
    truncated: bool  # the file ends inside an item
    damaged: bool = False  # something other than an item where one should be
    first_head: bytes = b""  # the start of the first fragment (its codestream header)

    @property
    def count(self) -> int:
        return len(self.offsets)


_ITEM, _SEQUENCE_END = b"\xfe\xff\x00\xe0", b"\xfe\xff\xdd\xe0"


def walk_fragments(fp, peek: tuple[int, int, int] | None, file_size: int) -> Fragments | None:
    """Find the fragments of undefined-length Pixel Data (8-byte item headers, no pixels)."""
    if peek is None or peek[1] < 0 or peek[2] != UNDEFINED_LENGTH:
        return None
    position, offsets, ending = peek[1], [], {}
    while position < file_size:
        fp.seek(position)
        head = fp.read(8)
        if head[:4] == _SEQUENCE_END:
            break
        if len(head) < 8 or head[:4] != _ITEM:
            ending = {"truncated": len(head) < 8, "damaged": len(head) == 8}
            break
        position += 8 + int.from_bytes(head[4:], "little")
        if position > file_size:
            ending = {"truncated": True}
            break
        offsets.append(position - int.from_bytes(head[4:], "little"))
    fragments = offsets[1:]  # the first item is the Basic Offset Table
    first_head = b""
    if fragments:
        fp.seek(fragments[0])
        first_head = fp.read(HEAD_BYTES)
    return Fragments(
        tuple(fragments),
        truncated=ending.get("truncated", False),
        damaged=ending.get("damaged", False),
        first_head=first_head,
    )


def frame_fragment(fragments: Fragments | None, frames: int, index: int) -> int | None:
    """The file offset of frame `index`'s first fragment, where that is known: one frame, or
    one fragment per frame."""
    if fragments is None or not fragments.count or fragments.count != frames and frames > 1:
        return None
    return fragments.offsets[index]


DEFAULT_MAX_IMAGE_GB = 4.0
RLE_MAX_RATIO = 64  # RLE stores at best 128 equal bytes in 2 (PS3.5 G.3.1)
_GB = 1024**3


def max_image_bytes() -> int:
    """The most decoded pixel bytes one file may declare: RADLENS_MAX_IMAGE_GB, default 4."""
    try:
        limit = float(os.environ.get("RADLENS_MAX_IMAGE_GB", DEFAULT_MAX_IMAGE_GB))
    except ValueError:
        limit = DEFAULT_MAX_IMAGE_GB
    return int((limit if limit > 0 else DEFAULT_MAX_IMAGE_GB) * _GB)


def decoded_bytes(fmt: PixelFormat, rows: int, columns: int, frames: int) -> int:
    """What decoding every frame of a file takes (one byte per sample up to 8 bits)."""
    per_sample = max(1, fmt.bits_allocated // 8)
    return rows * columns * frames * fmt.samples_per_pixel * per_sample


def check_declared_size(fmt: PixelFormat, rows: int, columns: int, frames: int) -> None:
    """Refuse a file whose declared geometry needs more memory than the cap, before decoding."""
    need, limit = decoded_bytes(fmt, rows, columns, frames), max_image_bytes()
    if need > limit:
        raise _Skip(
            f"too large ({need / _GB:.1f} GB): {columns}×{rows} pixels × {frames} frame(s) "
            f"exceed the {limit / _GB:g} GB limit per file (RADLENS_MAX_IMAGE_GB)"
        )


def check_fragments(
    fmt: PixelFormat, rows: int, columns: int, frames: int, found: Fragments | None, room: int
) -> list[str]:
    """Encapsulated data must hold a fragment per frame (PS3.5 A.4) and, for RLE, enough bytes."""
    if found is None:
        return []
    if found.count < frames:
        held = f"the pixel data holds {found.count} complete fragment(s), one per frame at least"
        if found.truncated or found.damaged:
            cause = "truncated" if found.truncated else "damaged"
            raise _Skip(f"file {cause} inside the pixel data ({frames} frame(s) declared, {held})")
        raise _Skip(f"Number of Frames ({frames}) does not match the pixel data ({held})")
    mismatch = size_mismatch(found.first_head, rows, columns)
    if mismatch:
        raise _Skip(mismatch)
    need = decoded_bytes(fmt, rows, columns, frames)
    if fmt.transfer_syntax == RLELossless and room * RLE_MAX_RATIO < need:
        raise _Skip(
            f"RLE pixel data ({room} bytes) cannot hold {columns}×{rows} pixels × {frames} "
            "frame(s): Rows, Columns or Number of Frames are wrong"
        )
    return ["file truncated inside the pixel data (the last frame may be incomplete)"] * int(
        found.truncated
    )


def records_from_header(
    path: str,
    ds: Dataset,
    pixel_peek: tuple[int, int, int] | None,
    file_size: int,
    fragments: Fragments | None = None,
) -> list[HeaderRecord]:
    """One HeaderRecord per frame, or _Skip with the reason the file cannot be shown."""
    if pixel_peek is None:
        raise _Skip(missing_pixels_reason(ds))
    rows, columns = int(header_value(ds, "Rows") or 0), int(header_value(ds, "Columns") or 0)
    if rows <= 0 or columns <= 0:
        raise _Skip("missing or zero Rows/Columns")
    fmt = pixel_format(ds, pixel_peek[0])
    frames = number_of_frames(ds)
    check_declared_size(fmt, rows, columns, frames)
    notes = check_pixel_length(fmt, rows, columns, frames, pixel_peek, file_size)
    notes += check_fragments(fmt, rows, columns, frames, fragments, file_size - pixel_peek[1])
    offset, length = pixel_peek[1], pixel_peek[2]
    native_offset = None if fmt.encapsulated or offset < 0 else offset
    base = HeaderRecord(
        path=path,
        frame_index=0,
        number_of_frames=frames,
        sop_instance_uid=uid_or_meta(ds, "SOPInstanceUID"),
        sop_class_uid=uid_or_meta(ds, "SOPClassUID"),
        instance_number=int_or_none(header_value(ds, "InstanceNumber")),
        position=None,
        orientation=None,
        rows=rows,
        columns=columns,
        pixel_format=fmt,
        modality=str(header_value(ds, "Modality") or ""),
        patient=patient_fields(ds),
        study=study_fields(ds),
        series_instance_uid=str(header_value(ds, "SeriesInstanceUID") or ""),
        series_number=int_or_none(header_value(ds, "SeriesNumber")),
        series_description=str(header_value(ds, "SeriesDescription") or ""),
        acquisition_number=int_or_none(header_value(ds, "AcquisitionNumber")),
        has_overlay_planes=has_overlays(ds),
        image_type=tuple(str(v).upper() for v in as_list(header_value(ds, "ImageType"))),
        has_modality_lut_sequence="ModalityLUTSequence" in ds,
        pixel_offset=native_offset,
        pixel_length=None if native_offset is None else length,
        notes=tuple(notes),
        frame_of_reference_uid=str(header_value(ds, "FrameOfReferenceUID") or ""),
        echo_number=int_or_none((as_list(header_value(ds, "EchoNumbers")) or [None])[0]),
    )
    return [frame_record(base, ds, i, frame_fragment(fragments, frames, i)) for i in range(frames)]


def uid_or_meta(ds: Dataset, keyword: str) -> str:
    """SOP Class/Instance UID from the data set, else the file meta's Media Storage copy (some
    exports empty the data set's UIDs and keep the meta)."""
    value = str(header_value(ds, keyword) or "")
    meta = getattr(ds, "file_meta", None)
    return value or str(getattr(meta, f"MediaStorage{keyword}", "") or "").strip(" \x00")


def pixel_format(ds: Dataset, pixel_tag: int) -> PixelFormat:
    tsyntax = UID(ds.file_meta.TransferSyntaxUID)
    bits_allocated = int(header_value(ds, "BitsAllocated") or 0)
    if bits_allocated not in (1, 8, 16, 32, 64):
        raise _Skip(f"unsupported Bits Allocated ({bits_allocated})")
    samples = int(header_value(ds, "SamplesPerPixel") or 1)
    if samples not in (1, 3):
        raise _Skip(f"unsupported Samples per Pixel ({samples})")
    return PixelFormat(
        bits_allocated=bits_allocated,
        bits_stored=int(header_value(ds, "BitsStored") or bits_allocated),
        pixel_representation=int(header_value(ds, "PixelRepresentation") or 0),
        samples_per_pixel=samples,
        photometric=str(header_value(ds, "PhotometricInterpretation") or "MONOCHROME2").upper(),
        transfer_syntax=str(tsyntax),
        little_endian=tsyntax.is_little_endian,
        encapsulated=tsyntax.is_encapsulated,
        float_pixels=pixel_tag != 0x7FE00010,
    )


def number_of_frames(ds: Dataset) -> int:
    frames = int_or_none(header_value(ds, "NumberOfFrames")) or 1
    if frames < 1:
        raise _Skip(f"invalid Number of Frames ({frames})")
    return frames


def expected_pixel_bytes(fmt: PixelFormat, rows: int, columns: int, frames: int) -> int:
    samples = fmt.samples_per_pixel
    if fmt.photometric == "YBR_FULL_422" and samples == 3:
        samples = 2  # native 4:2:2 stores two samples per pixel (PS3.3 C.7.6.3.1.2)
    bits = rows * columns * samples * frames * fmt.bits_allocated
    return (bits + 7) // 8


def check_pixel_length(
    fmt: PixelFormat, rows: int, columns: int, frames: int, peek: tuple, file_size: int
) -> list[str]:
    """Reject native pixel data whose length does not fit the image, or that the file lacks."""
    _, offset, length = peek
    if fmt.encapsulated:
        remaining = file_size - offset if offset >= 0 else file_size
        if remaining <= 0:
            raise _Skip("file truncated: encapsulated pixel data missing")
        if frames * 8 > remaining:  # every frame needs at least an 8-byte item header
            raise _Skip(f"Number of Frames ({frames}) larger than the pixel data could hold")
        return []
    if length == UNDEFINED_LENGTH:
        raise _Skip("native pixel data with undefined length")
    expected = expected_pixel_bytes(fmt, rows, columns, frames)
    frame_bytes = expected // frames
    # Shorter, or a whole frame longer, means Rows/Columns/Frames/Bits disagree with the data;
    # a few trailing bytes (seen in the wild) are tolerated with a warning.
    if not expected <= length < expected + frame_bytes:
        raise _Skip(
            f"pixel data length {length} bytes does not match Rows×Columns×Samples×Frames×Bits "
            f"(expected {expected})"
        )
    if offset >= 0 and offset + expected > file_size:
        raise _Skip(
            f"file truncated: pixel data needs {expected} bytes, only {file_size - offset} present"
        )
    if length > expected + 1:
        return [f"{length - expected} bytes after the last frame in Pixel Data (ignored)"]
    return []


def frame_record(
    base: HeaderRecord, ds: Dataset, index: int, fragment_offset: int | None = None
) -> HeaderRecord:
    """The record of frame `index`, with its per-frame functional groups applied."""
    plane_pos = functional_item(ds, index, "PlanePositionSequence")
    plane_ori = functional_item(ds, index, "PlaneOrientationSequence")
    transform = functional_item(ds, index, "PixelValueTransformationSequence")
    content = functional_item(ds, index, "FrameContentSequence")
    measures = functional_item(ds, index, "PixelMeasuresSequence")
    position = float_tuple(
        header_value((plane_pos or ds), "ImagePositionPatient")
        if plane_pos or index == 0
        else None,
        3,
    )
    return replace(
        base,
        frame_index=index,
        position=position,
        orientation=float_tuple(header_value((plane_ori or ds), "ImageOrientationPatient"), 6),
        rescale=rescale_of(transform or ds),
        stack_id=str(content.get("StackID")) if content and "StackID" in content else None,
        image_type=frame_type(ds, index) or base.image_type,
        slice_thickness=float_or_none(header_value(measures or ds, "SliceThickness")),
        fragment_offset=fragment_offset,
    )


def frame_type(ds: Dataset, index: int) -> tuple[str, ...]:
    for keyword in ("MRImageFrameTypeSequence", "CTImageFrameTypeSequence", "FrameTypeSequence"):
        item = functional_item(ds, index, keyword)
        if item is not None and "FrameType" in item:
            return tuple(str(v).upper() for v in as_list(item.FrameType))
    return ()


def functional_item(ds: Dataset, index: int, keyword: str) -> Dataset | None:
    """First item of `keyword` in the per-frame group of `index`, else in the shared group."""
    for group_tag, item_index in ((PER_FRAME_GROUPS, index), (SHARED_GROUPS, 0)):
        if group_tag not in ds:  # an int-tag lookup is cheap; keyword access is not
            continue
        groups = ds[group_tag].value
        if groups and item_index < len(groups):
            seq = groups[item_index].get(keyword)
            if seq:
                return seq[0]
    return None


def rescale_of(item: Dataset) -> tuple[float, float]:
    slope = float_or_none(header_value(item, "RescaleSlope"))
    intercept = float_or_none(header_value(item, "RescaleIntercept"))
    return (1.0 if slope in (None, 0.0) else slope, intercept or 0.0)


def patient_fields(ds: Dataset) -> tuple[str, ...]:
    keys = ("PatientName", "PatientID", "PatientBirthDate", "PatientSex", "PatientAge")
    return tuple(str(header_value(ds, k) or "") for k in keys)


def study_fields(ds: Dataset) -> tuple[str, ...]:
    keys = (
        "StudyInstanceUID",
        "StudyDate",
        "StudyTime",
        "StudyDescription",
        "AccessionNumber",
        "ReferringPhysicianName",
        "InstitutionName",
    )
    return tuple(str(header_value(ds, k) or "") for k in keys)


_ASCII_VRS = {"AE", "AS", "CS", "DA", "DS", "DT", "IS", "LO", "PN", "SH", "TM", "UI"}


@functools.lru_cache(maxsize=256)
def _tag_and_vr(keyword: str) -> tuple[int, str]:
    tag = tag_for_keyword(keyword)
    return tag, dictionary_VR(tag)


def header_value(ds: Dataset, keyword: str):
    """A flat attribute's value, read from the raw bytes when that is unambiguous.

    pydicom converts elements lazily through several layers (character set, validation); for
    the ~30 ASCII strings and unsigned shorts the scan keeps, decoding the bytes directly makes
    the header scan about twice as fast. Anything else (non-ASCII text, other VRs, values
    already converted) goes through pydicom as usual. Multiple values come back as a list.
    """
    tag, dictionary_vr = _tag_and_vr(keyword)
    if tag not in ds:
        return None
    elem = ds.get_item(tag)
    if not isinstance(elem, RawDataElement):
        return elem.value
    raw, vr = elem.value, elem.VR or dictionary_vr
    if not raw:
        return None
    if vr == "US" and len(raw) % 2 == 0:
        values = struct.unpack(f"{'<' if elem.is_little_endian else '>'}{len(raw) // 2}H", raw)
        return values[0] if len(values) == 1 else list(values)
    if vr in _ASCII_VRS and raw.isascii():
        values = [v.strip(" \x00") for v in raw.decode("ascii").split("\\")]
        return values[0] if len(values) == 1 else values
    return ds[tag].value


def as_list(value) -> list:
    if value is None:
        return []
    if isinstance(value, str | bytes) or not hasattr(value, "__iter__"):
        return [value]
    return list(value)


def float_tuple(value, length: int) -> tuple[float, ...] | None:
    values = as_list(value)
    if len(values) != length:
        return None
    try:
        result = tuple(float(v) for v in values)
    except (TypeError, ValueError):
        return None
    return result if all(v == v and abs(v) < 1e9 for v in result) else None
