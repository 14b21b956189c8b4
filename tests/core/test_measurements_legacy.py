"""Measurements saved by RadLens 0.3.0 on files without UIDs, under its unkeyed derived keys,
move to this installation's keyed ones the first time the study is opened
(`measurements.move_legacy_sidecar`); nothing is lost when that fails."""

from __future__ import annotations

import hashlib
import logging
import os
import subprocess
import sys
from pathlib import Path

import pydicom
import pytest
from pydicom.data import get_testdata_file

from tests.conftest import REPO_ROOT
from viewer.core.index import build_index
from viewer.core.measurements import LENGTH, Measurement, MeasurementStore, sidecar_path
from viewer.core.series import open_series
from viewer.core.session import ViewIdentity
from viewer.core.sorting import plane_name
from viewer.report.compose import stored_measurements

LINE = Measurement(LENGTH, [(10, 10), (40, 50)], "0.3.0")


def plain_key(kind: str, *parts) -> str:
    """A derived key as RadLens 0.3.0 made it: unkeyed SHA-256 of the NUL-joined parts."""
    digest = hashlib.sha256("\0".join(map(str, parts)).encode("utf-8", "replace")).hexdigest()
    return f"derived:{kind}:{digest[:32]}"


def uid_less_ct(folder, keep_uids: bool = False):
    """pydicom's CT_small.dcm in `folder`, its Study/Series/SOP Instance UIDs blanked."""
    ds = pydicom.dcmread(get_testdata_file("CT_small.dcm"))
    if not keep_uids:
        ds.StudyInstanceUID = ds.SeriesInstanceUID = ds.SOPInstanceUID = ""
        ds.file_meta.MediaStorageSOPInstanceUID = ""
    folder.mkdir(exist_ok=True)
    path = folder / "ct.dcm"
    ds.save_as(path)
    return ds, path


def save_as_0_3_0(ds, path) -> tuple[Path, str]:
    """The sidecar 0.3.0 wrote: named by its study key, the line on the image under its instance
    key, and one on a coronal reformat of the stack under its series key. Returns the file and
    the reformat's image key."""
    folder = os.path.dirname(os.path.abspath(path))
    names = (str(ds.PatientName), ds.PatientID, ds.PatientBirthDate)
    study = plain_key("study", *names, ds.StudyDate, ds.StudyTime, ds.AccessionNumber, "")
    series = plain_key(
        "series",
        study,
        folder,
        ds.FrameOfReferenceUID,
        int(ds.SeriesNumber),
        ds.Modality,
        plane_name(tuple(float(v) for v in ds.ImageOrientationPatient)),
        ds.Rows,
        ds.Columns,
    )
    store = MeasurementStore(study)
    store.add(plain_key("instance", os.path.abspath(path)), 0, LINE)
    store.add(ViewIdentity(f"{series}#1", 0, "coronal"), 0, LINE)
    return store.save(), "|coronal|#0"


def open_study(path):
    (info,) = build_index(path).all_series()
    return info


def test_a_0_3_0_sidecar_is_moved_to_the_keyed_keys_on_first_open(tmp_path):
    ds, path = uid_less_ct(tmp_path / "ct")
    old_file, view_tail = save_as_0_3_0(ds, path)
    info = open_study(path)
    study_key = info.study.study_instance_uid
    assert study_key.startswith("derived:study:") and not sidecar_path(study_key).exists()

    (found,) = stored_measurements(open_series(info), 0)  # as the report reads them
    assert found == LINE
    assert not old_file.exists() and sidecar_path(study_key).exists()
    store = MeasurementStore(study_key).load()
    assert store.image_keys() == sorted(
        [f"{info.frames[0].sop_instance_uid}#0", f"view:{info.key}{view_tail}"]
    )
    assert [p.name for p in old_file.parent.iterdir()] == [sidecar_path(study_key).name]


def test_a_study_with_real_uids_is_untouched(tmp_path):
    ds, path = uid_less_ct(tmp_path / "ct", keep_uids=True)
    info = open_study(path)
    assert info.study.study_instance_uid == ds.StudyInstanceUID and not info.study.legacy_keys
    store = MeasurementStore(ds.StudyInstanceUID)
    store.add(ds.SOPInstanceUID, 0, LINE)
    saved = store.save()
    before = saved.read_bytes(), saved.stat().st_mtime_ns
    assert stored_measurements(open_series(info), 0) == [LINE]
    assert (saved.read_bytes(), saved.stat().st_mtime_ns) == before
    assert [p.name for p in saved.parent.iterdir()] == [saved.name]


def test_0_3_0_instance_keys_in_a_study_with_a_real_uid_are_made_todays(tmp_path):
    """Study UID present, SOP Instance UID empty: the sidecar's name stays, the image key inside
    (derived from the path) changes; a measurement added since the upgrade is kept beside."""
    ds, path = uid_less_ct(tmp_path / "ct")
    ds.StudyInstanceUID = pydicom.uid.generate_uid()
    ds.save_as(path)
    info = open_study(path)
    new_key = f"{info.frames[0].sop_instance_uid}#0"
    since = Measurement(LENGTH, [(1, 1), (2, 2)], "0.4.0")
    store = MeasurementStore(ds.StudyInstanceUID)
    store.add(plain_key("instance", os.path.abspath(path)), 0, LINE)
    store.add(info.frames[0].sop_instance_uid, 0, since)
    saved = store.save()

    found = stored_measurements(open_series(info), 0)
    assert sorted(found, key=lambda m: m.label) == [LINE, since]
    assert MeasurementStore(ds.StudyInstanceUID).load().image_keys() == [new_key]
    assert [p.name for p in saved.parent.iterdir()] == [saved.name]


def test_an_unreadable_0_3_0_sidecar_stays_and_one_line_says_why(tmp_path, caplog):
    ds, path = uid_less_ct(tmp_path / "ct")
    old_file, _ = save_as_0_3_0(ds, path)
    old_file.write_text('{"schema_version": 1, "images": {"x": [{"kind": "length"}]}}')
    damaged = old_file.read_bytes()
    info = open_study(path)
    with caplog.at_level(logging.WARNING, logger="viewer.core.measurements"):
        assert stored_measurements(open_series(info), 0) == []
    assert old_file.read_bytes() == damaged
    assert not sidecar_path(info.study.study_instance_uid).exists()
    (line,) = [r.getMessage() for r in caplog.records]
    assert "0.3.0" in line and "old file is kept" in line
    for private in (str(ds.PatientName), ds.PatientID, old_file.name, str(tmp_path)):
        assert private not in line


MOVE_WITHOUT_ROOM = """
import resource, signal, sys
from viewer.core.index import build_index
from viewer.core.installation_secret import installation_secret
from viewer.core.measurements import MeasurementStore
installation_secret()  # made (or read) before writes fail
signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
resource.setrlimit(resource.RLIMIT_FSIZE, (0, 0))  # every write fails, as on a full disk
(info,) = build_index(sys.argv[1]).all_series()
store = MeasurementStore(info.study.study_instance_uid, legacy_keys=info.study.legacy_keys)
print(store.load().image_keys())
"""


@pytest.mark.skipif(os.name == "nt", reason="file size limits (RLIMIT_FSIZE) are POSIX")
def test_when_the_new_sidecar_cannot_be_written_the_old_one_stays(tmp_path):
    """A write failure even root cannot get round (root ignores read-only folders): RadLens
    run with a zero file-size limit, so the new sidecar cannot be written."""
    ds, path = uid_less_ct(tmp_path / "ct")
    old_file, _ = save_as_0_3_0(ds, path)
    kept = old_file.read_bytes()
    run = subprocess.run(
        [sys.executable, "-c", MOVE_WITHOUT_ROOM, str(path)],
        env={**os.environ, "PYTHONPATH": str(REPO_ROOT)},
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert run.returncode == 0, run.stderr
    assert run.stdout.strip() == "[]"  # nothing moved: the store is empty this run
    assert "not moved" in run.stderr and "old file is kept" in run.stderr
    assert old_file.read_bytes() == kept
    assert [p.name for p in old_file.parent.iterdir()] == [old_file.name]  # no half-written file
    assert stored_measurements(open_series(open_study(path)), 0) == [LINE]  # moved when it can
