"""The session: added studies are indexed alone and merged as indexing everything groups them;
overlaps ask for a full index; view identities tell acquired frames, planes and slabs apart."""

from __future__ import annotations

import shutil

import pytest
from pydicom.data import get_testdata_file

from viewer.core.analysis_input import analysis_cache_key
from viewer.core.index import build_index
from viewer.core.measurements import Measurement, MeasurementStore, image_key, measured_image
from viewer.core.plane_series import PlaneSeries
from viewer.core.series import open_series
from viewer.core.session import MergeConflict, Session, ViewIdentity, merge_index, view_identity
from viewer.core.volume import build_volume
from viewer.paths import sample_study_dir

DEMO = sample_study_dir() / "demo-study"


def shape(index):
    """Patients → studies → series keys (with the study each series points back to)."""
    return [
        (
            (p.name, p.patient_id),
            [
                (
                    st.study_instance_uid,
                    [(s.key, len(s.frames), s.study is st) for s in st.series],
                    sorted(o.path for o in st.objects),
                )
                for st in p.studies
            ],
        )
        for p in index.patients
    ]


def test_adding_part_of_a_study_then_the_rest_equals_indexing_both():
    radiographs = [str(DEMO / f"chest-ap-{n}.dcm") for n in (1, 2, 3)]
    mr = [str(DEMO / "mr-sag-t1")]
    session = Session()
    session.open(radiographs)
    session.replace_index(build_index(radiographs), radiographs)
    before = session.index.all_series()
    to_index, incremental = session.request_add(mr)
    assert incremental and to_index == mr
    added = session.add_index(build_index(mr), mr)
    assert len(before) == 3 and len(added) == 1 and not session.index.skipped
    assert shape(session.index) == shape(build_index(radiographs + mr))
    assert all(any(s is b for s in session.index.all_series()) for b in before)  # kept as is


def test_another_patient_joins_as_a_new_patient():
    ct, demo = get_testdata_file("CT_small.dcm"), str(DEMO / "chest-ap-1.dcm")
    merged = build_index([demo])
    merge_index(merged, build_index([ct]))
    assert shape(merged) == shape(build_index([demo, ct]))
    assert len(merged.patients) == 2


def test_files_already_open_ask_for_the_whole_session_again(tmp_path):
    copy = tmp_path / "again.dcm"
    shutil.copy(DEMO / "chest-ap-1.dcm", copy)
    index = build_index([str(DEMO / "chest-ap-1.dcm")])
    before = shape(index)
    with pytest.raises(MergeConflict):
        merge_index(index, build_index([str(copy)]))
    assert shape(index) == before  # untouched


def test_an_add_while_earlier_paths_are_not_indexed_yet_indexes_everything():
    session = Session()
    session.open(["a"])
    assert session.request_add(["b", "a"]) == (["a", "b"], False)  # "a" never got its index
    session.replace_index(build_index([]), ["a", "b"])
    assert session.request_add(["c", "a"]) == (["c", "a"], True)  # "a" again: may hold more


@pytest.fixture(scope="module")
def mr_sag():
    (info,) = [s for s in build_index([DEMO / "mr-sag-t1"]).all_series() if s.frames]
    series = open_series(info)
    return series, build_volume(series)


def test_view_identity_tells_acquired_frames_planes_and_slabs_apart(mr_sag):
    series, volume = mr_sag
    key = series.info.key
    plane = PlaneSeries(series, volume, "axial")
    assert view_identity(series, 3) == ViewIdentity(key, 3)
    assert view_identity(series, 3).key == (key, 3)
    thin = view_identity(plane, 3)
    assert thin == ViewIdentity(key, 3, "axial") and thin.is_reformat
    plane.set_slab(10, "mip")
    slab = view_identity(plane, 3)
    assert slab == ViewIdentity(key, 3, "axial", "MIP 10 mm") and slab.key != thin.key
    session = Session()
    session.show("view-1", thin)
    assert session.view("view-1") == thin
    session.show("view-1", None)
    assert session.view("view-1") is None


def test_analysis_results_of_a_slab_are_not_those_of_the_thin_plane(mr_sag):
    series, volume = mr_sag
    frame = series.info.frames[2]
    assert analysis_cache_key(series, 2) == (frame.sop_instance_uid, frame.frame_index)
    plane = PlaneSeries(series, volume, "coronal")
    thin = analysis_cache_key(plane, 5)
    plane.set_slab(8, "mean")
    assert analysis_cache_key(plane, 5) != thin


def test_measurements_on_a_plane_stay_on_its_frame_plane_and_slab(mr_sag):
    series, volume = mr_sag
    coronal, axial = PlaneSeries(series, volume, "coronal"), PlaneSeries(series, volume, "axial")
    study = series.info.study.study_instance_uid
    line = Measurement("length", [(5, 5), (5, 25)])
    store = MeasurementStore(study).load()
    store.add(*measured_image(coronal, 10), line)
    store.save()
    again = MeasurementStore(study).load()  # through the sidecar
    assert again.get(*measured_image(coronal, 10)) == [line]
    assert again.get(*measured_image(coronal, 11)) == []
    assert again.get(*measured_image(axial, 10)) == []
    coronal.set_slab(8, "mip")
    assert again.get(*measured_image(coronal, 10)) == []  # a slab is not the thin plane
    assert again.image_keys() == [image_key(ViewIdentity(series.info.key, 10, "coronal"))]
    ref = series.info.frames[10]  # an acquired frame: SOP Instance UID + frame, as before
    assert measured_image(series, 10) == (ref.sop_instance_uid, ref.frame_index)
    assert image_key(*measured_image(series, 10)) == f"{ref.sop_instance_uid}#{ref.frame_index}"
