"""The study index: Patient → Study → Series stacks, sorted, with warnings.

`build_index(paths, progress=None, cancel=None)` expands the inputs, scans every header (no
pixel data) and groups frames. A SeriesInstanceUID whose frames differ in size, orientation,
localizer status or acquisition becomes several stacks; each stack is one `SeriesInfo` whose key
is the SeriesInstanceUID plus `#n` (n = 1 for the largest stack).

Files whose Study or Series Instance UID is empty get a derived key instead (`with_keys`): a
keyed hash of what such files share (folder, frame of reference, series number, modality,
plane, size; for the study: patient, date, time, accession) under this installation's secret
(`installation_secret`), so the same files always get the same keys here, no patient
identifier shows in them, and none can be guessed by hashing a list of names and birth dates
(another installation gives the same files other keys). Derived keys start with `derived:`, which no
real UID can (UIDs are digits and dots), and the series says the UIDs were missing. An image
whose SOP Instance UID is empty in the data set and in the file meta gets one derived from its
path (as the user named it: inside a zip, not the folder it was extracted to).
"""

from __future__ import annotations

import hashlib
import os
from collections import defaultdict
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field, replace

from viewer.core.decode import read_stored_frame
from viewer.core.discovery import display_path, expand_inputs
from viewer.core.errors import DicomReadError, RadLensError
from viewer.core.installation_secret import keyed_digest
from viewer.core.pictures import is_picture, picture_records
from viewer.core.scan import HeaderRecord, PixelFormat, SkippedFile, scan_file
from viewer.core.sorting import plane_name, sort_frames, split_stacks
from viewer.core.study_objects import StudyObject

__all__ = [
    "FrameRef",
    "PatientInfo",
    "SeriesInfo",
    "SkippedFile",
    "StudyIndex",
    "StudyInfo",
    "build_index",
]

Progress = Callable[[int, int], None]
DERIVED_PREFIX = "derived:"
MISSING_SERIES_UID = (
    "Series Instance UID missing in the files: grouped by folder, frame of reference, "
    "series number, modality, plane and size"
)
MISSING_STUDY_UID = (
    "Study Instance UID missing in the files: grouped by patient, date, time and accession"
)


@dataclass
class FrameRef:
    """One displayable 2-D frame."""

    path: str
    frame_index: int  # within a multi-frame file (0-based)
    sop_instance_uid: str
    instance_number: int | None
    position: tuple[float, ...] | None  # three values (x, y, z) in mm
    orientation: tuple[float, ...] | None
    rescale: tuple[float, float] = (1.0, 0.0)  # (slope, intercept) for this frame
    pixel_offset: int | None = None  # file offset of the PixelData value (native syntaxes)
    pixel_length: int | None = None
    number_of_frames: int = 1
    fragment_offset: int | None = None  # file offset of this frame's first fragment (encapsulated)


@dataclass
class SeriesInfo:
    key: str  # unique per stack: SeriesInstanceUID + "#n"
    series_instance_uid: str
    modality: str
    description: str
    number: int | None
    rows: int
    columns: int
    frames: list[FrameRef]  # sorted
    transfer_syntax: str
    photometric: str
    warnings: list[str]
    study: StudyInfo | None = field(default=None, repr=False, compare=False)
    pixel_format: PixelFormat | None = None  # None when frames differ in pixel layout
    has_modality_lut_sequence: bool = False
    stack_label: str = ""  # what sets this stack apart within its series ("" when not split)
    has_overlay_planes: bool = False  # some frame's file has overlay planes (groups 60xx)


@dataclass
class StudyInfo:
    study_instance_uid: str
    date: str
    time: str
    description: str
    accession_number: str
    referring_physician: str
    institution: str
    series: list[SeriesInfo]
    patient: PatientInfo | None = field(default=None, repr=False, compare=False)
    objects: list[StudyObject] = field(default_factory=list)  # SEG, SR, … (not images)
    # derived study/series/instance keys of RadLens ≤ 0.3.0 → today's (`legacy_derived_key`)
    legacy_keys: dict[str, str] = field(default_factory=dict, repr=False, compare=False)


@dataclass
class PatientInfo:
    name: str
    patient_id: str
    birth_date: str
    sex: str
    age: str
    studies: list[StudyInfo]


IGNORED_REASON = "not a DICOM file (a document or picture by its name; not scanned)"


@dataclass
class StudyIndex:
    """What opened, every file that could not (with its reason), and what was left out quietly.

    `ignored` holds documents and pictures found beside the images in a folder or archive
    (README, SOURCES.md, Thumbs.db; see `discovery.is_document`): counted, not errors. When
    nothing opened at all they are listed in `skipped` too, so an empty result is explained.
    """

    patients: list[PatientInfo]
    skipped: list[SkippedFile]
    ignored: list[str] = field(default_factory=list)

    def all_series(self) -> list[SeriesInfo]:
        return [s for p in self.patients for st in p.studies for s in st.series]

    def all_objects(self) -> list[StudyObject]:
        return [o for p in self.patients for st in p.studies for o in st.objects]

    def find_series(self, key_or_uid: str) -> SeriesInfo:
        """The stack with this key, else the largest stack of this SeriesInstanceUID."""
        series = self.all_series()
        for info in series:
            if info.key == key_or_uid:
                return info
        for info in series:
            if info.series_instance_uid == key_or_uid:
                return info
        raise RadLensError(f"no series {key_or_uid} in the opened files")


def build_index(
    paths: Iterable[str | os.PathLike] | str | os.PathLike,
    progress: Progress | None = None,
    cancel=None,
) -> StudyIndex:
    """Scan `paths` (files, folders, .zip, DICOMDIR) and group what opens.

    `progress(done, total)` is called after each file; `cancel` is a callable returning True
    or an object with `is_set()` (a threading.Event) and stops the scan early (what was
    scanned so far is indexed).
    """
    if isinstance(paths, str | os.PathLike):
        paths = [paths]
    found = expand_inputs(paths)
    files, skipped = found.files, found.skipped
    records: list[HeaderRecord] = []
    objects: list[StudyObject] = []
    for done, path in enumerate(files, 1):
        if is_cancelled(cancel):
            break
        result = picture_records(path) if is_picture(path) else scan_file(path)
        if isinstance(result, SkippedFile):
            skipped.append(SkippedFile(display_path(path), result.reason))
        elif isinstance(result, StudyObject):
            objects.append(result)
        else:
            records.extend(result)
        if progress:
            progress(done, len(files))
    if not records:  # only pictures in the folders: open them as secondary images
        records, found.ignored = open_pictures(found.ignored, skipped)
    records, duplicates = drop_duplicate_instances(records)
    skipped.extend(duplicates)
    if not records and not objects:
        skipped.extend(SkippedFile(path, IGNORED_REASON) for path in found.ignored)
    patients = group_records(records, objects)
    return StudyIndex(patients=patients, skipped=skipped, ignored=found.ignored)


def open_pictures(ignored: list[str], skipped: list[SkippedFile]):
    """Records of the JPEG/PNG files among `ignored`, and what stays ignored."""
    records, rest = [], []
    for path in ignored:
        if not is_picture(path):
            rest.append(path)
            continue
        result = picture_records(path)
        if isinstance(result, SkippedFile):
            skipped.append(result)
        else:
            records.extend(result)
    return records, rest


def is_cancelled(cancel) -> bool:
    if cancel is None:
        return False
    if hasattr(cancel, "is_set"):
        return bool(cancel.is_set())
    return bool(cancel())


def drop_duplicate_instances(records: list[HeaderRecord]):
    """One file per SOPInstanceUID (e.g. the same image in two folders).

    Identical copies keep the first found. Copies that differ keep one that decodes, the largest,
    so a truncated or damaged twin never hides the intact file; the kept file carries a note.
    """
    by_path: dict[str, list[HeaderRecord]] = defaultdict(list)
    paths_by_uid: dict[str, list[str]] = defaultdict(list)
    for record in records:
        if record.path not in by_path and record.sop_instance_uid:
            paths_by_uid[record.sop_instance_uid].append(record.path)
        by_path[record.path].append(record)
    skipped = []
    for paths in paths_by_uid.values():
        if len(paths) > 1:
            skipped += keep_one_copy(paths, by_path)
    kept = [r for path_records in by_path.values() for r in path_records]
    return kept, skipped


def keep_one_copy(paths: list[str], by_path: dict[str, list[HeaderRecord]]) -> list[SkippedFile]:
    """Leave one of `paths` (copies of one instance) in `by_path`; the others become skips."""
    first = paths[0]
    if all(same_bytes(first, other) for other in paths[1:]):
        keep, reasons = first, {p: f"same image as {os.path.basename(first)}" for p in paths}
    else:
        failures = {p: decode_failure(by_path[p][-1]) for p in paths}
        # A copy that decodes, the largest of them (a truncated twin is shorter) and else the first.
        keep = max(paths, key=lambda p: (not failures[p], file_size(p), -paths.index(p)))
        name = os.path.basename(keep)
        reasons = {
            p: f"a different copy of this image, {name}, was kept"
            + (f" (this one does not decode: {failures[p]})" if failures[p] else "")
            for p in paths
        }
        others = ", ".join(os.path.basename(p) for p in paths if p != keep)
        note = f"another file with this SOP Instance UID differs ({others}); kept this one"
        by_path[keep] = [replace(r, notes=(*r.notes, note)) for r in by_path[keep]]
    return [
        SkippedFile(display_path(p), f"duplicate SOP Instance UID: {reasons[p]}")
        for p in paths
        if p != keep and by_path.pop(p, None) is not None
    ]


def same_bytes(a: str, b: str, chunk: int = 1 << 20) -> bool:
    """Whether two files hold the same bytes (compared a chunk at a time); False if unreadable."""
    try:
        if os.path.getsize(a) != os.path.getsize(b):
            return False
        with open(a, "rb") as fa, open(b, "rb") as fb:
            while True:
                block = fa.read(chunk)
                if block != fb.read(chunk):
                    return False
                if not block:
                    return True
    except OSError:
        return False


def file_size(path: str) -> int:
    try:
        return os.path.getsize(path)
    except OSError:
        return -1


def decode_failure(record: HeaderRecord) -> str:
    """'' when the record's frame decodes, else why not (used only to pick between copies)."""
    try:
        read_stored_frame(record, record.pixel_format, record.rows, record.columns)
    except DicomReadError as exc:
        return exc.reason
    return ""


def group_records(
    records: list[HeaderRecord], objects: Iterable[StudyObject] = ()
) -> list[PatientInfo]:
    patients: dict[tuple, PatientInfo] = {}
    studies: dict[str, StudyInfo] = {}
    by_series: dict[tuple[str, str], list[HeaderRecord]] = defaultdict(list)

    def study_of(item: HeaderRecord | StudyObject) -> StudyInfo:
        study_uid = study_key(item)
        if study_uid not in studies:
            patient = patients.setdefault(item.patient[:2], make_patient(item))
            studies[study_uid] = make_study(item, study_uid, patient)
            patient.studies.append(studies[study_uid])
        return studies[study_uid]

    for plain in records:
        record = with_keys(plain)
        study = study_of(record)
        study.legacy_keys.update(legacy_keys(plain, record))
        study_uid = study.study_instance_uid
        by_series[(study_uid, record.series_instance_uid)].append(record)
    for found in objects:
        study_of(found).objects.append(found)
    for (study_uid, series_uid), members in by_series.items():
        study = studies[study_uid]
        study.series.extend(make_stacks(series_uid, members, study))
    for study in studies.values():
        study.series.sort(key=lambda s: (s.number is None, s.number or 0, s.key))
    for patient in patients.values():
        patient.studies.sort(key=lambda s: (s.date, s.time))
    return list(patients.values())


def is_derived(key: str) -> bool:
    """Whether a study/series key was made by RadLens because the files' UID was empty."""
    return key.startswith(DERIVED_PREFIX)


def derived_key(kind: str, *parts) -> str:
    """`derived:<kind>:<hash>`: the same parts give the same key on this installation; the
    parts cannot be read back, nor guessed and hashed to match without its secret."""
    return f"{DERIVED_PREFIX}{kind}:{keyed_digest(*parts)[:32]}"


def legacy_derived_key(kind: str, *parts) -> str:
    """The unkeyed derived key of RadLens ≤ 0.3.0, a plain SHA-256 of the parts (a guessable
    pseudonym). ONLY for moving measurements saved under it to today's keys
    (`measurements.MeasurementStore.load`); never make new keys with it."""
    digest = hashlib.sha256("\0".join(map(str, parts)).encode("utf-8", "replace")).hexdigest()
    return f"{DERIVED_PREFIX}{kind}:{digest[:32]}"


def legacy_keys(record: HeaderRecord, keyed: HeaderRecord) -> dict[str, str]:
    """The record's derived keys as RadLens ≤ 0.3.0 made them → `keyed`'s (`with_keys(record)`);
    empty when the files have every UID (nothing derived, nothing computed)."""
    if keyed is record:
        return {}
    old = with_keys(record, legacy_derived_key)
    pairs = (
        (old.study[0], keyed.study[0]),
        (old.series_instance_uid, keyed.series_instance_uid),
        (old.sop_instance_uid, keyed.sop_instance_uid),
    )
    return {before: after for before, after in pairs if is_derived(after)}


def study_key(item: HeaderRecord | StudyObject, derive: Callable[..., str] = derived_key) -> str:
    """The Study Instance UID, else a key derived from the patient, date, time and accession
    (and the folder when the files hold none of date, time or accession)."""
    uid, date, time, _, accession, *_ = item.study
    if uid:
        return uid
    folder = "" if date or time or accession else stable_folder(item.path)
    return derive("study", *item.patient[:3], date, time, accession, folder)


def stable_path(path: str) -> str:
    """A file's path as the user named it: a zip member's is inside the archive
    (`archive.zip/...`), not the random scratch folder it was extracted to for this run."""
    return os.path.abspath(display_path(path))


def stable_folder(path: str) -> str:
    return os.path.dirname(stable_path(path))


def with_keys(record: HeaderRecord, derive: Callable[..., str] = derived_key) -> HeaderRecord:
    """The record with its study, series and instance keys filled where the files left them
    empty (an instance's from its path: measurements and AI results are kept per instance);
    `derive` makes the keys (`legacy_derived_key` only to find measurements of ≤ 0.3.0)."""
    study_uid = study_key(record, derive)
    sop_uid = record.sop_instance_uid or derive("instance", stable_path(record.path))
    whole = record.series_instance_uid and study_uid == record.study[0]
    if whole and sop_uid == record.sop_instance_uid:
        return record
    series_uid = record.series_instance_uid or derive(
        "series",
        study_uid,
        stable_folder(record.path),
        record.frame_of_reference_uid,
        record.series_number,
        record.modality,
        plane_name(record.orientation) if record.orientation else "",
        record.rows,
        record.columns,
    )
    study = (study_uid, *record.study[1:])
    return replace(record, series_instance_uid=series_uid, study=study, sop_instance_uid=sop_uid)


def missing_uid_notes(series_uid: str, study_uid: str) -> list[str]:
    """One line per key RadLens had to derive (shown with the series' other warnings)."""
    return [MISSING_SERIES_UID] * is_derived(series_uid) + [MISSING_STUDY_UID] * is_derived(
        study_uid
    )


def make_patient(record: HeaderRecord | StudyObject) -> PatientInfo:
    name, patient_id, birth_date, sex, age = record.patient
    return PatientInfo(name, patient_id, birth_date, sex, age, studies=[])


def make_study(
    record: HeaderRecord | StudyObject, study_uid: str, patient: PatientInfo
) -> StudyInfo:
    _, date, time, description, accession, referring, institution = record.study
    return StudyInfo(
        study_uid, date, time, description, accession, referring, institution, [], patient
    )


def make_stacks(series_uid: str, records: list[HeaderRecord], study: StudyInfo):
    stacks = split_stacks(records)
    split_note = missing_uid_notes(series_uid, study.study_instance_uid)
    if len(stacks) > 1:
        why = "size, orientation, frame of reference or repeated positions"
        split_note.append(f"series split into {len(stacks)} stacks ({why})")
    result = []
    for number, (members, label) in enumerate(stacks, 1):
        ordered, warnings = sort_frames(members)
        info = make_series(f"{series_uid}#{number}", ordered, split_note + warnings, study)
        info.stack_label = label
        result.append(info)
    return result


def make_series(key: str, ordered: list[HeaderRecord], warnings: list[str], study: StudyInfo):
    first = ordered[0]
    formats = {r.pixel_format for r in ordered}
    notes = sorted({f"{os.path.basename(r.path)}: {n}" for r in ordered for n in r.notes})
    syntaxes = sorted({r.pixel_format.transfer_syntax for r in ordered})
    if len(syntaxes) > 1:
        warnings.append(f"frames use {len(syntaxes)} transfer syntaxes")
    return SeriesInfo(
        key=key,
        series_instance_uid=first.series_instance_uid,
        modality=first.modality,
        description=first.series_description,
        number=first.series_number,
        rows=first.rows,
        columns=first.columns,
        frames=[frame_ref(r) for r in ordered],
        transfer_syntax=first.pixel_format.transfer_syntax,
        photometric=first.pixel_format.photometric,
        warnings=warnings + notes,
        study=study,
        pixel_format=first.pixel_format if len(formats) == 1 else None,
        has_modality_lut_sequence=any(r.has_modality_lut_sequence for r in ordered),
        has_overlay_planes=any(r.has_overlay_planes for r in ordered),
    )


def frame_ref(record: HeaderRecord) -> FrameRef:
    return FrameRef(
        path=record.path,
        frame_index=record.frame_index,
        sop_instance_uid=record.sop_instance_uid,
        instance_number=record.instance_number,
        position=record.position,
        orientation=record.orientation,
        rescale=record.rescale,
        pixel_offset=record.pixel_offset,
        pixel_length=record.pixel_length,
        number_of_frames=record.number_of_frames,
        fragment_offset=record.fragment_offset,
    )
