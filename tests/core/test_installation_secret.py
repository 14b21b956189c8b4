"""Derived study/series keys are keyed hashes under the installation's secret: the same files get
the same keys at every run here, and a list of names and birth dates hashed the plain way
matches none of them (`installation_secret`, `index.derived_key`)."""

from __future__ import annotations

import hashlib
import hmac
import os
import stat
import subprocess
import sys

import pydicom
import pytest
from pydicom.data import get_testdata_file

from tests.conftest import REPO_ROOT
from viewer.core.index import build_index, derived_key
from viewer.core.installation_secret import SECRET_BYTES, secret_path

PARTS = ("study", "DOE^JOHN", "123456", "19700101", "20240101", "120000", "ACC1", "")


@pytest.fixture
def data_dir(tmp_path, monkeypatch):
    folder = tmp_path / "data"
    monkeypatch.setenv("RADLENS_DATA_DIR", str(folder))
    return folder


def key_in_a_new_process(data_dir) -> str:
    """`derived_key(*PARTS)` as the next run of RadLens on this data folder computes it."""
    code = f"from viewer.core.index import derived_key; print(derived_key(*{PARTS!r}))"
    env = {**os.environ, "RADLENS_DATA_DIR": str(data_dir), "PYTHONPATH": str(REPO_ROOT)}
    run = subprocess.run(
        [sys.executable, "-c", code], env=env, capture_output=True, text=True, timeout=120
    )
    assert run.returncode == 0, run.stderr
    return run.stdout.strip()


def test_the_secret_is_made_once_for_the_owner_only_and_kept_for_the_next_run(data_dir):
    assert not secret_path().exists()
    key = derived_key(*PARTS)
    path = secret_path()
    assert path.parent == data_dir and path.stat().st_size == SECRET_BYTES
    if os.name != "nt":
        assert stat.S_IMODE(path.stat().st_mode) == 0o600
    made = path.read_bytes(), path.stat().st_ino
    assert key_in_a_new_process(data_dir) == key == derived_key(*PARTS)
    assert (path.read_bytes(), path.stat().st_ino) == made  # read, not made again
    assert [p.name for p in data_dir.iterdir()] == [path.name]  # no temporary file left


def test_another_secret_gives_other_keys(tmp_path, monkeypatch):
    keys = []
    for name in ("one", "other"):
        monkeypatch.setenv("RADLENS_DATA_DIR", str(tmp_path / name))
        keys.append(derived_key(*PARTS))
    assert keys[0] != keys[1]
    assert (tmp_path / "one" / secret_path().name).read_bytes() != secret_path().read_bytes()


def test_a_damaged_secret_is_made_again_and_wide_permissions_are_narrowed(data_dir):
    data_dir.mkdir()
    secret_path().write_bytes(b"short")
    key = derived_key(*PARTS)
    assert len(secret_path().read_bytes()) == SECRET_BYTES
    assert key_in_a_new_process(data_dir) == key
    if os.name != "nt":
        secret_path().chmod(0o644)
        key_in_a_new_process(data_dir)
        assert stat.S_IMODE(secret_path().stat().st_mode) == 0o600


def test_without_a_writable_data_folder_keys_hold_for_the_run(tmp_path, monkeypatch):
    blocker = tmp_path / "a file"
    blocker.write_text("")
    monkeypatch.setenv("RADLENS_DATA_DIR", str(blocker / "data"))
    assert derived_key(*PARTS) == derived_key(*PARTS)
    assert derived_key(*PARTS) != derived_key(*PARTS[:-1], "other folder")


def test_a_dictionary_of_names_and_birth_dates_hashed_plainly_matches_no_study_key(
    data_dir, tmp_path
):
    """The study key of files without UIDs is the keyed hash of the patient's name, ID, birth
    date, the date, time and accession; the plain (unkeyed) hash of those parts is not it."""
    ds = pydicom.dcmread(get_testdata_file("CT_small.dcm"))
    ds.StudyInstanceUID = ds.SeriesInstanceUID = ""
    ds.PatientBirthDate = "19700101"
    ds.save_as(tmp_path / "ct.dcm")
    study = build_index(tmp_path / "ct.dcm").all_series()[0].study
    patient = study.patient
    parts = (patient.name, patient.patient_id, patient.birth_date, study.date, study.time)
    parts += (study.accession_number, "")
    assert all(parts[:3]) and study.study_instance_uid.startswith("derived:study:")
    message = "\0".join(parts).encode()
    keyed = hmac.new(secret_path().read_bytes(), message, hashlib.sha256).hexdigest()
    assert study.study_instance_uid == f"derived:study:{keyed[:32]}"  # the parts are these
    plain = hashlib.sha256(message).hexdigest()
    assert plain[:32] not in study.study_instance_uid  # the old unkeyed key would match
