"""Files whose UIDs are empty (TotalSegmentator's example CT): SOP Instance/Class UID from the
file meta, Study/Series keys derived from what the files share (`index.with_keys`)."""

from __future__ import annotations

import io
import re
import zipfile

import numpy as np
import pydicom
import pytest

from viewer.core.index import MISSING_SERIES_UID, build_index, is_derived
from viewer.core.measurements import image_key, measured_image
from viewer.core.series import open_series
from viewer.core.volume import build_volume


@pytest.fixture
def example_ct(seg_sr_dir):
    return seg_sr_dir / "totalsegmentator" / "example_ct_dicom"


@pytest.fixture
def index(example_ct):
    return build_index(example_ct)


def test_the_folder_opens_as_one_series_in_position_order(index, example_ct):
    (info,) = index.all_series()
    assert not index.skipped and len(info.frames) == 20
    heights = [f.position[2] for f in info.frames]
    assert heights == sorted(heights) and len(set(heights)) == 20
    meta = {
        str(pydicom.dcmread(p).file_meta.MediaStorageSOPInstanceUID) for p in example_ct.iterdir()
    }
    assert {f.sop_instance_uid for f in info.frames} == meta
    assert is_derived(info.series_instance_uid) and is_derived(info.study.study_instance_uid)
    assert MISSING_SERIES_UID in info.warnings


def test_derived_keys_are_stable_and_hold_no_identifiers(index, example_ct):
    again = build_index(example_ct)
    assert [s.key for s in again.all_series()] == [s.key for s in index.all_series()]
    study = again.all_series()[0].study
    assert study.study_instance_uid == index.all_series()[0].study.study_instance_uid
    for key in (study.study_instance_uid, again.all_series()[0].key):  # a hash, nothing else
        assert re.fullmatch(r"derived:(study|series):[0-9a-f]{32}(#1)?", key), key


def test_the_volume_builds(index):
    series = open_series(index.all_series()[0])
    volume = build_volume(series)
    assert volume.shape[0] == 20 and np.isfinite(volume.values).all()


@pytest.mark.parametrize("one_folder", [False, True], ids=["two folders", "one folder"])
def test_two_such_series_stay_two(example_ct, tmp_path, one_folder):
    """The second copy has its own Series Number (and instance UIDs: the same instance in two
    places is one image, `drop_duplicate_instances`); in one folder the number alone tells."""
    for name, number in (("a", None), ("b", 2)):
        folder = tmp_path if one_folder else tmp_path / name
        folder.mkdir(exist_ok=True)
        for source in sorted(example_ct.iterdir()):
            ds = pydicom.dcmread(source)
            if number is not None:
                ds.SeriesNumber = number
                ds.file_meta.MediaStorageSOPInstanceUID = pydicom.uid.generate_uid()
            ds.save_as(folder / f"{name}{source.name}", enforce_file_format=True)
    series = build_index(tmp_path).all_series()
    assert [(len(s.frames), s.number) for s in series] == [(20, 2), (20, None)]
    assert len({s.key for s in series}) == 2 and len({id(s.study) for s in series}) == 1


def test_derived_keys_of_a_zip_do_not_depend_on_where_it_was_extracted(example_ct, tmp_path):
    """A .zip is extracted into a new random scratch folder at each open: keys derived from
    that folder would change every run and orphan the measurements saved under them."""
    archive = tmp_path / "ct.zip"
    with zipfile.ZipFile(archive, "w") as out:
        for source in sorted(example_ct.iterdir()):
            ds = pydicom.dcmread(source)
            for keyword in ("StudyDate", "StudyTime", "AccessionNumber"):  # study key by folder
                setattr(ds, keyword, "")
            buffer = io.BytesIO()
            ds.save_as(buffer, enforce_file_format=True)
            out.writestr(f"ct/{source.name}", buffer.getvalue())
    first, second = (build_index(archive).all_series() for _ in range(2))
    assert first[0].frames[0].path != second[0].frames[0].path  # two extractions
    assert [s.key for s in first] == [s.key for s in second]
    assert first[0].study.study_instance_uid == second[0].study.study_instance_uid


def test_images_without_any_sop_instance_uid_keep_apart(example_ct, tmp_path):
    """SOP Instance UID empty in the data set and in the file meta: each image still gets its
    own key, the same at every open, so a measurement (or an AI result) stays on its image."""
    for source in sorted(example_ct.iterdir()):
        ds = pydicom.dcmread(source)
        ds.SOPInstanceUID = ""
        ds.file_meta.MediaStorageSOPInstanceUID = ""
        ds.save_as(tmp_path / source.name)
    first, second = (build_index(tmp_path).all_series()[0] for _ in range(2))
    series = open_series(first)
    keys = {image_key(*measured_image(series, i)) for i in range(len(series))}
    assert len(keys) == len(series) == 20
    assert [f.sop_instance_uid for f in first.frames] == [f.sop_instance_uid for f in second.frames]
