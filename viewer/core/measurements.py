"""Measurements: lengths, angles and ROI statistics in mm, and their per-study JSON sidecar.

Pixel coordinates are (row, column) with pixel centres on integer positions, the order of
numpy indexing and of DICOM Pixel Spacing (PS3.3 10.7.1.3: row spacing, then column spacing).
Sidecars live under `user_data_dir()/measurements/`, one per study, named by a hash of the
StudyInstanceUID; the DICOM files themselves are never written. An acquired frame's
measurements are keyed by its SOP Instance UID and frame in the file (what a DICOM export
references); a reformatted frame has no UID of its own, so its measurements are keyed by the
`ViewIdentity` it was made on (stack, plane, slab, frame): see `measured_image`.

A study whose files lack UIDs has derived keys (`index.derived_key`); RadLens ≤ 0.3.0 derived
them unkeyed. Its sidecar is moved to today's keys the first time the study's store is loaded
(`MeasurementStore.load` with the study's `legacy_keys`): the keys inside are rewritten, the new
sidecar written atomically, then the old one removed; on any failure the old one stays. Image
keys of ≤ 0.3.0 in the sidecar of a study with a real UID (files lacking only Series or SOP
Instance UIDs) are made today's at load the same way.
"""

from __future__ import annotations

import hashlib
import json
import logging
import math
import re
import uuid
from collections.abc import Callable, Mapping, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from viewer.core.atomic import atomic_write_text
from viewer.core.errors import RadLensError
from viewer.core.index import DERIVED_PREFIX, is_derived
from viewer.core.session import ViewIdentity, view_identity
from viewer.paths import user_data_dir

if TYPE_CHECKING:
    from viewer.core.plane_series import PlaneSeries
    from viewer.core.series import Series

log = logging.getLogger(__name__)

LENGTH, ANGLE, ELLIPSE, RECTANGLE = "length", "angle", "ellipse", "rectangle"
SCHEMA_VERSION = 1

Point = tuple[float, float]
Spacing = tuple[float, float]


@dataclass
class Measurement:
    """One measurement on one image: its kind, the points the user placed, a label.

    Ellipses and rectangles are given by two opposite corners of their bounding box.
    """

    kind: str
    points: list[Point]
    label: str = ""
    id: str = field(default_factory=lambda: uuid.uuid4().hex)

    def __post_init__(self) -> None:
        if self.kind not in KINDS:
            raise ValueError(f"unknown measurement kind {self.kind!r}")
        self.points = [(float(r), float(c)) for r, c in self.points]
        if len(self.points) != KINDS[self.kind].points:
            raise ValueError(f"a {self.kind} needs {KINDS[self.kind].points} points")

    def to_json(self) -> dict:
        data = asdict(self)
        data["points"] = [list(p) for p in self.points]
        return data

    @classmethod
    def from_json(cls, data: dict) -> Measurement:
        points = [(p[0], p[1]) for p in data["points"]]
        return cls(str(data["kind"]), points, str(data.get("label", "")), str(data["id"]))


@dataclass(frozen=True)
class RoiStats:
    """Statistics of the modality values inside a region (SD is the sample SD, n - 1)."""

    mean: float
    sd: float
    min: float
    max: float
    pixel_count: int
    area_mm2: float


# --- geometry ---------------------------------------------------------------------------------


def length_mm(p0: Point, p1: Point, spacing: Spacing) -> float:
    """Distance between two pixel points in mm; rows and columns scaled separately."""
    row_spacing, col_spacing = spacing
    return math.hypot((p1[0] - p0[0]) * row_spacing, (p1[1] - p0[1]) * col_spacing)


def angle_deg(a: Point, vertex: Point, b: Point, spacing: Spacing) -> float:
    """The angle at `vertex` between the rays to `a` and `b`, in degrees, measured in mm space."""
    u = _to_mm(a, vertex, spacing)
    v = _to_mm(b, vertex, spacing)
    norms = math.hypot(*u) * math.hypot(*v)
    if norms == 0:
        raise ValueError("an angle needs two arms of non-zero length")
    cosine = (u[0] * v[0] + u[1] * v[1]) / norms
    return math.degrees(math.acos(max(-1.0, min(1.0, cosine))))


def _to_mm(point: Point, origin: Point, spacing: Spacing) -> tuple[float, float]:
    return ((point[0] - origin[0]) * spacing[0], (point[1] - origin[1]) * spacing[1])


def ellipse_mask(shape: tuple[int, int], corner0: Point, corner1: Point) -> np.ndarray:
    """Pixels whose centres lie inside the ellipse inscribed in the box corner0–corner1."""
    (r0, c0), (r1, c1) = _box(corner0, corner1)
    radius_r, radius_c = (r1 - r0) / 2.0, (c1 - c0) / 2.0
    if radius_r <= 0 or radius_c <= 0:
        return np.zeros(shape, dtype=bool)
    rows, cols = np.ogrid[: shape[0], : shape[1]]
    dr = (rows - (r0 + radius_r)) / radius_r
    dc = (cols - (c0 + radius_c)) / radius_c
    return dr**2 + dc**2 <= 1.0


def rectangle_mask(shape: tuple[int, int], corner0: Point, corner1: Point) -> np.ndarray:
    """Pixels whose centres lie inside (or on the edge of) the box corner0–corner1."""
    (r0, c0), (r1, c1) = _box(corner0, corner1)
    rows, cols = np.ogrid[: shape[0], : shape[1]]
    return (rows >= r0) & (rows <= r1) & (cols >= c0) & (cols <= c1)


def _box(corner0: Point, corner1: Point) -> tuple[Point, Point]:
    return (
        (min(corner0[0], corner1[0]), min(corner0[1], corner1[1])),
        (max(corner0[0], corner1[0]), max(corner0[1], corner1[1])),
    )


def shape_area_mm2(kind: str, corner0: Point, corner1: Point, spacing: Spacing) -> float:
    """Geometric area of the drawn ellipse or rectangle in mm² (not the pixel count)."""
    height = abs(corner1[0] - corner0[0]) * spacing[0]
    width = abs(corner1[1] - corner0[1]) * spacing[1]
    return KINDS[kind].area_factor * height * width


# --- the kinds --------------------------------------------------------------------------------


@dataclass(frozen=True)
class MeasurementKind:
    """What one kind of measurement is; every module that handles kinds asks `KINDS`.

    A region (ellipse, rectangle) is given by two opposite corners of its bounding box and has
    ROI statistics inside; `outline` says how it is drawn ("polyline", "ellipse", "rectangle").
    """

    name: str
    points: int  # how many points the user places
    quantity: str  # "length", "angle" or "area": what `measure` gives (mm, degrees, mm²)
    outline: str
    mask: Callable[[tuple[int, int], Point, Point], np.ndarray] | None = None
    area_factor: float = 1.0  # the region's area over its bounding box's

    @property
    def is_region(self) -> bool:
        return self.mask is not None

    def measure(self, points: Sequence[Point], spacing: Spacing) -> float:
        """Length in mm, angle in degrees or area in mm² (in pixels when spacing is (1, 1))."""
        if self.quantity == "length":
            return length_mm(points[0], points[1], spacing)
        if self.quantity == "angle":
            return angle_deg(points[0], points[1], points[2], spacing)
        return shape_area_mm2(self.name, points[0], points[1], spacing)


KINDS: dict[str, MeasurementKind] = {
    kind.name: kind
    for kind in (
        MeasurementKind(LENGTH, 2, "length", "polyline"),
        MeasurementKind(ANGLE, 3, "angle", "polyline"),
        MeasurementKind(ELLIPSE, 2, "area", "ellipse", ellipse_mask, math.pi / 4.0),
        MeasurementKind(RECTANGLE, 2, "area", "rectangle", rectangle_mask),
    )
}
POINTS_NEEDED = {name: kind.points for name, kind in KINDS.items()}


def is_region(kind: str) -> bool:
    return KINDS[kind].is_region


def roi_stats(values: np.ndarray, measurement: Measurement, spacing: Spacing) -> RoiStats:
    """Mean, SD, min, max and pixel count of the modality values in an ellipse/rectangle ROI."""
    values = np.asarray(values)
    if values.ndim != 2:
        raise ValueError("ROI statistics need a single-channel (grey) frame")
    make_mask = KINDS[measurement.kind].mask
    if make_mask is None:
        raise ValueError(f"a {measurement.kind} is not a region")
    corner0, corner1 = measurement.points
    inside = values[make_mask(values.shape, corner0, corner1)].astype(np.float64)
    area = shape_area_mm2(measurement.kind, corner0, corner1, spacing)
    if inside.size == 0:
        return RoiStats(math.nan, math.nan, math.nan, math.nan, 0, area)
    sd = float(inside.std(ddof=1)) if inside.size > 1 else 0.0
    return RoiStats(
        float(inside.mean()), sd, float(inside.min()), float(inside.max()), inside.size, area
    )


def describe(
    measurement: Measurement, spacing: Spacing | None, values: np.ndarray | None = None
) -> str:
    """A one-line reading for overlays and reports, e.g. '52.3 mm' or 'mean 41.2 SD 9.8 …'.

    Without a pixel spacing the lengths are in pixels and say so.
    """
    unit = "mm" if spacing is not None else "px"
    spacing = spacing if spacing is not None else (1.0, 1.0)
    kind = KINDS[measurement.kind]
    value = kind.measure(measurement.points, spacing)
    if kind.quantity == "length":
        return f"{value:.1f} {unit}"
    if kind.quantity == "angle":
        return f"{value:.1f}°"
    if values is None:
        return f"area {value:.1f} {unit}²"
    stats = roi_stats(values, measurement, spacing)
    return (
        f"mean {stats.mean:.1f} SD {stats.sd:.1f} min {stats.min:.0f} max {stats.max:.0f} "
        f"n {stats.pixel_count} area {stats.area_mm2:.1f} {unit}²"
    )


# --- sidecar store ----------------------------------------------------------------------------


# What measurements are stored under: an acquired frame's SOP Instance UID (with its frame in the
# file), or the `ViewIdentity` of a reformatted frame (which carries its own frame).
MeasuredImage = str | ViewIdentity


def image_key(image: MeasuredImage, frame: int = 0) -> str:
    """The sidecar key: `<SOP Instance UID>#<frame>` for an acquired frame (as always), and
    `view:<stack>|<plane>|<slab>#<frame>` for a reformat (`frame` is then the view's)."""
    if isinstance(image, ViewIdentity):
        if not image.is_reformat:
            raise ValueError("an acquired frame is stored by its SOP Instance UID")
        return f"view:{image.series_key}|{image.plane}|{image.slab}#{int(image.frame)}"
    return f"{image}#{int(frame)}"


def measured_image(series: Series | PlaneSeries, frame: int) -> tuple[MeasuredImage, int]:
    """Where the measurements of frame `frame` of `series` are stored: `(view, frame)` for a
    reformat, `(SOP Instance UID, frame in its file)` for an acquired frame."""
    view = view_identity(series, frame)
    if view.is_reformat:
        return view, view.frame
    ref = series.info.frames[frame]
    return ref.sop_instance_uid, ref.frame_index


def sidecar_path(study_instance_uid: str, root: Path | None = None) -> Path:
    """Where a study's measurements live; the name is a hash, never a patient identifier."""
    digest = hashlib.sha256(study_instance_uid.encode("utf-8")).hexdigest()[:32]
    folder = root if root is not None else user_data_dir() / "measurements"
    return folder / f"study-{digest}.json"


class MeasurementStore:
    """The measurements of one study, per image (`MeasuredImage` + frame: `image_key`), in a
    JSON sidecar."""

    def __init__(
        self,
        study_instance_uid: str,
        root: Path | None = None,
        legacy_keys: Mapping[str, str] | None = None,
    ) -> None:
        """`legacy_keys`: the study's derived keys of RadLens ≤ 0.3.0 → today's
        (`StudyInfo.legacy_keys`), to move a sidecar saved under them (see `load`)."""
        self.path = sidecar_path(study_instance_uid, root)
        self._study_key = study_instance_uid
        self._legacy_keys = dict(legacy_keys or {})
        self._images: dict[str, list[Measurement]] = {}

    def load(self) -> MeasurementStore:
        """Read the sidecar if there is one (an absent file is an empty store); for a derived
        study key, first move a sidecar saved under its ≤ 0.3.0 key (`move_legacy_sidecar`).
        Image keys of ≤ 0.3.0 inside (a real Study UID, derived instance or series keys) are
        made today's and saved."""
        if is_derived(self._study_key) and self._legacy_keys and not self.path.exists():
            move_legacy_sidecar(self._study_key, self.path, self._legacy_keys)
        self._images = _read_sidecar(self.path) if self.path.exists() else {}
        if self._legacy_keys:
            self._rekey_legacy_images()
        return self

    def _rekey_legacy_images(self) -> None:
        rekeyed = _rekeyed_images(self._images, self._legacy_keys)
        if rekeyed.keys() == self._images.keys():
            return
        self._images = rekeyed
        try:
            self.save()
        except (OSError, RadLensError) as exc:
            _log_not_moved(exc)

    def save(self) -> Path:
        """Write the sidecar atomically (removing it when no measurements are left)."""
        images = {key: ms for key, ms in self._images.items() if ms}
        if not images:
            self.path.unlink(missing_ok=True)
            return self.path
        return _write_sidecar(self.path, images)

    def get(self, image: MeasuredImage, frame: int = 0) -> list[Measurement]:
        return list(self._images.get(image_key(image, frame), []))

    def set(self, image: MeasuredImage, frame: int, measurements: Sequence[Measurement]) -> None:
        self._images[image_key(image, frame)] = list(measurements)

    def add(self, image: MeasuredImage, frame: int, measurement: Measurement) -> None:
        self._images.setdefault(image_key(image, frame), []).append(measurement)

    def remove(self, image: MeasuredImage, frame: int, measurement_id: str) -> bool:
        """Drop one measurement by id; False when there was none with that id."""
        key = image_key(image, frame)
        kept = [m for m in self._images.get(key, []) if m.id != measurement_id]
        removed = len(kept) != len(self._images.get(key, []))
        self._images[key] = kept
        return removed

    def delete(self) -> None:
        """Forget every measurement of the study and remove its sidecar."""
        self._images = {}
        self.path.unlink(missing_ok=True)

    def image_keys(self) -> list[str]:
        return sorted(key for key, ms in self._images.items() if ms)


def _write_sidecar(path: Path, images: Mapping[str, Sequence[Measurement]]) -> Path:
    payload = {
        "schema_version": SCHEMA_VERSION,
        "images": {key: [m.to_json() for m in ms] for key, ms in sorted(images.items())},
    }
    return atomic_write_text(path, json.dumps(payload, indent=1, ensure_ascii=False))


_DERIVED_KEY = re.compile(re.escape(DERIVED_PREFIX) + r"(?:study|series|instance):[0-9a-f]{32}")


def move_legacy_sidecar(study_key: str, path: Path, legacy_keys: Mapping[str, str]) -> bool:
    """Move the sidecar RadLens ≤ 0.3.0 saved under the unkeyed form of `study_key` to `path`,
    with the derived keys inside rewritten by `legacy_keys` (old → new). The new file is written
    atomically before the old one is removed; on failure the old one stays and one line is
    logged (no patient data, no file name: the old name is a guessable pseudonym). True when
    moved."""
    old_study = next((old for old, new in legacy_keys.items() if new == study_key), None)
    if old_study is None or old_study == study_key:
        return False
    old_path = sidecar_path(old_study, path.parent)
    if not old_path.exists():
        return False
    try:
        _write_sidecar(path, _rekeyed_images(_read_sidecar(old_path), legacy_keys))
        old_path.unlink()
    except (OSError, RadLensError) as exc:
        _log_not_moved(exc)
        return False
    return True


def _log_not_moved(exc: Exception) -> None:
    reason = exc.strerror if isinstance(exc, OSError) and exc.strerror else type(exc).__name__
    log.warning(
        "measurements saved by RadLens 0.3.0 not moved to this installation's keys "
        "(%s); the old file is kept",
        reason,
    )


def _rekeyed_images(
    images: Mapping[str, list[Measurement]], legacy_keys: Mapping[str, str]
) -> dict[str, list[Measurement]]:
    """The images with each derived key of ≤ 0.3.0 in their keys (an instance's, a view's
    series) made today's; an image saved under both keeps the measurements of both."""
    rekeyed: dict[str, list[Measurement]] = {}
    for key, measurements in images.items():
        new_key = _DERIVED_KEY.sub(lambda m: legacy_keys.get(m.group(0), m.group(0)), key)
        rekeyed.setdefault(new_key, []).extend(measurements)
    return rekeyed


def _read_sidecar(path: Path) -> dict[str, list[Measurement]]:
    try:
        payload = json.loads(path.read_text(encoding="utf-8"))
        if payload.get("schema_version") != SCHEMA_VERSION:
            raise ValueError(f"schema version {payload.get('schema_version')!r} is not supported")
        return {
            str(key): [Measurement.from_json(item) for item in items]
            for key, items in payload["images"].items()
        }
    except (OSError, ValueError, KeyError, TypeError, IndexError, AttributeError) as exc:
        raise RadLensError(f"{path}: not a readable measurements file ({exc})") from exc
