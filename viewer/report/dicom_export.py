"""AI results as DICOM, in the source's study: a Secondary Capture of the key image with its
heatmap burned in (RGB), and a Comprehensive SR (TID 1500 measurement report) holding the
findings, probabilities and thresholds, referencing the source image by SOP Class/Instance UID.

Each object gets its own new series (a series holds one modality) and new UIDs; the source
files are never written. highdicom validates the objects while constructing them.
"""

from __future__ import annotations

import io
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import highdicom as hd
from highdicom.sr import CodedConcept
from pydicom import Dataset
from pydicom.sr.codedict import codes
from pydicom.uid import ExplicitVRLittleEndian

import viewer
from viewer.core.atomic import atomic_write_bytes
from viewer.report.report_data import FindingRow, KeyImage, ModelSummary

MANUFACTURER = "RadLens"
SC_SERIES_NUMBER = 990
SR_SERIES_NUMBER = 991
PRIVATE_SCHEME = "99RADLENS"
PROBABILITY = CodedConcept("RL0001", PRIVATE_SCHEME, "AI probability")
THRESHOLD = CodedConcept("RL0002", PRIVATE_SCHEME, "AI operating threshold")
COMMENT = CodedConcept("121106", "DCM", "Comment")
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


def export_ai_dicom(
    source: Dataset,
    key: KeyImage,
    findings: Sequence[FindingRow],
    model: ModelSummary,
    out_dir: str | Path,
    caution: str = "",
) -> DicomExport:
    """Write SC + SR for the key image of `source` (its header; pixel data not needed).
    `caution`: why the image is outside the model's intended use, put in both objects."""
    if key.overlay is None:
        raise ValueError("the key image has no heatmap to export")
    sc = secondary_capture(source, key, caution)
    sr = findings_sr(source, key, findings, model, caution)
    out = Path(out_dir)
    return DicomExport(
        sc_path=_write(sc, out / f"SC_{sc.SOPInstanceUID}.dcm"),
        sr_path=_write(sr, out / f"SR_{sr.SOPInstanceUID}.dcm"),
        sc=sc,
        sr=sr,
    )


def secondary_capture(source: Dataset, key: KeyImage, caution: str = "") -> hd.sc.SCImage:
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
    sc.DerivationDescription = f"{key.overlay_caption} burned into the displayed image"
    sc.ImageComments = " ".join(filter(None, [viewer.RESEARCH_USE_NOTICE, caution]))
    sc.BurnedInAnnotation = "NO"
    sc.SoftwareVersions = f"RadLens {viewer.__version__}"
    sc.SourceImageSequence = [_image_reference(source, key)]
    return sc


def findings_sr(
    source: Dataset,
    key: KeyImage,
    findings: Sequence[FindingRow],
    model: ModelSummary,
    caution: str = "",
) -> hd.sr.ComprehensiveSR:
    algorithm = hd.sr.AlgorithmIdentification(name=model.name, version=model.version or "0")
    groups = [_finding_group(source, key, finding, algorithm) for finding in findings]
    if caution:
        for group in groups:
            group[0].ContentSequence.append(_comment(caution))
    report = hd.sr.MeasurementReport(
        observation_context=_device_observer(model),
        procedure_reported=IMAGING_PROCEDURE,
        imaging_measurements=groups,
    )
    sr = hd.sr.ComprehensiveSR(
        evidence=[source],
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
    source: Dataset, key: KeyImage, finding: FindingRow, algorithm: hd.sr.AlgorithmIdentification
) -> hd.sr.MeasurementsAndQualitativeEvaluations:
    concept = finding_concept(finding.label)
    return hd.sr.MeasurementsAndQualitativeEvaluations(
        tracking_identifier=hd.sr.TrackingIdentifier(
            uid=hd.UID(), identifier=f"AI finding: {finding.label}"
        ),
        finding_type=concept,
        algorithm_id=algorithm,
        source_images=[_source_image(source, key)],
        measurements=[
            _ratio(PROBABILITY, finding.probability, algorithm),
            _ratio(THRESHOLD, finding.threshold, algorithm),
        ],
        qualitative_evaluations=[
            hd.sr.QualitativeEvaluation(
                name=concept, value=codes.SCT.Present if finding.positive else codes.SCT.Absent
            )
        ],
    )


def _comment(text: str) -> hd.sr.TextContentItem:
    """A TEXT item (DCM 121106 "Comment") in a finding's group: e.g. the intended-use caution."""
    return hd.sr.TextContentItem(
        name=COMMENT, value=text[:1024], relationship_type=hd.sr.RelationshipTypeValues.CONTAINS
    )


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
    return [key.frame_index + 1] if int(source.get("NumberOfFrames", 1) or 1) > 1 else None


def _source_image(source: Dataset, key: KeyImage) -> hd.sr.SourceImageForMeasurementGroup:
    return hd.sr.SourceImageForMeasurementGroup(
        referenced_sop_class_uid=source.SOPClassUID,
        referenced_sop_instance_uid=source.SOPInstanceUID,
        referenced_frame_numbers=_frame_numbers(source, key),
    )


def _image_reference(source: Dataset, key: KeyImage) -> Dataset:
    item = Dataset()
    item.ReferencedSOPClassUID = source.SOPClassUID
    item.ReferencedSOPInstanceUID = source.SOPInstanceUID
    frames = _frame_numbers(source, key)
    if frames:
        item.ReferencedFrameNumber = frames[0]
    return item


def _private_scheme() -> Dataset:
    """Declares the local coding scheme used for concepts DICOM/SNOMED do not define."""
    item = Dataset()
    item.CodingSchemeDesignator = PRIVATE_SCHEME
    item.CodingSchemeName = "RadLens local codes"
    item.CodingSchemeResponsibleOrganization = "RadLens project"
    return item


def _write(dataset: Dataset, path: Path) -> Path:
    buffer = io.BytesIO()
    dataset.save_as(buffer, enforce_file_format=True)
    return atomic_write_bytes(path, buffer.getvalue())
