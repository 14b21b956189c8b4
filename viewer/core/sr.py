"""DICOM Structured Reports: any SR as readable text, TID 1500 Measurement Reports as data.

`read_report(path) -> StructuredReport` parses the content tree once: `lines` is the whole
tree as indented text (every SR, whatever its template), `groups` the TID 1500 measurement
groups (finding, finding site, measurements with units and derivation, qualitative
evaluations, SCOORD/SCOORD3D graphics with the image they lie on, referenced segment). A
report reads whether or not the images it references are open; `graphics_on_image` then
places the graphics on a displayed image (SCOORD by SOP Instance UID and frame, SCOORD3D by
Frame of Reference and plane). Qt-free.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
from pydicom.dataset import Dataset
from pydicom.uid import UID

from viewer.core.errors import DicomReadError
from viewer.core.seg import TargetImage, read_dicom_object

SR_SOP_PREFIX = "1.2.840.10008.5.1.4.1.1.88."
MAX_DEPTH = 64
MAX_ITEMS = 100_000
MAX_TEXT_CHARS = 2000
POINTS_SHOWN = 4  # a SCOORD3D's text lists this many points, then the count
UID_SHOWN = 28  # characters of a UID the text keeps (start … end)
IN_PLANE_MM = 0.5  # how far off the plane a SCOORD3D point may lie when no thickness is known

# Concepts by code value (any scheme) or, for old SRT codes, by meaning.
TRACKING_ID, TRACKING_UID = ("112039",), ("112040",)
FINDING = ("121071",)
FINDING_SITE = ("363698007", "G-C0E3", "finding site")
DERIVATION = ("121401",)
METHOD = ("370129005", "G-C036", "measurement method")
ALGORITHM_NAME, ALGORITHM_VERSION = ("111001",), ("111003", "111002")  # + parameters
MEASUREMENT_GROUP = ("125007",)
IDENTIFYING_VALUE_TYPES = ("PNAME", "DATE", "TIME", "DATETIME")  # hidden when anonymised
IMAGE_LIBRARY = ("111028",)
ATTRIBUTES = FINDING + FINDING_SITE + DERIVATION + METHOD + ("276214006", "finding category")


@dataclass(frozen=True)
class Graphic:
    value_type: str  # SCOORD or SCOORD3D
    graphic_type: str  # POINT, MULTIPOINT, POLYLINE, POLYGON, CIRCLE, ELLIPSE, ELLIPSOID
    points: tuple[tuple[float, ...], ...]  # SCOORD: (row, col) pixel centres; 3D: (x, y, z) mm
    image_uid: str = ""  # SCOORD: the image it is drawn on
    image_frame: int | None = None  # 0-based frame of a multi-frame image
    frame_of_reference_uid: str = ""  # SCOORD3D
    label: str = ""  # what it outlines (the group's finding or tracking identifier)


@dataclass(frozen=True)
class Measurement:
    name: str
    value: float | None
    unit: str
    derivation: str = ""

    def text(self) -> str:
        name = f"{self.name} ({self.derivation})" if self.derivation else self.name
        value = "(no value)" if self.value is None else f"{self.value:.6g}"
        return f"{name}: {value} {self.unit}".rstrip()


@dataclass(frozen=True)
class MeasurementGroup:
    tracking_id: str = ""
    tracking_uid: str = ""
    finding: str = ""
    finding_site: str = ""
    algorithm: str = ""
    measurements: tuple[Measurement, ...] = ()
    evaluations: tuple[tuple[str, str], ...] = ()  # (concept, value)
    comments: tuple[str, ...] = ()
    graphics: tuple[Graphic, ...] = ()
    source_images: tuple[str, ...] = ()
    segment: tuple[str, int] | None = None  # (SEG SOP Instance UID, segment number)

    @property
    def title(self) -> str:
        parts = [p for p in (self.finding, self.finding_site) if p]
        return " — ".join(parts) or self.tracking_id or "Measurement group"


@dataclass(frozen=True)
class StructuredReport:
    path: str
    sop_class_uid: str
    sop_instance_uid: str
    series_instance_uid: str
    study_instance_uid: str
    title: str
    completion: str
    verification: str
    groups: tuple[MeasurementGroup, ...]
    lines: tuple[str, ...]
    referenced_instances: tuple[str, ...]
    truncated: bool = False
    identifying_lines: frozenset[int] = frozenset()  # lines holding a person name or a date

    @property
    def is_measurement_report(self) -> bool:
        return bool(self.groups) or "measurement report" in self.title.lower()

    @property
    def kind(self) -> str:
        return UID(self.sop_class_uid).name or "Structured Report"

    def text(self, anonymise: bool = False) -> str:
        """The content tree as text; with `anonymise`, names and dates (observers, verifiers,
        content dates) are hidden."""
        if not anonymise:
            return "\n".join(self.lines)
        return "\n".join(
            _hidden_value(line) if i in self.identifying_lines else line
            for i, line in enumerate(self.lines)
        )


def _hidden_value(line: str) -> str:
    name, separator, _ = line.partition(": ")
    return (
        f"{name}: (hidden: anonymise on screen)" if separator else "(hidden: anonymise on screen)"
    )


def is_structured_report(sop_class_uid: str, modality: str = "") -> bool:
    return str(sop_class_uid).startswith(SR_SOP_PREFIX) or modality.upper() == "SR"


def read_report(path: str | Path) -> StructuredReport:
    return read_dicom_object(path, "SR", report_from_dataset)


def report_from_dataset(path: str, ds: Dataset) -> StructuredReport:
    if not is_structured_report(str(ds.get("SOPClassUID", "")), str(ds.get("Modality", ""))):
        raise DicomReadError(path, "not a DICOM Structured Report")
    if "ContentSequence" not in ds and "ConceptNameCodeSequence" not in ds:
        raise DicomReadError(path, "SR without content")
    walker = _Walker()
    title = _meaning(ds, "ConceptNameCodeSequence") or "Structured Report"
    walker.lines.append(title)
    walker.walk(ds.get("ContentSequence", []), 1)
    return StructuredReport(
        path=path,
        sop_class_uid=str(ds.get("SOPClassUID", "")),
        sop_instance_uid=str(ds.get("SOPInstanceUID", "")),
        series_instance_uid=str(ds.get("SeriesInstanceUID", "")),
        study_instance_uid=str(ds.get("StudyInstanceUID", "")),
        title=title,
        completion=str(ds.get("CompletionFlag", "") or ""),
        verification=str(ds.get("VerificationFlag", "") or ""),
        groups=tuple(_groups(ds.get("ContentSequence", []))),
        lines=tuple(walker.lines),
        referenced_instances=tuple(dict.fromkeys(walker.references)),
        truncated=walker.truncated,
        identifying_lines=frozenset(walker.identifying),
    )


# --- the whole tree as text ------------------------------------------------------------------


class _Walker:
    def __init__(self) -> None:
        self.lines: list[str] = []
        self.identifying: list[int] = []
        self.references: list[str] = []
        self.count = 0
        self.truncated = False

    def walk(self, items, depth: int) -> None:
        for item in items:
            self.count += 1
            if depth > MAX_DEPTH or self.count > MAX_ITEMS:
                self.truncated = True
                self.lines.append("  " * depth + "… (content tree too deep or too large)")
                return
            uid = _referenced_uid(item)
            if uid:
                self.references.append(uid)
            if str(item.get("ValueType", "")) in IDENTIFYING_VALUE_TYPES:
                self.identifying.append(len(self.lines))
            self.lines.append("  " * depth + item_text(item))
            self.walk(item.get("ContentSequence", []), depth + 1)


def item_text(item: Dataset) -> str:
    name = _meaning(item, "ConceptNameCodeSequence")
    value = value_text(item)
    if not name:
        return value
    return f"{name}: {value}" if value else name


def value_text(item: Dataset) -> str:
    kind = str(item.get("ValueType", ""))
    if "ReferencedContentItemIdentifier" in item:
        return "(see item " + ".".join(str(v) for v in item.ReferencedContentItemIdentifier) + ")"
    if kind == "NUM":
        measurement = _measurement(item)
        return "" if measurement is None else measurement.text().split(": ", 1)[-1]
    if kind == "CODE":
        return _meaning(item, "ConceptCodeSequence")
    if kind == "TEXT":
        return str(item.get("TextValue", ""))[:MAX_TEXT_CHARS]
    if kind in ("DATE", "TIME", "DATETIME", "PNAME", "UIDREF"):
        keyword = {"PNAME": "PersonName", "UIDREF": "UID"}.get(kind, kind.title())
        return str(item.get(keyword, ""))
    if kind in ("IMAGE", "COMPOSITE", "WAVEFORM"):
        return _reference_text(item)
    if kind == "SCOORD3D":
        return scoord3d_text(item)
    if kind == "SCOORD":
        points = len(item.get("GraphicData", [])) // 2
        return f"{item.get('GraphicType', '')} ({points} point(s))"
    return ""


def scoord3d_text(item: Dataset) -> str:
    """A SCOORD3D as its points (x, y, z in mm, patient coordinates, to 0.1 mm; the first
    `POINTS_SHOWN` and the count when there are more) and the Frame of Reference they are in."""
    data = [float(v) for v in (item.get("GraphicData") or [])]
    points = [data[i : i + 3] for i in range(0, len(data) - 2, 3)]
    shown = ", ".join(_point_mm(p) for p in points[:POINTS_SHOWN])
    more = f" … ({len(points)} points)" if len(points) > POINTS_SHOWN else ""
    frame_of_reference = str(item.get("ReferencedFrameOfReferenceUID", "")) or "not stated"
    return (
        f"{item.get('GraphicType', '')} (x, y, z mm): {shown or '(no points)'}{more}; "
        f"Frame of Reference {short_uid(frame_of_reference)}"
    )


def _point_mm(point: list[float]) -> str:
    return "(" + ", ".join(f"{round(v, 1) + 0.0:.1f}" for v in point) + ")"  # no "-0.0"


def short_uid(uid: str) -> str:
    """A long UID shortened for reading, its start and end kept: "1.2.826.0.1…2345678"."""
    if len(uid) <= UID_SHOWN:
        return uid
    head = UID_SHOWN // 2
    return f"{uid[:head]}…{uid[-(UID_SHOWN - head - 1) :]}"


def _reference_text(item: Dataset) -> str:
    refs = item.get("ReferencedSOPSequence") or []
    if not refs:
        return "(no reference)"
    ref = refs[0]
    kind = UID(str(ref.get("ReferencedSOPClassUID", ""))).name or "object"
    text = f"{kind} {ref.get('ReferencedSOPInstanceUID', '')}"
    if "ReferencedSegmentNumber" in ref:
        text += f" segment {ref.ReferencedSegmentNumber}"
    if "ReferencedFrameNumber" in ref:
        text += f" frame {ref.ReferencedFrameNumber}"
    return text


# --- TID 1500 ---------------------------------------------------------------------------------


def _groups(items, depth: int = 0):
    """Every Measurement Group container (TID 1501/1410/1411), wherever it sits."""
    if depth > MAX_DEPTH:
        return
    for item in items:
        if item.get("ValueType") != "CONTAINER" or _is(item, IMAGE_LIBRARY):
            continue
        if _is(item, MEASUREMENT_GROUP):
            yield _group(item)
        else:
            yield from _groups(item.get("ContentSequence", []), depth + 1)


def _group(container: Dataset) -> MeasurementGroup:
    fields: dict = {"measurements": [], "evaluations": [], "comments": [], "graphics": []}
    fields["source_images"] = []
    algorithm = []
    for item in container.get("ContentSequence", []):
        kind = item.get("ValueType")
        if _is(item, TRACKING_ID):
            fields["tracking_id"] = str(item.get("TextValue", ""))
        elif _is(item, TRACKING_UID):
            fields["tracking_uid"] = str(item.get("UID", ""))
        elif _is(item, FINDING):
            fields["finding"] = _meaning(item, "ConceptCodeSequence")
        elif _is(item, FINDING_SITE):
            fields["finding_site"] = _meaning(item, "ConceptCodeSequence")
        elif _is(item, ALGORITHM_NAME + ALGORITHM_VERSION):
            algorithm.append(str(item.get("TextValue", "")))
        elif kind == "NUM":
            _add_measurement(item, fields)
        elif kind == "CODE" and not _is(item, ATTRIBUTES):
            fields["evaluations"].append((item_text(item).split(": ", 1) + [""])[:2])
        elif kind == "TEXT":
            fields["comments"].append(item_text(item))
        elif kind in ("SCOORD", "SCOORD3D"):
            fields["graphics"].extend(_graphics(item))
        elif kind == "IMAGE":
            _add_image(item, fields)
    label = fields.get("finding") or fields.get("tracking_id", "")
    fields["graphics"] = [_labelled(g, label) for g in fields["graphics"]]
    fields["algorithm"] = " ".join(p for p in algorithm if p)
    fields["evaluations"] = [tuple(e) for e in fields["evaluations"]]
    collected: dict[str, Any] = {
        k: tuple(v) if isinstance(v, list) else v for k, v in fields.items()
    }
    return MeasurementGroup(**collected)


def _add_measurement(item: Dataset, fields: dict) -> None:
    measurement = _measurement(item)
    if measurement is not None:
        fields["measurements"].append(measurement)
    for child in item.get("ContentSequence", []):
        if child.get("ValueType") in ("SCOORD", "SCOORD3D"):
            fields["graphics"].extend(_graphics(child))


def _add_image(item: Dataset, fields: dict) -> None:
    refs = item.get("ReferencedSOPSequence") or []
    if not refs:
        return
    ref = refs[0]
    uid = str(ref.get("ReferencedSOPInstanceUID", ""))
    if "ReferencedSegmentNumber" in ref:
        fields["segment"] = (uid, int(ref.ReferencedSegmentNumber))
    else:
        fields["source_images"].append(uid)


def _measurement(item: Dataset) -> Measurement | None:
    values = item.get("MeasuredValueSequence") or []
    name = _meaning(item, "ConceptNameCodeSequence") or "Measurement"
    derivation = ""
    for child in item.get("ContentSequence", []):
        if _is(child, DERIVATION):
            derivation = _meaning(child, "ConceptCodeSequence")
    if not values:
        return Measurement(name, None, "", derivation)
    value = values[0]
    try:
        number = float(value.get("NumericValue"))
    except (TypeError, ValueError):
        number = None
    return Measurement(name, number, _unit(value), derivation)


def _unit(value: Dataset) -> str:
    units = value.get("MeasurementUnitsCodeSequence") or []
    if not units:
        return ""
    code = str(units[0].get("CodeValue", ""))
    return "" if code in ("1", "{ratio}") else code


def _graphics(item: Dataset) -> list[Graphic]:
    data = [float(v) for v in (item.get("GraphicData") or [])]
    kind = str(item.get("ValueType"))
    if kind == "SCOORD3D":
        points = tuple(tuple(data[i : i + 3]) for i in range(0, len(data) - 2, 3))
        frame_of_reference = str(item.get("ReferencedFrameOfReferenceUID", ""))
        return [
            Graphic(kind, str(item.get("GraphicType", "")), points, "", None, frame_of_reference)
        ]
    # SCOORD: (column, row) pairs with (0, 0) the top left corner of the top left pixel.
    points = tuple((data[i + 1] - 0.5, data[i] - 0.5) for i in range(0, len(data) - 1, 2))
    images = [c for c in item.get("ContentSequence", []) if c.get("ValueType") == "IMAGE"]
    uid, frame = ("", None)
    if images and images[0].get("ReferencedSOPSequence"):
        ref = images[0].ReferencedSOPSequence[0]
        uid = str(ref.get("ReferencedSOPInstanceUID", ""))
        number = ref.get("ReferencedFrameNumber")
        frame = (
            int(number[0] if isinstance(number, list | tuple) else number) - 1 if number else None
        )
    return [Graphic(kind, str(item.get("GraphicType", "")), points, uid, frame)]


def _labelled(graphic: Graphic, label: str) -> Graphic:
    return Graphic(
        graphic.value_type,
        graphic.graphic_type,
        graphic.points,
        graphic.image_uid,
        graphic.image_frame,
        graphic.frame_of_reference_uid,
        label,
    )


# --- graphics on a displayed image -----------------------------------------------------------


def graphics_on_image(
    report: StructuredReport, target: TargetImage
) -> list[tuple[Graphic, tuple[tuple[float, ...], ...]]]:
    """The report's graphics that lie on `target`, each with its (row, col) pixel points."""
    placed = []
    for group in report.groups:
        for graphic in group.graphics:
            points = place_graphic(graphic, target)
            if points:
                placed.append((graphic, points))
    return placed


def place_graphic(graphic: Graphic, target: TargetImage) -> tuple[tuple[float, ...], ...]:
    if graphic.value_type == "SCOORD":
        same = graphic.image_uid and graphic.image_uid == target.sop_instance_uid
        frame_ok = graphic.image_frame is None or graphic.image_frame == target.frame_index
        return tuple(graphic.points) if same and frame_ok else ()
    geometry = target.geometry
    if (
        geometry is None
        or not graphic.frame_of_reference_uid
        or graphic.frame_of_reference_uid != target.frame_of_reference_uid
    ):
        return ()
    points = np.asarray(graphic.points, float)
    distance = (points - np.asarray(geometry.origin, float)) @ geometry.normal
    tolerance = (geometry.slice_thickness or 2 * IN_PLANE_MM) / 2.0
    if points.size == 0 or np.abs(distance).max() > tolerance:
        return ()
    return tuple(geometry.patient_to_pixel(p) for p in points)


# --- small helpers ----------------------------------------------------------------------------


def _meaning(item: Dataset, keyword: str) -> str:
    codes = item.get(keyword) or []
    return str(codes[0].get("CodeMeaning", "")) if codes else ""


def _is(item: Dataset, concepts: tuple[str, ...]) -> bool:
    codes = item.get("ConceptNameCodeSequence") or []
    if not codes:
        return False
    code = str(codes[0].get("CodeValue", ""))
    meaning = str(codes[0].get("CodeMeaning", "")).lower()
    return code in concepts or meaning in concepts


def _referenced_uid(item: Dataset) -> str:
    if item.get("ValueType") not in ("IMAGE", "COMPOSITE", "WAVEFORM"):
        return ""
    refs = item.get("ReferencedSOPSequence") or []
    return str(refs[0].get("ReferencedSOPInstanceUID", "")) if refs else ""
