"""AI results as DICOM, in the source's study: a Secondary Capture of the key image with its
heatmap burned in (RGB), a Comprehensive SR (TID 1500 measurement report) and, for a
single-frame source, the heatmap as a FRACTIONAL SEG (see `dicom_heatmap.py` for why).

The SR holds, per finding, the probability and the operating threshold as numeric
measurements, the call (present/absent), the algorithm (name, version, weights sha256 as a
parameter), the intended-use verdict (Yes/No) with its reasons as comments, and the research-use
notice; then every measurement made in RadLens on the key image with its graphic (see
`dicom_measurements.py`). Everything references the source image by SOP Class/Instance UID,
except the graphics of measurements made on a reformatted plane: those are SCOORD3D in the
volume's Frame of Reference, and the SR is then a Comprehensive 3D SR.

Each object gets its own new series (a series holds one modality) and new UIDs; the source
files are never written. highdicom validates the objects while constructing them. Asked to
anonymise, the objects are de-identified together (`dicom_anonymize.py`) before writing.
Here the objects are built (`dicom_objects`) and turned into parts (`dicom_parts`); the one
writer is `viewer.report.compose.export_dicom`, all or none
(`viewer.core.atomic.write_all_or_nothing`): a part that cannot be encoded or written names
itself, and nothing of that export stays.
"""

from __future__ import annotations

import copy
import io
import warnings
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import highdicom as hd
import numpy as np
from highdicom.sr import CodedConcept
from pydicom import Dataset
from pydicom.sr.codedict import codes
from pydicom.uid import ExplicitVRLittleEndian

import viewer
from viewer.core.atomic import ExportPartError, Part
from viewer.core.errors import RadLensError
from viewer.core.scan import short_error
from viewer.report.dicom_anonymize import anonymized
from viewer.report.dicom_heatmap import heatmap_segmentation
from viewer.report.dicom_measurements import PRIVATE_SCHEME, ReformatPlane, measurement_groups
from viewer.report.report_data import FindingRow, KeyImage, ModelSummary

MANUFACTURER = "RadLens"
SC_SERIES_NUMBER = 990
SR_SERIES_NUMBER = 991
SEG_SERIES_NUMBER = 992
PROBABILITY = CodedConcept("RL0001", PRIVATE_SCHEME, "AI probability")
THRESHOLD = CodedConcept("RL0002", PRIVATE_SCHEME, "AI operating threshold")
INTENDED_USE = CodedConcept("RL0003", PRIVATE_SCHEME, "Within the model's intended use")
IMAGING_PROCEDURE = CodedConcept("363679005", "SCT", "Imaging")
KNOWN_FINDINGS = {
    "pneumonia": CodedConcept("233604007", "SCT", "Pneumonia"),
    "normal": CodedConcept("17621005", "SCT", "Normal"),
}


@dataclass(frozen=True)
class DicomExport:
    sc_path: Path
    sr_path: Path
    sc: Dataset
    sr: Dataset
    seg_path: Path | None = None  # the heatmap as a FRACTIONAL SEG (single-frame sources)
    seg: Dataset | None = None

    @property
    def paths(self) -> list[Path]:
        return [p for p in (self.sc_path, self.sr_path, self.seg_path) if p is not None]


@dataclass(frozen=True)
class SourceInstance:
    """One acquired image a reformatted key image draws from (frame numbers in a multi-frame
    file, from 1; empty for a single-frame file)."""

    sop_class_uid: str
    sop_instance_uid: str
    frame_numbers: tuple[int, ...] = ()


@dataclass(frozen=True)
class ReformatSource:
    """Where a reformatted (MPR) key image comes from: what it is (plane, orientation,
    position, slab, of which series) and the base series' images its pixels draw from."""

    description: str
    instances: tuple[SourceInstance, ...]


@dataclass(frozen=True)
class ExportExtras:
    """What the objects hold beyond the findings; everything optional."""

    intended_use_ok: bool | None = None  # the result's verdict; None: not known
    intended_use_reasons: tuple[str, ...] = ()
    heatmap: np.ndarray | None = None  # float HxW in [0, 1] on the source grid → FRACTIONAL SEG
    heatmap_label: str = ""
    measurements: Sequence = ()  # viewer.core.measurements.Measurement on the key image
    spacing: tuple[float, float] | None = None  # (row, column) mm; None: lengths in pixels
    values: np.ndarray | None = None  # the key image's modality values, for ROI statistics
    plane: ReformatPlane | None = None  # the key image is a reformat: graphics as SCOORD3D
    anonymize: bool = False
    caution: str = ""  # why the image is outside the model's intended use (SC ImageComments)
    reformat: ReformatSource | None = None  # the key image is a reformat: what it draws from


# "The string "<patient name>" is unlikely to represent the intended person name...": the name
# would reach stderr and logs (no patient identifiers in error output); the value is copied as is.
PERSON_NAME_WARNING = ".*unlikely to represent the intended person name"


def dicom_objects(
    source: Dataset,
    key: KeyImage,
    findings: Sequence[FindingRow],
    model: ModelSummary,
    out_dir: str | Path,
    extras: ExportExtras | None = None,
) -> DicomExport:
    """The SC, SR (and SEG) built, de-identified if asked, and where each will go; unwritten."""
    extras = extras or ExportExtras()
    if key.overlay is None:
        raise ValueError("the key image has no heatmap to export")
    source = referable_source(source)
    with warnings.catch_warnings():  # highdicom quotes odd-looking patient names in warnings
        warnings.filterwarnings("ignore", message=PERSON_NAME_WARNING)
        sc = secondary_capture(source, key, extras.caution, extras.reformat)
        sr = findings_sr(source, key, findings, model, extras)
        seg = _heatmap_seg(source, model, extras)
    if extras.anonymize:  # de-identified copies; `source` stays as it is
        sc, sr, *rest = anonymized([d for d in (sc, sr, seg) if d is not None])
        seg = rest[0] if rest else None
    out = Path(out_dir)
    return DicomExport(
        sc_path=out / f"SC_{sc.SOPInstanceUID}.dcm",
        sr_path=out / f"SR_{sr.SOPInstanceUID}.dcm",
        sc=sc,
        sr=sr,
        seg_path=None if seg is None else out / f"SEG_{seg.SOPInstanceUID}.dcm",
        seg=seg,
    )


def dicom_parts(export: DicomExport) -> list[Part]:
    """Each object encoded as a file (Part 10), ready to be written with the others."""
    objects = [("SC", export.sc, export.sc_path), ("SR", export.sr, export.sr_path)]
    if export.seg is not None and export.seg_path is not None:
        objects.append(("SEG", export.seg, export.seg_path))
    return [_encoded(name, dataset, path) for name, dataset, path in objects]


def _heatmap_seg(source: Dataset, model: ModelSummary, extras: ExportExtras):
    heatmap = extras.heatmap
    if extras.reformat is not None:  # a SEG on the source's grid would sit on one acquired image
        return None
    if heatmap is None or int(source.get("NumberOfFrames", 1) or 1) > 1:
        return None
    if np.shape(heatmap) != (int(source.Rows), int(source.Columns)):
        return None
    return heatmap_segmentation(
        source,
        heatmap,
        finding_concept(extras.heatmap_label or "finding"),
        (model.name, model.version, model.sha256),
        SEG_SERIES_NUMBER,
        MANUFACTURER,
    )


SOURCE_UIDS = ("StudyInstanceUID", "SeriesInstanceUID", "SOPClassUID", "SOPInstanceUID")


def referable_source(source: Dataset) -> Dataset:
    """`source` (a copy when its SOP Class/Instance UID came from the file meta), or
    RadLensError when a UID the objects must reference is empty in the file."""
    meta = getattr(source, "file_meta", Dataset())
    fixed = {
        k: str(meta.get(f"MediaStorage{k}", "") or "")
        for k in ("SOPClassUID", "SOPInstanceUID")
        if not str(source.get(k, "") or "")
    }
    if any(fixed.values()):
        source = copy.deepcopy(source)  # the caller's header (often cached) stays as read
        for keyword, value in fixed.items():
            if value:
                setattr(source, keyword, value)
    missing = [k for k in SOURCE_UIDS if not str(source.get(k, "") or "")]
    if missing:
        raise RadLensError(
            f"DICOM export refused: the source image's {', '.join(missing)} "
            f"{'is' if len(missing) == 1 else 'are'} empty in the file "
            "(the SC/SR must reference the source study and series by UID)"
        )
    return source


def secondary_capture(
    source: Dataset, key: KeyImage, caution: str = "", reformat: ReformatSource | None = None
) -> hd.sc.SCImage:
    sc = hd.sc.SCImage.from_ref_dataset(
        ref_dataset=source,
        pixel_array=key.overlay,
        photometric_interpretation="RGB",
        bits_allocated=8,
        coordinate_system="PATIENT",
        series_instance_uid=hd.UID(),
        series_number=SC_SERIES_NUMBER,
        sop_instance_uid=hd.UID(),
        instance_number=1,
        manufacturer=MANUFACTURER,
        patient_orientation=("L", "F"),  # replaced below by the source's own (type 2)
        transfer_syntax_uid=ExplicitVRLittleEndian,
    )
    sc.PatientOrientation = source.get("PatientOrientation", "")
    sc.Laterality = source.get("Laterality", "")  # type 2C: empty when the source has none
    sc.ConversionType = "WSD"
    sc.SeriesDescription = "RadLens AI heatmap (research use only)"
    derivation = f"{key.overlay_caption} burned into the displayed image"
    if reformat is not None:
        derivation += f"; the image is a reformatted plane: {reformat.description}"
    sc.DerivationDescription = derivation[:1024]  # ST
    sc.ImageComments = " ".join(filter(None, [viewer.RESEARCH_USE_NOTICE, caution]))
    sc.BurnedInAnnotation = "NO"
    sc.SoftwareVersions = f"RadLens {viewer.__version__}"
    sc.SourceImageSequence = [_instance_reference(i) for i in _sources(source, key, reformat)]
    return sc


def findings_sr(
    source: Dataset,
    key: KeyImage,
    findings: Sequence[FindingRow],
    model: ModelSummary,
    extras: ExportExtras | None = None,
) -> hd.sr.ComprehensiveSR | hd.sr.Comprehensive3DSR:
    extras = extras or ExportExtras()
    algorithm = hd.sr.AlgorithmIdentification(
        name=model.name,
        version=model.version or "0",
        parameters=[f"weights sha256 {model.sha256}"] if model.sha256 else None,
    )
    groups = [_finding_group(source, key, finding, algorithm, extras) for finding in findings]
    groups += measurement_groups(
        source,
        _frame_numbers(source, key),
        extras.measurements,
        extras.spacing,
        extras.values,
        extras.plane,
    )
    report = hd.sr.MeasurementReport(
        observation_context=_device_observer(model),
        procedure_reported=IMAGING_PROCEDURE,
        imaging_measurements=groups,
    )
    in_3d = extras.plane is not None and bool(extras.measurements)
    sr_class = hd.sr.Comprehensive3DSR if in_3d else hd.sr.ComprehensiveSR
    sr = sr_class(
        evidence=[source, *_reformat_evidence(source, extras.reformat)],
        content=report,
        series_instance_uid=hd.UID(),
        series_number=SR_SERIES_NUMBER,
        sop_instance_uid=hd.UID(),
        instance_number=1,
        manufacturer=MANUFACTURER,
        is_complete=True,
    )
    sr.CodingSchemeIdentificationSequence = [_private_scheme()]
    sr.SeriesDescription = "RadLens AI findings (research use only)"
    sr.SoftwareVersions = f"RadLens {viewer.__version__}"
    return sr


def finding_concept(label: str) -> CodedConcept:
    known = KNOWN_FINDINGS.get(label.strip().lower())
    if known is not None:
        return known
    code = "".join(c for c in label.upper() if c.isalnum())[:16] or "FINDING"
    return CodedConcept(code, PRIVATE_SCHEME, label)


def _finding_group(
    source: Dataset,
    key: KeyImage,
    finding: FindingRow,
    algorithm: hd.sr.AlgorithmIdentification,
    extras: ExportExtras,
) -> hd.sr.MeasurementsAndQualitativeEvaluations:
    concept = finding_concept(finding.label)
    evaluations = [
        hd.sr.QualitativeEvaluation(
            name=concept, value=codes.SCT.Present if finding.positive else codes.SCT.Absent
        )
    ]
    if extras.intended_use_ok is not None:
        verdict = codes.SCT.Yes if extras.intended_use_ok else codes.SCT.No
        evaluations.append(hd.sr.QualitativeEvaluation(name=INTENDED_USE, value=verdict))
    group = hd.sr.MeasurementsAndQualitativeEvaluations(
        tracking_identifier=hd.sr.TrackingIdentifier(
            uid=hd.UID(), identifier=f"AI finding: {finding.label}"
        ),
        finding_type=concept,
        algorithm_id=algorithm,
        source_images=[_source_image(i) for i in _sources(source, key, extras.reformat)],
        measurements=[
            _ratio(PROBABILITY, finding.probability, algorithm),
            _ratio(THRESHOLD, finding.threshold, algorithm),
        ],
        qualitative_evaluations=evaluations,
    )
    comments = [f"Outside intended use: {r}" for r in extras.intended_use_reasons]
    if extras.reformat is not None:
        comments.insert(0, f"Source image is a reformatted plane: {extras.reformat.description}")
    for text in comments + [viewer.RESEARCH_USE_NOTICE]:
        group[0].ContentSequence.append(
            hd.sr.TextContentItem(
                name=codes.DCM.Comment,
                value=text[:1024],
                relationship_type=hd.sr.RelationshipTypeValues.CONTAINS,
            )
        )
    return group


def _ratio(
    name: CodedConcept, value: float, algorithm: hd.sr.AlgorithmIdentification
) -> hd.sr.Measurement:
    return hd.sr.Measurement(
        name=name, value=round(float(value), 6), unit=codes.UCUM.NoUnits, algorithm_id=algorithm
    )


def _device_observer(model: ModelSummary) -> hd.sr.ObservationContext:
    device = hd.sr.DeviceObserverIdentifyingAttributes(
        uid=hd.UID(),
        name="RadLens",
        manufacturer_name=MANUFACTURER,
        model_name=f"{model.name} {model.version}".strip(),
    )
    return hd.sr.ObservationContext(
        observer_device_context=hd.sr.ObserverContext(
            observer_type=codes.DCM.Device, observer_identifying_attributes=device
        )
    )


def _frame_numbers(source: Dataset, key: KeyImage) -> list[int] | None:
    """The key image's frame in a multi-frame source; None for a single frame, and for a
    reformat (its key names no frame of the source: it is made of all of them)."""
    of_source = key.sop_instance_uid in ("", str(source.SOPInstanceUID))
    multi_frame = int(source.get("NumberOfFrames", 1) or 1) > 1
    return [key.frame_index + 1] if multi_frame and of_source else None


def _sources(
    source: Dataset, key: KeyImage, reformat: ReformatSource | None
) -> tuple[SourceInstance, ...]:
    """What the key image is made from: the source image itself (its frame in a multi-frame
    file), or for a reformat every acquired image it draws from."""
    if reformat is not None:
        return reformat.instances
    frames = tuple(_frame_numbers(source, key) or ())
    return (SourceInstance(str(source.SOPClassUID), str(source.SOPInstanceUID), frames),)


def _source_image(instance: SourceInstance) -> hd.sr.SourceImageForMeasurementGroup:
    return hd.sr.SourceImageForMeasurementGroup(
        referenced_sop_class_uid=instance.sop_class_uid,
        referenced_sop_instance_uid=instance.sop_instance_uid,
        referenced_frame_numbers=list(instance.frame_numbers) or None,
    )


def _reformat_evidence(source: Dataset, reformat: ReformatSource | None) -> list[Dataset]:
    """The images a reformat draws from, as SR evidence (the source is already listed)."""
    if reformat is None:
        return []
    evidence = []
    for instance in reformat.instances:
        if instance.sop_instance_uid == str(source.SOPInstanceUID):
            continue
        item = Dataset()
        item.StudyInstanceUID = source.StudyInstanceUID
        item.SeriesInstanceUID = source.SeriesInstanceUID
        item.SOPClassUID = instance.sop_class_uid
        item.SOPInstanceUID = instance.sop_instance_uid
        evidence.append(item)
    return evidence


def _instance_reference(instance: SourceInstance) -> Dataset:
    item = Dataset()
    item.ReferencedSOPClassUID = instance.sop_class_uid
    item.ReferencedSOPInstanceUID = instance.sop_instance_uid
    frames = list(instance.frame_numbers)
    if frames:
        item.ReferencedFrameNumber = frames[0] if len(frames) == 1 else frames
    return item


def _private_scheme() -> Dataset:
    """Declares the local coding scheme used for concepts DICOM/SNOMED do not define."""
    item = Dataset()
    item.CodingSchemeDesignator = PRIVATE_SCHEME
    item.CodingSchemeName = "RadLens local codes"
    item.CodingSchemeResponsibleOrganization = "RadLens project"
    return item


def _encoded(name: str, dataset: Dataset, path: Path) -> Part:
    buffer = io.BytesIO()
    try:
        dataset.save_as(buffer, enforce_file_format=True)
    except Exception as exc:  # noqa: BLE001 - named with its part, never a traceback
        raise ExportPartError(name, path, f"cannot be encoded: {short_error(exc)}") from exc
    return Part(name, path, buffer.getvalue())
