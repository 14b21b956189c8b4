"""A series releases what it holds open: a deflated multi-frame file's handle and scratch
file go at `Series.close()` (or the end of a `with`), not when it is garbage-collected."""

from __future__ import annotations

import gc
import os
import warnings

import pydicom
import pytest
from pydicom.data import get_testdata_file

from tests.core.hostile import write_deflated_multiframe
from viewer.core.index import build_index
from viewer.core.scratch import session_dir
from viewer.core.series import open_series


def open_descriptors() -> int:
    session_dir()  # the process's scratch session (its lock stays held) is not the series'
    return len(os.listdir("/proc/self/fd"))


@pytest.fixture
def deflated_multiframe(tmp_path):
    """Eight frames of CT_small, deflated, without a rescale (stored values are modality ones)."""
    _ds, frames = write_deflated_multiframe(tmp_path / "multi.dcm", 8, rescale=False)
    return build_index([tmp_path]).all_series()[0], frames


@pytest.mark.skipif(not os.path.isdir("/proc/self/fd"), reason="needs /proc/self/fd (Linux)")
def test_close_releases_the_deflated_file_and_its_scratch(deflated_multiframe):
    info, frames = deflated_multiframe
    baseline = open_descriptors()
    with open_series(info) as series:
        for k in (0, 3, 1):
            assert (series.modality_frame(k) == frames[k]).all()
        assert open_descriptors() == baseline + 2  # the file and its scratch copy
    assert open_descriptors() == baseline
    series.close()  # idempotent
    assert open_descriptors() == baseline
    assert (series.stored_frame(5) == frames[5]).all()  # a later read opens the file again
    series.close()
    assert open_descriptors() == baseline


def test_stored_frame_after_load_all_comes_from_the_volume(deflated_multiframe):
    """Nothing is inflated again: the volume holds the stored values (identity rescale)."""
    info, frames = deflated_multiframe
    series = open_series(info)
    assert not series.load_all()
    baseline = open_descriptors()
    assert (series.stored_frame(6) == frames[6]).all()
    assert series._deflated.inflated(info.frames[0].path) == 0  # not reopened
    assert open_descriptors() == baseline


def test_stored_frame_with_a_rescale_is_read_again(tmp_path):
    """With a rescale the volume holds HU, not stored values: the file is read again."""
    ds = pydicom.dcmread(get_testdata_file("CT_small.dcm"))
    ds.save_as(tmp_path / "ct.dcm")
    series = open_series(build_index([tmp_path]).all_series()[0])
    series.load_all()
    assert (series.stored_frame(0) == ds.pixel_array).all()
    assert (series.modality_frame(0) == ds.pixel_array - 1024).all()


@pytest.mark.skipif(not os.path.isdir("/proc/self/fd"), reason="needs /proc/self/fd (Linux)")
def test_render_command_closes_the_deflated_file(deflated_multiframe, tmp_path):
    """`radlens render` (in-process) closes the series' handle and scratch file itself: none
    is left open, and none is left for the garbage collector (a ResourceWarning)."""
    from viewer.cli import main

    info, _ = deflated_multiframe
    baseline = open_descriptors()
    out = tmp_path / "frame.png"
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always", ResourceWarning)
        assert main(["render", str(info.frames[0].path), "--frame", "3", "--out", str(out)]) == 0
        gc.collect()
    assert out.stat().st_size > 0
    assert open_descriptors() == baseline
    assert not [w for w in caught if issubclass(w.category, ResourceWarning)]
