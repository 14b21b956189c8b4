"""The measurements made in RadLens as TID 1410 planar ROI groups of the exported SR: each with
its graphic (SCOORD on the key image: POLYLINE for lengths and angles, ELLIPSE, closed POLYLINE
for rectangles) and its values (length, angle, area, mean/SD/min/max of the modality values).

A measurement made on a reformatted (MPR) plane lies on no acquired image, so its graphic is a
SCOORD3D instead: the same outline in patient coordinates (mm, LPS) in the volume's Frame of
Reference (POLYLINE, ELLIPSE, POLYGON for rectangles), and its tracking identifier names the
plane and slab it was made on (`ReformatPlane`). Its values are those the viewer shows (mm on
the plane's square pixels). A report holding such graphics is a Comprehensive 3D SR
(SCOORD3D is not allowed in a Comprehensive SR).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import highdicom as hd
import numpy as np
from highdicom.sr import CodedConcept
from pydicom import Dataset
from pydicom.sr.codedict import codes

from viewer.core.geometry import FrameGeometry
from viewer.core.measurements import KINDS, Measurement, roi_stats
from viewer.core.presets import modality_values

PRIVATE_SCHEME = "99RADLENS"  # RadLens local codes (declared in each SR written)
MODALITY_VALUE = CodedConcept("RL0005", PRIVATE_SCHEME, "Modality value")
MM, MM2 = codes.UCUM.Millimeter, CodedConcept("mm2", "UCUM", "square millimeter")
PIXELS = PIXELS2 = CodedConcept("{pixels}", "UCUM", "pixels")
DEGREES = CodedConcept("deg", "UCUM", "degree")
HOUNSFIELD = CodedConcept("[hnsf'U]", "UCUM", "Hounsfield unit")
# per quantity of a kind (`KINDS`): concept, unit with a pixel spacing, unit without
QUANTITIES = {
    "length": (codes.SCT.Length, MM, PIXELS),
    "angle": (codes.DCM.Angle, DEGREES, DEGREES),
    "area": (codes.SCT.Area, MM2, PIXELS2),
}
GRAPHIC_TYPES = {"polyline": "POLYLINE", "ellipse": "ELLIPSE", "rectangle": "POLYLINE"}
GRAPHIC_TYPES_3D = {"polyline": "POLYLINE", "ellipse": "ELLIPSE", "rectangle": "POLYGON"}
STATISTICS = (
    ("mean", codes.SCT.Mean),
    ("sd", codes.SCT.StandardDeviation),
    ("min", codes.SCT.Minimum),
    ("max", codes.SCT.Maximum),
)


@dataclass(frozen=True)
class ReformatPlane:
    """The reformatted frame the measurements were made on: where its pixels lie in the patient
    (`geometry`: pixel (row, col) → mm, LPS), its volume's Frame of Reference UID and a caption
    naming the plane and slab (e.g. "coronal reformat, frame 65 of 130, MIP 10 mm slab")."""

    geometry: FrameGeometry
    frame_of_reference_uid: str
    caption: str


def measurement_groups(
    source: Dataset,
    frame_numbers: list[int] | None,
    measurements: Sequence[Measurement],
    spacing: tuple[float, float] | None,
    values: np.ndarray | None,
    plane: ReformatPlane | None = None,
) -> list[hd.sr.PlanarROIMeasurementsAndQualitativeEvaluations]:
    """One group per measurement; on a reformat (`plane`), graphics in patient coordinates."""
    region_source = hd.sr.SourceImageForRegion(
        referenced_sop_class_uid=source.SOPClassUID,
        referenced_sop_instance_uid=source.SOPInstanceUID,
        referenced_frame_numbers=frame_numbers,
    )
    grey = values if values is not None and np.ndim(values) == 2 else None
    where = f" on the {plane.caption}" if plane is not None else ""
    return [
        hd.sr.PlanarROIMeasurementsAndQualitativeEvaluations(
            tracking_identifier=hd.sr.TrackingIdentifier(
                uid=hd.UID(), identifier=f"RadLens measurement {n}: {m.label or m.kind}{where}"
            ),
            referenced_region=_region(m, region_source, plane),
            measurements=_values(m, modality_concept(source), spacing, grey),
        )
        for n, m in enumerate(measurements, start=1)
    ]


def _region(
    measurement: Measurement, source: hd.sr.SourceImageForRegion, plane: ReformatPlane | None
) -> hd.sr.ImageRegion | hd.sr.ImageRegion3D:
    """SCOORD on the source image, or SCOORD3D in patient coordinates for a reformat."""
    if plane is None:
        return hd.sr.ImageRegion(
            graphic_type=_graphic_type(measurement),
            graphic_data=scoord_points(measurement),
            source_image=source,
        )
    return hd.sr.ImageRegion3D(
        graphic_type=GRAPHIC_TYPES_3D[KINDS[measurement.kind].outline],
        graphic_data=scoord3d_points(measurement, plane.geometry),
        frame_of_reference_uid=plane.frame_of_reference_uid,
    )


def modality_concept(source: Dataset) -> tuple[CodedConcept, CodedConcept]:
    """What ROI statistics measure, and in which unit: HU on CT, else the modality value."""
    if modality_values(str(source.get("Modality", ""))).unit == "HU":
        return codes.DCM.AttenuationCoefficient, HOUNSFIELD
    return MODALITY_VALUE, codes.UCUM.NoUnits


def _graphic_type(measurement: Measurement) -> str:
    return GRAPHIC_TYPES[KINDS[measurement.kind].outline]


def outline_points(measurement: Measurement) -> list[tuple[float, float]]:
    """The (row, col) points of the measurement's graphic: its own points for lengths and
    angles, the closed corners of a rectangle, the major then minor axis of an ellipse."""
    points = measurement.points
    outline = KINDS[measurement.kind].outline
    if outline in ("ellipse", "rectangle"):
        (r0, c0), (r1, c1) = points
        top, bottom, left, right = min(r0, r1), max(r0, r1), min(c0, c1), max(c0, c1)
        if outline == "rectangle":
            points = [(top, left), (top, right), (bottom, right), (bottom, left), (top, left)]
        else:
            mid_r, mid_c = (top + bottom) / 2, (left + right) / 2
            horizontal = [(mid_r, left), (mid_r, right)]
            vertical = [(top, mid_c), (bottom, mid_c)]
            wide = (right - left) >= (bottom - top)
            points = horizontal + vertical if wide else vertical + horizontal
    return list(points)


def scoord_points(measurement: Measurement) -> np.ndarray:
    """(column, row) with (0, 0) the top left corner of the image (pixel centres at +0.5)."""
    points = outline_points(measurement)
    return np.array([(c + 0.5, r + 0.5) for r, c in points], dtype=np.float32)


def scoord3d_points(measurement: Measurement, geometry: FrameGeometry) -> np.ndarray:
    """(x, y, z) patient coordinates in mm of the outline's pixel-centre points on `geometry`."""
    points = outline_points(measurement)
    return np.array([geometry.pixel_to_patient(r, c) for r, c in points], dtype=np.float64)


def _values(
    measurement: Measurement,
    value_concept: tuple[CodedConcept, CodedConcept],
    spacing: tuple[float, float] | None,
    values: np.ndarray | None,
) -> list[hd.sr.Measurement]:
    scale = spacing if spacing is not None else (1.0, 1.0)
    kind = KINDS[measurement.kind]
    concept, unit, pixel_unit = QUANTITIES[kind.quantity]
    value = kind.measure(measurement.points, scale)
    result = [_num(concept, value, unit if spacing is not None else pixel_unit)]
    if kind.is_region and values is not None:
        stats = roi_stats(values, measurement, scale)
        if stats.pixel_count == 0:  # no pixel centre inside: no statistics (not NaN)
            return result
        name, unit = value_concept
        for attribute, derivation in STATISTICS:
            result.append(_num(name, getattr(stats, attribute), unit, derivation))
    return result


def _num(name, value: float, unit, derivation=None) -> hd.sr.Measurement:
    return hd.sr.Measurement(
        name=name, value=round(float(value), 6), unit=unit, derivation=derivation
    )
