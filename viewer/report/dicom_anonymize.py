"""De-identify the DICOM objects RadLens writes, as one set (PS3.15 E.1 basic profile, subset).

Patient, study and staff identifiers are replaced or emptied, private elements dropped, and
every instance UID (study, series, SOP instance, frame of reference, the references between the
objects, SR UIDREF values) replaced by a new UID derived from the old one and a per-export
random salt: the exported objects still reference each other, and nothing maps them back to the
source without the salt (which is not kept). Class UIDs, transfer syntaxes and coding schemes
stay as they are.
"""

from __future__ import annotations

import copy
import secrets
from collections.abc import Iterable

from pydicom import Dataset
from pydicom.uid import generate_uid

REPLACED = {"PatientName": "Anonymous", "PatientID": "ANONYMOUS"}
EMPTIED = (
    "PatientBirthDate",
    "PatientBirthTime",
    "AccessionNumber",
    "ReferringPhysicianName",
    "StudyID",
    "StudyDate",
    "StudyTime",
    "SeriesDate",
    "SeriesTime",
    "AcquisitionDate",
    "AcquisitionTime",
    "AcquisitionDateTime",
    "StudyDescription",
    "ContentCreatorName",
)
REMOVED = (
    "OtherPatientIDs",
    "OtherPatientIDsSequence",
    "OtherPatientNames",
    "PatientAddress",
    "PatientTelephoneNumbers",
    "PatientMotherBirthName",
    "MilitaryRank",
    "EthnicGroup",
    "PatientComments",
    "AdditionalPatientHistory",
    "InstitutionName",
    "InstitutionAddress",
    "InstitutionalDepartmentName",
    "StationName",
    "OperatorsName",
    "PerformingPhysicianName",
    "PhysiciansOfRecord",
    "NameOfPhysiciansReadingStudy",
    "RequestingPhysician",
    "IssuerOfPatientID",
    "RequestAttributesSequence",
    "ReferencedPatientSequence",
    "ReferencedStudySequence",
)
KEPT_UIDS = ("ClassUID", "TransferSyntaxUID", "CodingSchemeUID", "ImplementationClassUID")
METHOD = "RadLens: PS3.15 basic profile subset, instance UIDs remapped"


def anonymized(datasets: Iterable[Dataset]) -> list[Dataset]:
    """De-identified copies of `datasets`, with one UID mapping shared by all of them.

    Copies: objects built from a source header may share its elements (highdicom copies by
    reference), and the source header must stay as it is (the viewer caches it)."""
    uids = _UidMap()
    copies = [copy.deepcopy(dataset) for dataset in datasets]
    for dataset in copies:
        _anonymize(dataset, uids)
        if getattr(dataset, "file_meta", None) is not None:
            meta = dataset.file_meta
            if "MediaStorageSOPInstanceUID" in meta:
                meta.MediaStorageSOPInstanceUID = dataset.SOPInstanceUID
    return copies


class _UidMap:
    """Old UID → new UID (salted hash); a UID already replaced is left alone, so an item
    shared by two places in a tree is not remapped twice."""

    def __init__(self) -> None:
        self.salt = secrets.token_hex(16)
        self.new: dict[str, str] = {}
        self.issued: set[str] = set()

    def __call__(self, value: str) -> str:
        if value in self.issued:
            return value
        if value not in self.new:
            self.new[value] = str(generate_uid(entropy_srcs=[self.salt, value]))
            self.issued.add(self.new[value])
        return self.new[value]


def _anonymize(dataset: Dataset, uids: _UidMap) -> None:
    _scrub(dataset, uids)
    dataset.PatientIdentityRemoved = "YES"
    dataset.DeidentificationMethod = METHOD


def _scrub(dataset: Dataset, uids: _UidMap) -> None:
    """Identifiers out and instance UIDs remapped, in `dataset` and every item nested in it."""
    dataset.remove_private_tags()
    for keyword, value in REPLACED.items():
        if keyword in dataset:
            setattr(dataset, keyword, value)
    for keyword in EMPTIED:
        if keyword in dataset:
            setattr(dataset, keyword, "")
    for keyword in REMOVED:
        if keyword in dataset:
            delattr(dataset, keyword)
    if "PersonName" in dataset:  # an SR PNAME content item
        dataset.PersonName = REPLACED["PatientName"]
    for element in dataset:
        if element.VR == "SQ":
            for item in element.value:
                _scrub(item, uids)
        elif element.VR == "UI" and element.value and not element.keyword.endswith(KEPT_UIDS):
            value = element.value
            element.value = uids(value) if isinstance(value, str) else [uids(v) for v in value]
