"""DICOM Segmentation (SEG) objects: read them and place their segments on any image.

`read_segmentation(path) -> Segmentation` reads the header (segments with their recommended
display colour, label and algorithm; one `SegFrame` per stored frame with its plane and source
image); pixels are decoded on first use. BINARY, FRACTIONAL and LABELMAP (Label Map
Segmentation Storage) are read alike: `segment_layers(seg, target)` gives, for one displayed
image, each segment's coverage in [0, 1] on that image's own pixel grid.

Frames are matched to an image by Frame of Reference and position (many real SEGs do not mark
SpatialLocationsPreserved, so referenced UIDs alone miss them) and sampled through patient
coordinates, so a SEG on another grid (cropped, other spacing, thicker slices, other
orientation) lands where it belongs. Objects without plane geometry (projection radiographs)
fall back to the referenced SOP Instance UID and frame. Qt-free.
"""

from __future__ import annotations

import threading
import warnings
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TypeVar

import numpy as np
import pydicom
from pydicom.dataset import Dataset

from viewer.core.errors import DicomReadError
from viewer.core.geometry import FrameGeometry, slice_normal
from viewer.core.values import float_or_none, int_or_none

T = TypeVar("T")

SEG_STORAGE = "1.2.840.10008.5.1.4.1.1.66.4"
LABELMAP_SEG_STORAGE = "1.2.840.10008.5.1.4.1.1.66.7"
SEG_SOP_CLASSES = (SEG_STORAGE, LABELMAP_SEG_STORAGE)
MAX_SEG_VOXELS = 1 << 30  # unpacked bytes a SEG may decode to, whatever its header claims
MIN_TOLERANCE_MM = 0.01
DEFAULT_OPACITY = 0.5
PARALLEL_COSINE = 0.9999
# Used when a segment recommends no colour (the first ones of 3D Slicer's generic colours).
FALLBACK_COLOURS = (
    (128, 174, 128),
    (241, 214, 145),
    (177, 122, 101),
    (111, 184, 210),
    (216, 101, 79),
    (221, 130, 101),
    (144, 238, 144),
    (192, 104, 88),
)


@dataclass(frozen=True)
class Segment:
    number: int
    label: str
    algorithm_type: str = ""  # AUTOMATIC, SEMIAUTOMATIC or MANUAL
    algorithm_name: str = ""
    colour: tuple[int, int, int] = (255, 0, 0)  # sRGB, from the recommended CIELab value
    category: str = ""
    property_type: str = ""

    @property
    def is_background(self) -> bool:
        """A LABELMAP's background entry: listed, not drawn by default."""
        return self.number == 0 or self.label.strip().lower() == "background"

    @property
    def algorithm(self) -> str:
        return " ".join(p for p in (self.algorithm_type, self.algorithm_name) if p)


@dataclass(frozen=True)
class SegFrame:
    index: int  # 0-based frame in the file
    segment: int | None  # None for a LABELMAP frame (all segments at once)
    position: tuple[float, float, float] | None
    orientation: tuple[float, ...] | None
    source_uid: str = ""  # the image it was derived from, when the file says
    source_frame: int | None = None  # 0-based frame of a multi-frame source


@dataclass(frozen=True)
class TargetImage:
    """One displayed image, as far as placing a SEG on it needs."""

    rows: int
    columns: int
    geometry: FrameGeometry | None = None
    frame_of_reference_uid: str = ""
    sop_instance_uid: str = ""
    frame_index: int = 0  # within a multi-frame file


@dataclass
class Segmentation:
    path: str
    sop_instance_uid: str
    series_instance_uid: str
    study_instance_uid: str
    frame_of_reference_uid: str
    description: str
    seg_type: str  # BINARY, FRACTIONAL or LABELMAP
    fractional_type: str
    max_fractional: int
    rows: int
    columns: int
    spacing: tuple[float, float] | None
    slice_spacing: float | None
    segments: tuple[Segment, ...]
    frames: tuple[SegFrame, ...]
    referenced_series: tuple[str, ...]
    pixel_padding: int | None = None
    _pixels: np.ndarray | None = field(default=None, repr=False)
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    def segment(self, number: int) -> Segment:
        for segment in self.segments:
            if segment.number == number:
                return segment
        raise KeyError(number)

    @property
    def has_plane_geometry(self) -> bool:
        return self.spacing is not None and any(
            f.position is not None and f.orientation is not None for f in self.frames
        )

    @property
    def referenced_instances(self) -> tuple[str, ...]:
        return tuple(dict.fromkeys(f.source_uid for f in self.frames if f.source_uid))

    def pixels(self) -> np.ndarray:
        """All frames as stored (frames, rows, columns); 1-bit frames unpacked to 0/1."""
        with self._lock:
            if self._pixels is None:
                self._pixels = _decode_pixels(self)
            return self._pixels

    def frame_geometry(self, frame: SegFrame) -> FrameGeometry | None:
        if frame.position is None or frame.orientation is None or self.spacing is None:
            return None
        return FrameGeometry(
            rows=self.rows,
            columns=self.columns,
            spacing=self.spacing,
            origin=frame.position,
            row_cosine=tuple(frame.orientation[:3]),
            column_cosine=tuple(frame.orientation[3:]),
        )


def read_segmentation(path: str | Path) -> Segmentation:
    """The SEG's header (pixels on demand); DicomReadError naming the file when it is not one."""
    return read_dicom_object(path, "segmentation", segmentation_from_header, headers_only=True)


def read_dicom_object(
    path: str | Path,
    what: str,
    parse: Callable[[str, Dataset], T],
    headers_only: bool = False,
) -> T:
    """`parse(path, dataset)` of the file read by pydicom (its warnings silenced); any failure
    that is not already a DicomReadError becomes one naming the file: `not a readable WHAT (…)`."""
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            ds = pydicom.dcmread(str(path), stop_before_pixels=headers_only)
        return parse(str(path), ds)
    except DicomReadError:
        raise
    except (KeyboardInterrupt, SystemExit):
        raise
    except Exception as exc:  # noqa: BLE001 - any parser failure names the file
        raise DicomReadError(str(path), f"not a readable {what} ({_short(exc)})") from None


def segmentation_from_header(path: str, ds: Dataset) -> Segmentation:
    sop_class = str(ds.get("SOPClassUID", ""))
    if sop_class not in SEG_SOP_CLASSES and ds.get("Modality") != "SEG":
        raise DicomReadError(path, "not a DICOM Segmentation (SEG)")
    rows, columns = int(ds.get("Rows", 0) or 0), int(ds.get("Columns", 0) or 0)
    count = int(ds.get("NumberOfFrames", 1) or 1)
    if rows <= 0 or columns <= 0 or count <= 0:
        raise DicomReadError(path, "SEG without Rows/Columns/Number of Frames")
    if rows * columns * count > MAX_SEG_VOXELS:
        raise DicomReadError(path, f"SEG of {count} frames of {rows}×{columns} is too large")
    seg_type = _seg_type(ds, sop_class)
    shared = _first(ds, "SharedFunctionalGroupsSequence")
    measures = _group_item(shared, "PixelMeasuresSequence")
    frames = tuple(_seg_frame(ds, i, seg_type, shared) for i in range(count))
    return Segmentation(
        path=path,
        sop_instance_uid=str(ds.get("SOPInstanceUID", "")),
        series_instance_uid=str(ds.get("SeriesInstanceUID", "")),
        study_instance_uid=str(ds.get("StudyInstanceUID", "")),
        frame_of_reference_uid=str(ds.get("FrameOfReferenceUID", "") or ""),
        description=str(ds.get("SeriesDescription", "") or ds.get("ContentLabel", "") or ""),
        seg_type=seg_type,
        fractional_type=str(ds.get("SegmentationFractionalType", "") or ""),
        max_fractional=int(ds.get("MaximumFractionalValue", 255) or 255),
        rows=rows,
        columns=columns,
        spacing=_pair(measures.get("PixelSpacing") if measures else None),
        slice_spacing=_slice_spacing(frames, measures),
        segments=tuple(_segment(item) for item in ds.get("SegmentSequence", [])),
        frames=frames,
        referenced_series=tuple(
            str(item.get("SeriesInstanceUID", ""))
            for item in ds.get("ReferencedSeriesSequence", [])
        ),
        pixel_padding=int_or_none(ds.get("PixelPaddingValue")),
    )


def _seg_type(ds: Dataset, sop_class: str) -> str:
    declared = str(ds.get("SegmentationType", "") or "").upper()
    if sop_class == LABELMAP_SEG_STORAGE or declared == "LABELMAP":
        return "LABELMAP"
    return declared if declared in ("BINARY", "FRACTIONAL") else "BINARY"


def _seg_frame(ds: Dataset, index: int, seg_type: str, shared: Dataset | None) -> SegFrame:
    groups = ds.get("PerFrameFunctionalGroupsSequence") or []
    own = groups[index] if index < len(groups) else None
    position = _group_value(own, shared, "PlanePositionSequence", "ImagePositionPatient")
    orientation = _group_value(own, shared, "PlaneOrientationSequence", "ImageOrientationPatient")
    segment_item = _group_item(own, "SegmentIdentificationSequence") or _group_item(
        shared, "SegmentIdentificationSequence"
    )
    segment = None
    if seg_type != "LABELMAP":
        segment = int(segment_item.get("ReferencedSegmentNumber", 1)) if segment_item else 1
    source_uid, source_frame = _source_of(own) if own is not None else ("", None)
    return SegFrame(
        index=index,
        segment=segment,
        position=_floats(position, 3),
        orientation=_floats(orientation, 6),
        source_uid=source_uid,
        source_frame=source_frame,
    )


def _source_of(item: Dataset) -> tuple[str, int | None]:
    for derivation in item.get("DerivationImageSequence", []):
        for source in derivation.get("SourceImageSequence", []):
            frame = int_or_none(source.get("ReferencedFrameNumber"))
            uid = str(source.get("ReferencedSOPInstanceUID", ""))
            return uid, None if frame is None else frame - 1
    return "", None


def _segment(item: Dataset) -> Segment:
    number = int(item.get("SegmentNumber", 0))
    lab = item.get("RecommendedDisplayCIELabValue")
    colour = (
        cielab_to_rgb(lab)
        if lab is not None and len(lab) == 3
        else FALLBACK_COLOURS[number % len(FALLBACK_COLOURS)]
    )
    return Segment(
        number=number,
        label=str(item.get("SegmentLabel", "") or f"Segment {number}"),
        algorithm_type=str(item.get("SegmentAlgorithmType", "") or ""),
        algorithm_name=str(item.get("SegmentAlgorithmName", "") or ""),
        colour=colour,
        category=_code_meaning(item, "SegmentedPropertyCategoryCodeSequence"),
        property_type=_code_meaning(item, "SegmentedPropertyTypeCodeSequence"),
    )


def cielab_to_rgb(value) -> tuple[int, int, int]:
    """DICOM's scaled CIELab (PS3.3 C.10.7.1.1, D65) to 8-bit sRGB."""
    lightness = float(value[0]) * 100.0 / 65535.0
    a, b = (float(v) * 255.0 / 65535.0 - 128.0 for v in value[1:3])
    fy = (lightness + 16.0) / 116.0
    f = np.array([fy + a / 500.0, fy, fy - b / 200.0])
    delta = 6.0 / 29.0
    xyz = np.where(f > delta, f**3, 3 * delta**2 * (f - 4.0 / 29.0))
    xyz *= np.array([0.95047, 1.0, 1.08883])
    to_rgb = np.array(
        [[3.2406, -1.5372, -0.4986], [-0.9689, 1.8758, 0.0415], [0.0557, -0.2040, 1.0570]]
    )
    linear = np.clip(to_rgb @ xyz, 0.0, 1.0)
    srgb = np.where(linear <= 0.0031308, 12.92 * linear, 1.055 * linear ** (1 / 2.4) - 0.055)
    red, green, blue = (int(round(float(v) * 255)) for v in srgb)
    return red, green, blue


def rgb_to_cielab(rgb) -> tuple[int, int, int]:
    """8-bit sRGB to DICOM's scaled CIELab (the inverse of `cielab_to_rgb`)."""
    srgb = np.asarray(rgb, float) / 255.0
    linear = np.where(srgb <= 0.04045, srgb / 12.92, ((srgb + 0.055) / 1.055) ** 2.4)
    to_xyz = np.array(
        [[0.4124, 0.3576, 0.1805], [0.2126, 0.7152, 0.0722], [0.0193, 0.1192, 0.9505]]
    )
    xyz = (to_xyz @ linear) / np.array([0.95047, 1.0, 1.08883])
    delta = 6.0 / 29.0
    f = np.where(xyz > delta**3, np.cbrt(xyz), xyz / (3 * delta**2) + 4.0 / 29.0)
    lab = (116 * f[1] - 16, 500 * (f[0] - f[1]), 200 * (f[1] - f[2]))
    scaled = (lab[0] / 100.0, (lab[1] + 128) / 255.0, (lab[2] + 128) / 255.0)
    lightness, a, b = (int(round(min(max(v, 0.0), 1.0) * 65535)) for v in scaled)
    return lightness, a, b


def _decode_pixels(seg: Segmentation) -> np.ndarray:
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            array = pydicom.dcmread(seg.path).pixel_array
        array = np.asarray(array).reshape(len(seg.frames), seg.rows, seg.columns)
    except (KeyboardInterrupt, SystemExit):
        raise
    except Exception as exc:  # noqa: BLE001 - decoder failures name the file
        raise DicomReadError(seg.path, f"SEG pixel data unreadable ({_short(exc)})") from None
    array.flags.writeable = False
    return array


# --- placing segments on an image ------------------------------------------------------------


def segment_layers(seg: Segmentation, target: TargetImage) -> dict[int, np.ndarray]:
    """Segment number → coverage (float32 in [0, 1], the target's rows×columns) for every
    segment with something on this image."""
    matches = _matching_frames(seg, target)
    if not matches:
        return {}
    pixels = seg.pixels()
    layers: dict[int, np.ndarray] = {}
    for frame, (values, inside) in matches:
        for number, coverage in _coverage(seg, frame, values, inside, pixels.dtype):
            if number in layers:
                np.maximum(layers[number], coverage, out=layers[number])
            else:
                layers[number] = coverage
    return {n: layer for n, layer in layers.items() if layer.any()}


def _matching_frames(seg: Segmentation, target: TargetImage):
    pixels = None
    if _geometric(seg, target):
        frames = _frames_in_plane(seg, target)
        if frames:
            pixels = seg.pixels()
        return [(f, _sample_in_space(seg, f, pixels[f.index], target)) for f in frames]
    frames = [f for f in seg.frames if _same_source(f, target)]
    if frames:
        pixels = seg.pixels()
    return [(f, _sample_by_index(pixels[f.index], target)) for f in frames]


def _geometric(seg: Segmentation, target: TargetImage) -> bool:
    geometry = target.geometry
    return (
        seg.has_plane_geometry
        and geometry is not None
        and geometry.has_patient_geometry
        and bool(seg.frame_of_reference_uid)
        and seg.frame_of_reference_uid == target.frame_of_reference_uid
    )


def _same_source(frame: SegFrame, target: TargetImage) -> bool:
    if not frame.source_uid or frame.source_uid != target.sop_instance_uid:
        return False
    return frame.source_frame is None or frame.source_frame == target.frame_index


def _frames_in_plane(seg: Segmentation, target: TargetImage) -> list[SegFrame]:
    """Frames whose slab (± half the SEG's slice spacing) the target's plane passes through."""
    corners = _corner_points(target.geometry)
    tolerance = max((seg.slice_spacing or 1.0) / 2.0, MIN_TOLERANCE_MM)
    found = []
    for frame in seg.frames:
        geometry = seg.frame_geometry(frame)
        if geometry is None:
            continue
        distances = (corners - np.asarray(geometry.origin)) @ geometry.normal
        if distances.min() <= tolerance and distances.max() >= -tolerance:
            found.append(frame)
    return found


def _corner_points(geometry: FrameGeometry) -> np.ndarray:
    last_row, last_col = geometry.rows - 1, geometry.columns - 1
    return np.array(
        [
            geometry.pixel_to_patient(r, c)
            for r, c in ((0, 0), (0, last_col), (last_row, 0), (last_row, last_col))
        ]
    )


def _sample_in_space(seg, frame: SegFrame, values: np.ndarray, target: TargetImage):
    """The SEG frame's values at the centres of the target's pixels (nearest neighbour), and
    where the target's pixels lie inside the frame's slab."""
    source, geometry = seg.frame_geometry(frame), target.geometry
    rows, cols = np.mgrid[0 : target.rows, 0 : target.columns].astype(np.float64)
    origin = np.asarray(geometry.origin, float) - np.asarray(source.origin, float)
    step_c = geometry.spacing[1] * np.asarray(geometry.row_cosine, float)
    step_r = geometry.spacing[0] * np.asarray(geometry.column_cosine, float)

    def along(axis: np.ndarray) -> np.ndarray:
        return origin @ axis + cols * (step_c @ axis) + rows * (step_r @ axis)

    src_col = np.rint(along(np.asarray(source.row_cosine, float)) / source.spacing[1])
    src_row = np.rint(along(np.asarray(source.column_cosine, float)) / source.spacing[0])
    tolerance = max((seg.slice_spacing or 1.0) / 2.0, MIN_TOLERANCE_MM)
    inside = (
        (np.abs(along(source.normal)) <= tolerance)
        & (src_row >= 0)
        & (src_row < seg.rows)
        & (src_col >= 0)
        & (src_col < seg.columns)
    )
    sampled = np.zeros((target.rows, target.columns), dtype=values.dtype)
    sampled[inside] = values[src_row[inside].astype(np.intp), src_col[inside].astype(np.intp)]
    return sampled, inside


def _sample_by_index(values: np.ndarray, target: TargetImage):
    """Same image, no geometry: stretch the SEG frame over the target (nearest neighbour)."""
    rows = (np.arange(target.rows) * values.shape[0] // target.rows).astype(np.intp)
    cols = (np.arange(target.columns) * values.shape[1] // target.columns).astype(np.intp)
    sampled = values[np.ix_(rows, cols)]
    return sampled, np.ones(sampled.shape, dtype=bool)


def _coverage(seg, frame: SegFrame, values: np.ndarray, inside: np.ndarray, dtype):
    if seg.seg_type == "LABELMAP":
        valid = inside if seg.pixel_padding is None else inside & (values != seg.pixel_padding)
        for segment in seg.segments:
            mask = valid & (values == segment.number)
            if mask.any():
                yield segment.number, mask.astype(np.float32)
        return
    if seg.seg_type == "FRACTIONAL":
        coverage = values.astype(np.float32) / float(max(seg.max_fractional, 1))
        yield frame.segment, np.clip(np.where(inside, coverage, 0.0), 0.0, 1.0)
        return
    yield frame.segment, (inside & (values > 0)).astype(np.float32)


def segment_rgba(
    layers: dict[int, np.ndarray],
    seg: Segmentation,
    visible: dict[int, bool] | None = None,
    opacity: dict[int, float] | None = None,
    default_opacity: float = DEFAULT_OPACITY,
) -> np.ndarray | None:
    """One RGBA uint8 picture of the visible segments (later segments painted over earlier
    ones; FRACTIONAL coverage scales the alpha). None when nothing is visible."""
    painted = _paint_segments(None, layers, seg, visible, opacity, default_opacity)
    return None if painted is None else np.round(painted * 255.0).astype(np.uint8)


@dataclass(frozen=True)
class SegStyle:
    """How one segmentation is shown: per segment visibility and opacity (defaults apply to
    segments not listed: background hidden, others at DEFAULT_OPACITY)."""

    seg: Segmentation
    visible: dict[int, bool] = field(default_factory=dict)
    opacity: dict[int, float] = field(default_factory=dict)


def overlay_rgba(styles: list[SegStyle], target: TargetImage) -> np.ndarray | None:
    """All segmentations that lie on `target`, painted in order into one RGBA uint8 picture."""
    painted = None
    for style in styles:
        layers = segment_layers(style.seg, target)
        painted = _paint_segments(painted, layers, style.seg, style.visible, style.opacity)
    return None if painted is None else np.round(painted * 255.0).astype(np.uint8)


def _paint_segments(out, layers, seg, visible, opacity, default_opacity=None):
    default_opacity = DEFAULT_OPACITY if default_opacity is None else default_opacity
    for number in sorted(layers):
        segment = seg.segment(number)
        if not (visible or {}).get(number, not segment.is_background):
            continue
        alpha = layers[number] * float((opacity or {}).get(number, default_opacity))
        if out is None:
            out = np.zeros(alpha.shape + (4,), dtype=np.float32)
        out = _paint(out, np.asarray(segment.colour, np.float32) / 255.0, alpha)
    return out


def _paint(under: np.ndarray, colour: np.ndarray, alpha: np.ndarray) -> np.ndarray:
    """`colour` with per-pixel `alpha` painted over the premultiplied-free RGBA `under`."""
    a = alpha[..., None]
    base_alpha = under[..., 3:4]
    out_alpha = a + base_alpha * (1 - a)
    safe = np.where(out_alpha > 0, out_alpha, 1.0)
    rgb = (colour * a + under[..., :3] * base_alpha * (1 - a)) / safe
    return np.concatenate([rgb, out_alpha], axis=-1)


def blend_rgba(image: np.ndarray, rgba: np.ndarray | None) -> np.ndarray:
    """A grey or RGB uint8 image with an RGBA picture painted over it (uint8 RGB)."""
    rgb = np.repeat(image[..., None], 3, axis=2) if image.ndim == 2 else image[..., :3]
    if rgba is None:
        return np.ascontiguousarray(rgb, dtype=np.uint8)
    alpha = rgba[..., 3:4].astype(np.float32) / 255.0
    mixed = rgb.astype(np.float32) * (1 - alpha) + rgba[..., :3].astype(np.float32) * alpha
    return np.round(mixed).astype(np.uint8)


# --- small helpers --------------------------------------------------------------------------


def _first(ds: Dataset, keyword: str) -> Dataset | None:
    seq = ds.get(keyword)
    return seq[0] if seq else None


def _group_item(group: Dataset | None, keyword: str) -> Dataset | None:
    return _first(group, keyword) if group is not None else None


def _group_value(own, shared, sequence: str, keyword: str):
    for group in (own, shared):
        item = _group_item(group, sequence)
        if item is not None and keyword in item:
            return item.get(keyword)
    return None


def _slice_spacing(frames: tuple[SegFrame, ...], measures: Dataset | None) -> float | None:
    """The SEG's slab: the smallest of its declared spacing/thickness and the gap between its
    planes (a sparse SEG's gaps are wider than its slices)."""
    candidates = []
    if measures is not None:
        for keyword in ("SpacingBetweenSlices", "SliceThickness"):
            value = float_or_none(measures.get(keyword))
            if value and value > 0:
                candidates.append(value)
    oriented = [f for f in frames if f.position is not None and f.orientation is not None]
    if oriented:
        normal = slice_normal(oriented[0].orientation)
        offsets = np.unique(np.round([np.dot(f.position, normal) for f in oriented], 3))
        gaps = np.diff(offsets)
        gaps = gaps[gaps > MIN_TOLERANCE_MM]
        if gaps.size:
            candidates.append(float(gaps.min()))
    return min(candidates) if candidates else None


def _code_meaning(item: Dataset, keyword: str) -> str:
    code = _first(item, keyword)
    return str(code.get("CodeMeaning", "")) if code is not None else ""


def _pair(value) -> tuple[float, float] | None:
    values = _floats(value, 2)
    return values if values and all(v > 0 for v in values) else None


def _floats(value, length: int):
    try:
        values = tuple(float(v) for v in value)
    except (TypeError, ValueError):
        return None
    return values if len(values) == length else None


def _short(exc: BaseException) -> str:
    text = " ".join(str(exc).split())[:200]
    return f"{type(exc).__name__}: {text}" if text else type(exc).__name__


def target_image(series, index: int) -> TargetImage:
    """The `TargetImage` of frame `index` of an open `Series`."""
    ref = series.info.frames[index]
    geometry = series.geometry(index)
    return TargetImage(
        rows=series.info.rows,
        columns=series.info.columns,
        geometry=geometry if geometry is not None and geometry.has_patient_geometry else None,
        frame_of_reference_uid=str(series.header(index).get("FrameOfReferenceUID", "") or ""),
        sop_instance_uid=ref.sop_instance_uid,
        frame_index=ref.frame_index,
    )
