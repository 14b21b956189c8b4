"""The session: the studies open now, and what each view shows. Qt-free.

Studies come from disk, a PACS retrieval or (later) a prior fetched for comparison; opening
starts a new session (`Session.open`), every other source adds to it (`Session.add`): the
new paths alone are indexed and `merge_index` grafts their patients, studies and series onto
the session's one `StudyIndex`, so what is open (and on screen) stays. When the new files
overlap what is open (the same series or instance again), a merge could not reproduce what
indexing everything does (duplicate handling, stack splitting), so `MergeConflict` says to
index every path of the session again.

A view shows a `ViewIdentity`: the acquired stack, the plane (acquired, or a reformat with its
slab) and the frame. It is what overlays, measurements and AI results attach to, rather than a
SOP Instance UID (a reformatted frame has none) or (series, frame) (which does not say which
plane or slab): `view_identity(series, frame)` gives it for a `Series` or a `PlaneSeries`.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from typing import TYPE_CHECKING

from viewer.core.errors import RadLensError
from viewer.core.index import PatientInfo, SeriesInfo, StudyIndex, StudyInfo
from viewer.core.plane_series import PlaneSeries

if TYPE_CHECKING:
    from viewer.core.series import Series

DISK, PACS, PRIOR = "disk", "pacs", "prior"  # where a session's paths came from


class MergeConflict(RadLensError):
    """The added files overlap what is open: index the whole session again."""


@dataclass(frozen=True)
class ViewIdentity:
    """What one view shows: stack `series_key`, `plane` ("" for the acquired frames, else
    axial/coronal/sagittal), `slab` ("" for a thin plane, else e.g. "MIP 10 mm"), `frame`."""

    series_key: str
    frame: int
    plane: str = ""
    slab: str = ""

    @property
    def is_reformat(self) -> bool:
        return bool(self.plane)

    @property
    def key(self) -> tuple:
        """A compact hashable form: (series key, frame) for an acquired frame, with plane and
        slab added for a reformat (what caches of per-image results are keyed by)."""
        if self.is_reformat:
            return (self.series_key, self.frame, self.plane, self.slab)
        return (self.series_key, self.frame)


def view_identity(series: Series | PlaneSeries, frame: int) -> ViewIdentity:
    """The identity of frame `frame` of an acquired `Series` or a reformatted `PlaneSeries`."""
    if isinstance(series, PlaneSeries):
        return ViewIdentity(series.base.info.key, frame, series.plane, series.slab_label())
    return ViewIdentity(series.info.key, frame)


@dataclass
class Session:
    """The paths open now (with their source), their index, and each view's identity."""

    index: StudyIndex = field(default_factory=lambda: StudyIndex([], []))
    sources: dict[str, str] = field(default_factory=dict)  # path → DISK, PACS or PRIOR
    indexed: set[str] = field(default_factory=set)  # paths whose files are in `index`
    views: dict[str, ViewIdentity] = field(default_factory=dict)

    @property
    def paths(self) -> list[str]:
        return list(self.sources)

    def open(self, paths: list[str], source: str = DISK) -> None:
        """A new session of `paths` (indexed later: `replace_index`); views are forgotten."""
        self.sources = dict.fromkeys(map(str, paths), source)
        self.indexed = set()
        self.views.clear()

    def request_add(self, paths: list[str], source: str = PACS) -> tuple[list[str], bool]:
        """Note `paths` as part of the session; returns (paths to index, incremental): `paths`
        alone when everything earlier is indexed, else every path of the session. A path
        already open is indexed again (a folder retrieved into twice may hold more now); its
        files then overlap and `add_index` raises `MergeConflict`."""
        asked = list(dict.fromkeys(map(str, paths)))
        incremental = set(self.sources) == self.indexed
        for path in asked:
            self.sources.setdefault(path, source)
        return (asked, True) if incremental else (self.paths, False)

    def replace_index(self, index: StudyIndex, paths: list[str]) -> None:
        """The index of every path in `paths` (a full scan)."""
        self.index = index
        self.indexed = set(map(str, paths))

    def add_index(self, added: StudyIndex, paths: list[str]) -> list[SeriesInfo]:
        """Merge the index of `paths` into the session's; the series that are new."""
        series = merge_index(self.index, added)
        self.indexed.update(map(str, paths))
        return series

    def show(self, view: str, identity: ViewIdentity | None) -> None:
        if identity is None:
            self.views.pop(view, None)
        else:
            self.views[view] = identity

    def view(self, view: str) -> ViewIdentity | None:
        return self.views.get(view)


def merge_index(into: StudyIndex, added: StudyIndex) -> list[SeriesInfo]:
    """Graft `added` onto `into` (in place), grouped as `build_index` groups: patients by
    (name, ID), studies by Study Instance UID. `added` keeps its lists; its studies and series
    join `into` (their back references then point into it). Raises `MergeConflict` (leaving `into` as it
    was) when a series or a non-image object of `added` is already open."""
    check_disjoint(into, added)
    patients = {(p.name, p.patient_id): p for p in into.patients}
    studies = {s.study_instance_uid: s for p in into.patients for s in p.studies}
    for patient in added.patients:
        for study in patient.studies:
            existing = studies.get(study.study_instance_uid)
            if existing is not None:
                graft_series(existing, study)
                continue
            key = (patient.name, patient.patient_id)
            if key not in patients:
                patients[key] = replace(patient, studies=[])
                into.patients.append(patients[key])
            add_study(patients[key], study)
            studies[study.study_instance_uid] = study
    into.skipped.extend(added.skipped)
    into.ignored.extend(added.ignored)
    return added.all_series()


def add_study(patient: PatientInfo, study: StudyInfo) -> None:
    study.patient = patient
    patient.studies.append(study)
    patient.studies.sort(key=lambda s: (s.date, s.time))


def graft_series(existing: StudyInfo, study: StudyInfo) -> None:
    """The series and objects of `study` (same Study Instance UID) join `existing`."""
    for info in study.series:
        info.study = existing
    existing.series.extend(study.series)
    existing.series.sort(key=lambda s: (s.number is None, s.number or 0, s.key))
    existing.objects.extend(study.objects)


def check_disjoint(into: StudyIndex, added: StudyIndex) -> None:
    open_series = {s.series_instance_uid for s in into.all_series()} | {
        s.key for s in into.all_series()
    }
    open_objects = {o.sop_instance_uid for o in into.all_objects()}
    for info in added.all_series():
        if info.series_instance_uid in open_series or info.key in open_series:
            raise MergeConflict(f"series {info.series_instance_uid} is already open")
    for found in added.all_objects():
        if found.sop_instance_uid in open_objects:
            raise MergeConflict(f"object {found.sop_instance_uid} is already open")
