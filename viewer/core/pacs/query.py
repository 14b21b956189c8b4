"""The search fields and what a search returns, shared by DIMSE and DICOMweb.

A `Query` holds the panel's / command line's filters; `dimse_identifier` and `qido_params` turn
it into a C-FIND identifier or QIDO-RS parameters. Every result is a plain dict keyed by DICOM
keyword (what `radlens pacs find --json` prints): strings, integers for counts, lists for
multi-valued attributes (ModalitiesInStudy).
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from pydicom.datadict import dictionary_VR, tag_for_keyword
from pydicom.dataset import Dataset
from pydicom.multival import MultiValue

from viewer.core.pacs.servers import PacsError

STUDY_KEYS = (
    "StudyInstanceUID",
    "PatientID",
    "PatientName",
    "PatientBirthDate",
    "StudyDate",
    "StudyTime",
    "StudyDescription",
    "AccessionNumber",
    "ModalitiesInStudy",
    "NumberOfStudyRelatedSeries",
    "NumberOfStudyRelatedInstances",
)
SERIES_KEYS = (
    "StudyInstanceUID",
    "SeriesInstanceUID",
    "Modality",
    "SeriesNumber",
    "SeriesDescription",
    "NumberOfSeriesRelatedInstances",
)
# Copied from a study onto its series results, so each series row stands on its own.
STUDY_FIELDS_ON_SERIES = ("PatientID", "PatientName", "StudyDate", "StudyDescription")
LEVELS = ("study", "series")
DATE_RANGE = re.compile(r"^(\d{8})?(-(\d{8})?)?$")
INTEGER_VRS = {"IS", "US", "UL", "SS", "SL"}


@dataclass(frozen=True)
class Query:
    level: str = "study"
    patient_id: str = ""
    patient_name: str = ""  # DICOM wildcards: * and ?
    modality: str = ""
    study_date: str = ""  # YYYYMMDD, YYYYMMDD-YYYYMMDD, -YYYYMMDD or YYYYMMDD-
    study_uid: str = ""
    series_uid: str = ""
    accession: str = ""

    def check(self) -> Query:
        if self.level not in LEVELS:
            raise PacsError("query", f"level must be one of {', '.join(LEVELS)}")
        if self.study_date and not DATE_RANGE.match(self.study_date) or self.study_date == "-":
            raise PacsError("query", "study date must be YYYYMMDD or YYYYMMDD-YYYYMMDD")
        return self

    def study_filters(self) -> dict[str, str]:
        """Keyword → matching value at study level (empty filters left out)."""
        filters = {
            "PatientID": self.patient_id,
            "PatientName": self.patient_name,
            "StudyDate": self.study_date,
            "StudyInstanceUID": self.study_uid,
            "AccessionNumber": self.accession,
        }
        if self.level == "study":
            filters["ModalitiesInStudy"] = self.modality
        return {k: v for k, v in filters.items() if v}

    def series_filters(self, study_uid: str) -> dict[str, str]:
        filters = {
            "StudyInstanceUID": study_uid,
            "Modality": self.modality,
            "SeriesInstanceUID": self.series_uid,
        }
        return {k: v for k, v in filters.items() if v}


def keys_for(level: str) -> tuple[str, ...]:
    return STUDY_KEYS if level == "study" else SERIES_KEYS


def dimse_identifier(level: str, filters: dict[str, str]) -> Dataset:
    """A C-FIND identifier: every return key empty (universal match) unless filtered."""
    ds = Dataset()
    ds.QueryRetrieveLevel = level.upper()
    for keyword in keys_for(level):
        setattr(ds, keyword, filters.get(keyword, ""))
    return ds


def qido_params(level: str, filters: dict[str, str]) -> dict[str, str | list[str]]:
    params: dict[str, str | list[str]] = dict(filters)
    params["includefield"] = [k for k in keys_for(level) if k not in filters]
    return params


def result_from_dataset(ds: Dataset, level: str) -> dict:
    """A C-FIND response identifier → {keyword: value} for the level's keys that are present."""
    result = {}
    for keyword in keys_for(level):
        if keyword in ds:
            result[keyword] = plain_value(ds[keyword].value, keyword)
    return result


def result_from_json(item: dict, level: str) -> dict:
    """A QIDO-RS DICOM JSON object → {keyword: value}."""
    result = {}
    for keyword in keys_for(level):
        element = item.get(f"{tag_for_keyword(keyword):08X}")
        if not isinstance(element, dict):
            continue
        values = element.get("Value", [])
        if element.get("vr") == "PN":
            values = [v.get("Alphabetic", "") if isinstance(v, dict) else str(v) for v in values]
        result[keyword] = plain_value(values if len(values) != 1 else values[0], keyword)
    return result


def plain_value(value, keyword: str):
    """JSON-friendly: counts as int, multi-valued as a list of str, everything else str."""
    vr = dictionary_VR(keyword)
    if isinstance(value, MultiValue | list | tuple):
        items = [str(v) for v in value]
        if keyword == "ModalitiesInStudy":
            return items
        value = "\\".join(items)
    if vr in INTEGER_VRS:
        try:
            return int(str(value))
        except ValueError:
            return None
    if keyword == "ModalitiesInStudy":
        return [v for v in str(value or "").split("\\") if v]
    return "" if value is None else str(value)
