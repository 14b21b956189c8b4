"""Everything a report shows, as plain data (`ReportData`), built from index/series/result/card.

The PDF writer and the DICOM export only read these dataclasses, so both are testable without
Qt or a model. Anonymisation happens here: an anonymised `ReportData` never holds the patient's
or the study's identifiers, so nothing downstream can leak them.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from typing import Any

import numpy as np

import viewer
from viewer.core.formatting import (
    description,
    dicom_date,
    figure,
    patient_age,
    percent,
    person_name,
    sex_word,
)
from viewer.core.measurements import describe
from viewer.report.overlay import HEATMAP_MEANING, NOTHING_FOR_CLEAR_NEGATIVES, exported_heatmap

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

    @property
    def probability_text(self) -> str:
        """As the findings panel shows it, e.g. "99.0 %"."""
        return percent(self.probability)

    @property
    def threshold_text(self) -> str:
        return percent(self.threshold)


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
    key_figures: str = ""  # "AUC 0.996 (95 % CI 0.993–0.998); sensitivity 0.982, …"
    # The card's held-out test (`metrics.held_out_test`): its key figures and where it is from
    held_out_figures: str = ""
    held_out_data: str = ""
    card_rows: tuple[tuple[str, str], ...] = ()  # the whole card, for the appendix page

    @classmethod
    def from_card_summary(cls, summary: Mapping[str, Any]) -> ModelSummary:
        """From `ModelCard.summary()`; its "card" entry, when present, is the whole card
        (`ModelCard.to_dict()`), listed in the appendix."""
        metrics = summary.get("validation_metrics") or {}
        return cls(
            key_figures=key_figures(metrics),
            held_out_figures=key_figures(summary.get("held_out_metrics") or {}),
            held_out_data=_as_text(summary.get("held_out_data", "")),
            card_rows=appendix_rows(summary),
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
    """Who and what was examined, as the report's header shows it."""

    patient_name: str = ""
    patient_id: str = ""
    birth_date: str = ""
    sex: str = ""  # a word: "female"
    age: str = ""  # "4 y"; from PatientAge, else from the birth date on the study date
    modality: str = ""
    body_part: str = ""
    view: str = ""
    study_description: str = ""
    study_date: str = ""
    accession_number: str = ""
    referring_physician: str = ""
    institution: str = ""  # the study's InstitutionName (the report's own comes from settings)

    @property
    def exam(self) -> str:
        """ "DX chest, AP view" from the modality, body part and view."""
        part = self.body_part.replace("_", " ").lower()
        view = f"{self.view} view" if self.view else ""
        return ", ".join(p for p in (" ".join(p for p in (self.modality, part) if p), view) if p)

    @property
    def sex_age(self) -> str:
        return ", ".join(p for p in (self.sex, self.age) if p)

    def patient_rows(self) -> list[tuple[str, str]]:
        return [
            ("Patient", self.patient_name),
            ("Patient ID", self.patient_id),
            ("Sex, age", self.sex_age),
            ("Birth date", self.birth_date),
        ]

    def study_rows(self) -> list[tuple[str, str]]:
        return [
            ("Exam", self.exam),
            ("Study", self.study_description),
            ("Study date", self.study_date),
            ("Accession", self.accession_number),
            ("Referring physician", self.referring_physician),
        ]

    def rows(self) -> list[tuple[str, str]]:
        return self.patient_rows() + self.study_rows()

    def anonymised(self) -> StudyDetails:
        """Sex, age (90 and over as "90 y or older") and the exam only: no name, ID, date,
        accession, referring physician, institution or free-text description."""
        return StudyDetails(
            sex=self.sex,
            age=_deidentified_age(self.age),
            modality=self.modality,
            body_part=self.body_part,
            view=self.view,
        )


REPORT_STATUSES = ("preliminary", "final")


@dataclass(frozen=True)
class ReportHeader:
    """What the reader adds: where, why, who signs, and whether the report is final."""

    institution: str = ""
    indication: str = ""
    status: str = "preliminary"
    reader: str = ""
    signed_at: dt.datetime | None = None  # when a final report was signed

    @property
    def final(self) -> bool:
        return self.status == "final"


def report_header(
    institution: str = "",
    indication: str = "",
    status: str = "preliminary",
    reader: str = "",
    at: dt.datetime | None = None,
) -> ReportHeader:
    """A checked header: `status` is preliminary or final, and a final report names its reader
    and is signed `at` (now when not given)."""
    status = status.strip().lower() or "preliminary"
    if status not in REPORT_STATUSES:
        raise ValueError(f"report status must be {' or '.join(REPORT_STATUSES)}, not {status!r}")
    reader = " ".join(reader.split())
    if status == "final" and not reader:
        raise ValueError("a final report needs the reader's name")
    signed = (at or dt.datetime.now().astimezone()) if status == "final" else None
    return ReportHeader(
        institution=" ".join(institution.split()),
        indication=indication.strip(),
        status=status,
        reader=reader,
        signed_at=signed,
    )


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
    # None in an anonymised report: it carries no date at all
    generated_at: dt.datetime | None = field(default_factory=lambda: dt.datetime.now().astimezone())
    radlens_version: str = viewer.__version__
    disclaimer: str = viewer.RESEARCH_USE_NOTICE
    header: ReportHeader = field(default_factory=ReportHeader)
    appendix: bool = False  # add the full model card on a page of its own

    @property
    def institution(self) -> str:
        """The reader's institution (a setting), else the study's; none when anonymised."""
        return self.header.institution or self.details.institution

    @property
    def intended_use_verdict(self) -> str:
        """One sentence: within the model's intended use, or why not (and whether it ran)."""
        if self.intended_use_reasons:
            return intended_use_caution(self.intended_use_reasons, analysed=bool(self.findings))
        if self.findings:
            return "Within the model's intended use (modality, body part, view, age, image size)."
        return ""


def _deidentified_age(age: str) -> str:
    number, _, unit = age.partition(" ")
    if unit == "y" and number.isdigit() and int(number) >= 90:
        return "90 y or older"
    return age


def study_details(study: Any, header: Mapping[str, Any] | None = None) -> StudyDetails:
    """From a `StudyInfo` (with its `patient` back reference) and, for the exam, the key
    image's header (`Modality`, `BodyPartExamined`, `ViewPosition`)."""
    patient = study.patient
    header = header or {}
    return StudyDetails(
        patient_name=person_name(patient.name),
        patient_id=_as_text(patient.patient_id),
        birth_date=dicom_date(patient.birth_date),
        sex=sex_word(patient.sex),
        age=patient_age(getattr(patient, "age", ""), patient.birth_date, study.date),
        modality=_as_text(header.get("Modality", "")),
        body_part=_as_text(header.get("BodyPartExamined", "")),
        view=_as_text(header.get("ViewPosition", "")),
        study_description=description(study.description),
        study_date=dicom_date(study.date),
        accession_number=_as_text(study.accession_number),
        referring_physician=person_name(study.referring_physician),
        institution=_as_text(study.institution),
    )


def finding_rows(result: Any) -> tuple[FindingRow, ...]:
    """From an `AnalysisResult`, most probable first."""
    rows = [
        FindingRow(f.label, float(f.probability), float(f.threshold), bool(f.positive))
        for f in result.findings
    ]
    return tuple(sorted(rows, key=lambda row: row.probability, reverse=True))


def analysis_notes(result: Any) -> tuple[str, ...]:
    """The device, and the engine's warnings (an intended-use warning always among them; left
    out when the result gives reasons, which the report's intended-use verdict states)."""
    notes = [f"Computed on {result.device}."] if getattr(result, "device", "") else []
    warnings = [_sentence(w) for w in getattr(result, "warnings", ())]
    if getattr(result, "intended_use_reasons", ()):
        warnings = [w for w in warnings if not _about_intended_use(w)]
        return tuple(notes + warnings)
    if not getattr(result, "intended_use_ok", True) and not any(
        "intended use" in w for w in warnings
    ):
        warnings.append("This image is outside the model's intended use.")
    return tuple(notes + warnings)


def _about_intended_use(warning: str) -> bool:
    text = warning.lower()
    return text.startswith("outside the model's intended use") or text.startswith(
        "intended use not verifiable"
    )


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


def heatmap_caption(result: Any, label: str) -> str:
    """What a shown heatmap means: its scale and, for a clear negative drawn on request, that."""
    scale = getattr(result, "heatmap_scale", "relative")
    parts = [f"AI heatmap: {label}", HEATMAP_MEANING.get(scale, "")]
    on_request = heatmap_on_request_note(result, label)
    if on_request:
        parts.append(on_request)
    elif scale == "absolute":
        parts.append(NOTHING_FOR_CLEAR_NEGATIVES)
    return "; ".join(p for p in parts if p)


def heatmap_on_request_note(result: Any, label: str) -> str:
    """ "probability 0.1 % is below the heatmap display threshold (10.0 %); map drawn on
    request" when `label`'s map is shown only because clear negatives' maps were asked for."""
    if label not in (getattr(result, "heatmaps_on_request", ()) or ()):
        return ""
    probability = next(f.probability for f in result.findings if f.label == label)
    threshold = percent(getattr(result, "heatmap_hide_below", 0.0))
    return (
        f"probability {percent(probability)} is below the heatmap display threshold "
        f"({threshold}); map drawn on request"
    )


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
        overlay = exported_heatmap(display, result.heatmaps[label])
        overlay_caption = heatmap_caption(result, label)
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
    exam: Mapping[str, Any] | None = None,
    header: ReportHeader | None = None,
    appendix: bool = False,
) -> ReportData:
    """Collect what the report shows; `study` is a `StudyInfo`, `result` an `AnalysisResult`,
    `exam` the key image's header. Anonymised, it holds no identifier and no date."""
    details = study_details(study, exam)
    header = header or ReportHeader()
    if anonymize:
        details = details.anonymised()
        header = replace(header, institution="", signed_at=None)
    return ReportData(
        details=details,
        key_images=tuple(key_images),
        findings=finding_rows(result) if result is not None else (),
        model=ModelSummary.from_card_summary(card_summary) if card_summary else None,
        measurements=tuple(measurements),
        impression=impression.strip(),
        analysis_notes=analysis_notes(result) if result is not None else (),
        intended_use_reasons=tuple(getattr(result, "intended_use_reasons", ()) or ()),
        anonymized=anonymize,
        generated_at=None if anonymize else generated_at or dt.datetime.now().astimezone(),
        header=header,
        appendix=appendix,
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


def key_figures(metrics: Mapping[str, Any]) -> str:
    """The validation figures a reader needs, in one line (the rest is in the appendix)."""
    parts = []
    if _is_metric(metrics.get("auc")):
        ci = metrics.get("auc_ci95")
        parts.append(f"AUC {figure(metrics['auc'])}" + (f" (95 % CI {figure(ci)})" if ci else ""))
    rates = [f"{k} {figure(metrics[k])}" for k in ("sensitivity", "specificity") if k in metrics]
    if rates:
        parts.append(", ".join(rates) + " at the operating threshold")
    if "images" in metrics:
        positives = f" ({metrics['positives']} positive)" if "positives" in metrics else ""
        parts.append(f"{metrics['images']} images{positives}")
    return "; ".join(parts)


def appendix_rows(summary: Mapping[str, Any]) -> tuple[tuple[str, str], ...]:
    """The whole card (`summary["card"]`, else the summary), with the weights' sha256 that
    results name (all members together) after the version."""
    rows = flatten_card(summary.get("card") or summary)
    sha = str(summary.get("sha256", ""))
    if sha and all(value != sha for _, value in rows):
        after = next((i + 1 for i, (key, _) in enumerate(rows) if key == "version"), 0)
        rows.insert(after, ("weights sha256", sha))
    return tuple(rows)


def flatten_card(card: Mapping[str, Any], prefix: str = "") -> list[tuple[str, str]]:
    """("training.recipe.batch_size", "32") rows from a nested card, in the card's order."""
    rows: list[tuple[str, str]] = []
    for key, value in card.items():
        name = f"{prefix}{key}"
        if isinstance(value, Mapping) and value:
            rows += flatten_card(value, f"{name}.")
        elif _is_record_list(value) and all(_is_flat(item) for item in value):
            lines = (
                ", ".join(f"{k} {_card_value(k, v)}" for k, v in item.items()) for item in value
            )
            rows.append((name, "\n".join(lines)))  # e.g. a training history, a line per epoch
        elif _is_record_list(value):
            for number, item in enumerate(value, start=1):
                rows += flatten_card(item, f"{name}[{number}].")
        elif _is_metric(value):
            rows.append((name, _card_value(key, value)))
        else:
            rows.append((name, _as_text(value)))
    return rows


def _is_record_list(value: Any) -> bool:
    return (
        isinstance(value, list | tuple)
        and bool(value)
        and all(isinstance(v, Mapping) for v in value)
    )


def _is_flat(record: Mapping[str, Any]) -> bool:
    return not any(isinstance(v, Mapping) or _is_record_list(v) for v in record.values())


def _card_value(key: str, value: Any) -> str:
    """A number, or numbers: an interval ("…_ci95") as "a–b", any other list as "a, b, c"."""
    interval = any(part.startswith("ci") for part in key.lower().split("_"))
    if isinstance(value, list | tuple) and not interval:
        return ", ".join(figure(v) for v in value)
    return figure(value)


def _metric_text(value: Any) -> str:
    return figure(value)
