"""Everything a report shows, as plain data (`ReportData`), built from index/series/result/card.

The PDF writer and the DICOM export only read these dataclasses, so both are testable without
Qt or a model. Anonymisation happens here: an anonymised `ReportData` never holds the patient's
or the study's identifiers, so nothing downstream can leak them.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

import viewer
from viewer.core.measurements import describe
from viewer.report.overlay import burn_in_heatmap
from viewer.report.text import dicom_date, person_name

ANONYMISED_NOTE = "Anonymised report: patient and study identifiers have been removed."


@dataclass(frozen=True)
class KeyImage:
    """One key image as displayed (window/level applied) and with the heatmap burned in."""

    caption: str
    display: np.ndarray  # uint8 HxW or HxWx3, as shown
    overlay: np.ndarray | None = None  # uint8 HxWx3 with the heatmap, None without a result
    overlay_caption: str = ""
    sop_class_uid: str = ""
    sop_instance_uid: str = ""
    frame_index: int = 0


@dataclass(frozen=True)
class FindingRow:
    label: str
    probability: float
    threshold: float
    positive: bool

    @property
    def call(self) -> str:
        return "positive" if self.positive else "negative"


@dataclass(frozen=True)
class MeasurementRow:
    kind: str
    value: str
    image: str = ""


@dataclass(frozen=True)
class ModelSummary:
    """The part of a model card a report shows."""

    name: str
    version: str
    sha256: str = ""
    intended_use: str = ""
    training_data: str = ""
    validation_data: str = ""
    validation_metrics: tuple[tuple[str, str], ...] = ()
    license: str = ""
    citation: str = ""

    @classmethod
    def from_card_summary(cls, summary: Mapping[str, Any]) -> ModelSummary:
        """From `ModelCard.summary()`."""
        metrics = summary.get("validation_metrics") or {}
        return cls(
            name=str(summary.get("name", "")),
            version=str(summary.get("version", "")),
            sha256=str(summary.get("sha256", "")),
            intended_use=str(summary.get("intended_use", "")),
            training_data=_as_text(summary.get("training_data", "")),
            validation_data=_as_text(summary.get("validation_data", "")),
            validation_metrics=tuple(
                (str(k), _metric_text(v)) for k, v in metrics.items() if _is_metric(v)
            ),
            license=str(summary.get("license", "")),
            citation=str(summary.get("citation", "")),
        )


@dataclass(frozen=True)
class StudyDetails:
    """Patient and study identifiers shown at the top of the report."""

    institution: str = ""
    patient_name: str = ""
    patient_id: str = ""
    birth_date: str = ""
    sex: str = ""
    study_date: str = ""
    study_description: str = ""
    accession_number: str = ""
    referring_physician: str = ""

    def rows(self) -> list[tuple[str, str]]:
        return [
            ("Institution", self.institution),
            ("Patient", self.patient_name),
            ("Patient ID", self.patient_id),
            ("Birth date", self.birth_date),
            ("Sex", self.sex),
            ("Study date", self.study_date),
            ("Study", self.study_description),
            ("Accession number", self.accession_number),
            ("Referring physician", self.referring_physician),
        ]


@dataclass(frozen=True)
class ReportData:
    details: StudyDetails
    key_images: tuple[KeyImage, ...]
    findings: tuple[FindingRow, ...] = ()
    model: ModelSummary | None = None
    measurements: tuple[MeasurementRow, ...] = ()
    impression: str = ""
    analysis_notes: tuple[str, ...] = ()
    intended_use_reasons: tuple[str, ...] = ()  # the image is outside/unverifiable: why
    anonymized: bool = False
    generated_at: dt.datetime = field(default_factory=lambda: dt.datetime.now().astimezone())
    radlens_version: str = viewer.__version__
    disclaimer: str = viewer.RESEARCH_USE_NOTICE


def study_details(study: Any) -> StudyDetails:
    """From a `StudyInfo` (with its `patient` back reference)."""
    patient = study.patient
    return StudyDetails(
        institution=_as_text(study.institution),
        patient_name=person_name(patient.name),
        patient_id=_as_text(patient.patient_id),
        birth_date=dicom_date(patient.birth_date),
        sex=_as_text(patient.sex),
        study_date=dicom_date(study.date),
        study_description=_as_text(study.description),
        accession_number=_as_text(study.accession_number),
        referring_physician=person_name(study.referring_physician),
    )


def finding_rows(result: Any) -> tuple[FindingRow, ...]:
    """From an `AnalysisResult`, most probable first."""
    rows = [
        FindingRow(f.label, float(f.probability), float(f.threshold), bool(f.positive))
        for f in result.findings
    ]
    return tuple(sorted(rows, key=lambda row: row.probability, reverse=True))


def analysis_notes(result: Any) -> tuple[str, ...]:
    """The device, and the engine's warnings (an intended-use warning always among them)."""
    notes = [f"Computed on {result.device}."] if getattr(result, "device", "") else []
    warnings = [_sentence(w) for w in getattr(result, "warnings", ())]
    if not getattr(result, "intended_use_ok", True) and not any(
        "intended use" in w for w in warnings
    ):
        warnings.append("This image is outside the model's intended use.")
    return tuple(notes + warnings)


def intended_use_caution(reasons: Sequence[str], analysed: bool) -> str:
    """One sentence for a report or an export: the reasons, and whether the model still ran."""
    unverifiable = all(r.lower().startswith("intended use not verifiable") for r in reasons)
    what = (
        "; ".join(reasons)
        if unverifiable
        else f"Outside the model's intended use: {'; '.join(reasons)}"
    )
    verdict = (
        "Analysed on request; interpret with caution." if analysed else "The model was not run."
    )
    return f"{_sentence(what)}. {verdict}"


def _sentence(text: object) -> str:
    text = str(text).strip()
    return text[:1].upper() + text[1:] if text else text


def heatmap_label(result: Any) -> str:
    """The label whose heatmap a report shows: the most probable finding that has one."""
    for row in finding_rows(result):
        if row.label in result.heatmaps:
            return row.label
    return next(iter(result.heatmaps), "")


def key_image(
    display: np.ndarray,
    caption: str,
    result: Any | None = None,
    *,
    sop_class_uid: str = "",
    sop_instance_uid: str = "",
    frame_index: int = 0,
) -> KeyImage:
    """A key image; with a result, the most probable finding's heatmap is burned into a copy."""
    overlay, overlay_caption = None, ""
    label = heatmap_label(result) if result is not None else ""
    if label:
        overlay = burn_in_heatmap(display, result.heatmaps[label])
        overlay_caption = f"Grad-CAM heatmap: {label}"
    return KeyImage(
        caption=caption,
        display=np.asarray(display),
        overlay=overlay,
        overlay_caption=overlay_caption,
        sop_class_uid=sop_class_uid,
        sop_instance_uid=sop_instance_uid,
        frame_index=frame_index,
    )


def measurement_rows(
    measurements: Iterable[Any],
    spacing: tuple[float, float] | None,
    values: np.ndarray | None = None,
    image: str = "",
) -> tuple[MeasurementRow, ...]:
    """From the `Measurement`s a `MeasurementStore` holds for one image, numbered as drawn."""
    grey = values if values is not None and np.ndim(values) == 2 else None
    return tuple(
        MeasurementRow(f"{n}. {m.label or m.kind}", describe(m, spacing, grey), image)
        for n, m in enumerate(measurements, start=1)
    )


def build_report_data(
    study: Any,
    key_images: Sequence[KeyImage],
    result: Any | None = None,
    card_summary: Mapping[str, Any] | None = None,
    measurements: Iterable[MeasurementRow] = (),
    impression: str = "",
    *,
    anonymize: bool = False,
    generated_at: dt.datetime | None = None,
) -> ReportData:
    """Collect what the report shows; `study` is a `StudyInfo`, `result` an `AnalysisResult`."""
    return ReportData(
        details=StudyDetails() if anonymize else study_details(study),
        key_images=tuple(key_images),
        findings=finding_rows(result) if result is not None else (),
        model=ModelSummary.from_card_summary(card_summary) if card_summary else None,
        measurements=tuple(measurements),
        impression=impression.strip(),
        analysis_notes=analysis_notes(result) if result is not None else (),
        intended_use_reasons=tuple(getattr(result, "intended_use_reasons", ()) or ()),
        anonymized=anonymize,
        generated_at=generated_at or dt.datetime.now().astimezone(),
    )


def _as_text(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, Mapping):
        return "; ".join(f"{k}: {_as_text(v)}" for k, v in value.items())
    if isinstance(value, list | tuple):
        return ", ".join(_as_text(v) for v in value)
    return str(value).strip()


def _is_metric(value: Any) -> bool:
    """Numbers and number ranges (e.g. a confidence interval); descriptions are shown apart."""
    values = value if isinstance(value, list | tuple) else [value]
    return bool(values) and all(
        isinstance(v, int | float) and not isinstance(v, bool) for v in values
    )


def _metric_text(value: Any) -> str:
    if isinstance(value, list | tuple):
        return "-".join(_metric_text(v) for v in value)
    if isinstance(value, float):
        return f"{value:.3f}"
    return str(value)
