"""Non-image objects that belong to a study: segmentations, structured reports, and the like.

The header scan recognises them by SOP Class (`study_object(...)` returns None for an image),
and the index attaches them to their study instead of showing them as images (a SEG's pixels
are masks, not a picture) or skipping them as "no pixel data" (an SR). A study may hold only
such objects: an SR whose images are not here still opens. Qt-free.
"""

from __future__ import annotations

from dataclasses import dataclass

from pydicom.dataset import Dataset
from pydicom.uid import UID

from viewer.core.errors import DicomReadError
from viewer.core.seg import SEG_SOP_CLASSES, read_segmentation
from viewer.core.sr import is_structured_report, read_report

SEG, SR, OTHER = "SEG", "SR", "OTHER"
# Non-image storage classes kept beside the study (listed, not shown as images).
OTHER_NON_IMAGE = {
    "1.2.840.10008.5.1.4.1.1.67": "Real World Value Mapping",
    "1.2.840.10008.5.1.4.1.1.11.1": "Grayscale Softcopy Presentation State",
    "1.2.840.10008.5.1.4.1.1.104.1": "Encapsulated PDF",
}
CLASS_NAMES = {"1.2.840.10008.5.1.4.1.1.66.7": "Label Map Segmentation Storage"} | OTHER_NON_IMAGE


@dataclass(frozen=True)
class StudyObject:
    """A SEG, SR or other non-image object found among the inputs (header facts only)."""

    path: str
    kind: str  # SEG, SR or OTHER
    sop_class_uid: str
    sop_instance_uid: str
    modality: str
    series_instance_uid: str
    series_number: int | None
    series_description: str
    frame_of_reference_uid: str
    patient: tuple[str, ...]  # as HeaderRecord.patient
    study: tuple[str, ...]  # as HeaderRecord.study

    @property
    def class_name(self) -> str:
        return CLASS_NAMES.get(self.sop_class_uid) or UID(self.sop_class_uid).name or self.kind


def object_kind(ds: Dataset) -> str | None:
    sop_class = str(ds.get("SOPClassUID", "") or "")
    modality = str(ds.get("Modality", "") or "")
    if sop_class in SEG_SOP_CLASSES or modality.upper() == "SEG":
        return SEG
    if is_structured_report(sop_class, modality):
        return SR
    return OTHER if sop_class in OTHER_NON_IMAGE else None


def study_object(
    path: str, ds: Dataset, patient: tuple[str, ...], study: tuple[str, ...]
) -> StudyObject | None:
    """The object `ds` describes, or None when it is an image for the viewer."""
    kind = object_kind(ds)
    if kind is None:
        return None
    number = ds.get("SeriesNumber")
    return StudyObject(
        path=path,
        kind=kind,
        sop_class_uid=str(ds.get("SOPClassUID", "") or ""),
        sop_instance_uid=str(ds.get("SOPInstanceUID", "") or ""),
        modality=str(ds.get("Modality", "") or ""),
        series_instance_uid=str(ds.get("SeriesInstanceUID", "") or ""),
        series_number=int(number) if str(number or "").strip().lstrip("-").isdigit() else None,
        series_description=str(ds.get("SeriesDescription", "") or ""),
        frame_of_reference_uid=str(ds.get("FrameOfReferenceUID", "") or ""),
        patient=patient,
        study=study,
    )


def object_summary(found: StudyObject) -> dict:
    """What `radlens info` lists for an object: segments of a SEG, findings of an SR."""
    base = {
        "kind": found.kind,
        "sop_class": found.class_name,
        "sop_instance_uid": found.sop_instance_uid,
        "series_instance_uid": found.series_instance_uid,
        "description": found.series_description,
        "path": found.path,
    }
    try:
        if found.kind == SEG:
            return base | segmentation_summary(found.path)
        if found.kind == SR:
            return base | report_summary(found.path)
    except DicomReadError as exc:
        return base | {"error": exc.reason}
    return base


def segmentation_summary(path: str) -> dict:
    seg = read_segmentation(path)
    return {
        "segmentation_type": seg.seg_type,
        "frames": len(seg.frames),
        "rows": seg.rows,
        "columns": seg.columns,
        "frame_of_reference_uid": seg.frame_of_reference_uid,
        "referenced_series": list(seg.referenced_series),
        "segments": [
            {
                "number": s.number,
                "label": s.label,
                "type": s.property_type,
                "category": s.category,
                "algorithm": s.algorithm,
                "colour": "#{:02x}{:02x}{:02x}".format(*s.colour),
                "frames": len([f for f in seg.frames if f.segment in (None, s.number)]),
            }
            for s in seg.segments
        ],
    }


def report_summary(path: str) -> dict:
    report = read_report(path)
    return {
        "title": report.title,
        "completion": report.completion,
        "verification": report.verification,
        "referenced_instances": len(report.referenced_instances),
        "findings": [
            {
                "title": g.title,
                "tracking_id": g.tracking_id,
                "finding": g.finding,
                "finding_site": g.finding_site,
                "algorithm": g.algorithm,
                "measurements": [m.text() for m in g.measurements],
                "evaluations": [f"{name}: {value}" for name, value in g.evaluations],
                "comments": list(g.comments),
                "graphics": [f"{x.value_type} {x.graphic_type}" for x in g.graphics],
                "segment": list(g.segment) if g.segment else None,
            }
            for g in report.groups
        ],
        "text": list(report.lines) if not report.groups else [],
    }
