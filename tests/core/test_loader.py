"""load_volume: fast raw path, pydicom fallback, worker processes, progress and cancel."""

from __future__ import annotations

import re
import shutil
import threading
from pathlib import Path

import numpy as np
import pydicom
import pytest
from pydicom.pixels import apply_modality_lut
from pydicom.uid import RLELossless

from benchmarks.bench_load import build_ct_stack
from viewer.core.errors import LoadCancelled
from viewer.core.index import build_index
from viewer.core.loader import load_volume
from viewer.core.series import open_series
from viewer.core.shared_volume import segment_prefix


@pytest.fixture(scope="module")
def ct_stacks(tmp_path_factory):
    from tests.conftest import SHARED_DATA

    ct_dir = SHARED_DATA / "dicom" / "ct-phantom-54sl"
    if not ct_dir.exists():
        pytest.skip("real CT not found")
    root = tmp_path_factory.mktemp("stacks")
    build_ct_stack(ct_dir, root / "raw", 60)
    build_ct_stack(ct_dir, root / "rle", 30, RLELossless)
    return root


def test_raw_volume_matches_pydicom_per_slice(ct_stacks):
    info = build_index([ct_stacks / "raw"]).all_series()[0]
    volume, skipped = load_volume(info, workers=0)
    assert not skipped and volume.dtype == np.int16 and volume.shape == (60, 512, 512)
    for k in (0, 33, 59):
        ds = pydicom.dcmread(info.frames[k].path)
        np.testing.assert_array_equal(volume[k], apply_modality_lut(ds.pixel_array, ds))


def test_identity_rescale_volume_keeps_stored_dtype(mr_sag_dir):
    info = build_index([mr_sag_dir / "3_t1_fl2d_sag"]).all_series()[0]
    volume, _ = load_volume(info, workers=0)
    assert volume.dtype == np.uint16
    expected = np.stack([pydicom.dcmread(f.path).pixel_array for f in info.frames])
    np.testing.assert_array_equal(volume, expected)


def test_worker_processes_give_the_same_volume(ct_stacks):
    info = build_index([ct_stacks / "rle"]).all_series()[0]
    in_process, _ = load_volume(info, workers=0)
    progress = []
    in_workers, skipped = load_volume(info, workers=2, progress=lambda d, t: progress.append(d))
    assert not skipped and in_workers.dtype == np.int16
    np.testing.assert_array_equal(in_workers, in_process)
    ds = pydicom.dcmread(info.frames[7].path)
    np.testing.assert_array_equal(in_workers[7], apply_modality_lut(ds.pixel_array, ds))
    assert progress[-1] == 30 and progress == sorted(progress)


def test_cancel_stops_loading(ct_stacks):
    info = build_index([ct_stacks / "raw"]).all_series()[0]
    stop = threading.Event()

    def progress(done, total):
        if done == 20:
            stop.set()

    with pytest.raises(LoadCancelled):
        load_volume(info, progress=progress, cancel=stop, workers=0)


def test_series_serves_frames_from_loaded_volume(ct_stacks):
    info = build_index([ct_stacks / "raw"]).all_series()[0]
    series = open_series(info)
    before = series.modality_frame(5).copy()
    assert series.load_all(workers=0) == []
    assert series.volume is not None and not series.volume.flags.writeable
    np.testing.assert_array_equal(series.modality_frame(5), before)


def test_moved_pixel_offset_falls_back_to_pydicom(ct_stacks, tmp_path):
    shutil.copytree(ct_stacks / "raw", tmp_path / "raw")
    info = build_index([tmp_path / "raw"]).all_series()[0]
    path = info.frames[3].path
    ds = pydicom.dcmread(path)
    ds.StudyDescription = "a longer description that shifts the pixel data offset"
    ds.save_as(path)  # rewritten after the scan: the recorded offset is now stale
    volume, skipped = load_volume(info, workers=0)
    assert not skipped
    np.testing.assert_array_equal(volume[3], apply_modality_lut(ds.pixel_array, ds))


def _rescaled_copy(ct_phantom_dir, folder, slope, intercept, count=3):
    """The first `count` phantom slices with another Rescale Slope / Intercept."""
    folder.mkdir()
    series_uid = pydicom.uid.generate_uid()
    for path in sorted(ct_phantom_dir.iterdir())[:count]:
        ds = pydicom.dcmread(path)
        ds.RescaleSlope, ds.RescaleIntercept = slope, intercept
        ds.SeriesInstanceUID = series_uid
        ds.save_as(folder / path.name)
    return build_index([folder]).all_series()[0]


@pytest.mark.parametrize(
    ("slope", "intercept", "dtype"),
    [
        ("1", "-1024", np.int16),  # CT in HU: 12-bit stored + integral rescale fits int16
        ("2", "-1024", np.int16),
        ("0.5", "-1024", np.float32),  # fractional slope: not integral
        ("1", "30000", np.float32),  # 0..4095 + 30000 passes int16's 32767
    ],
)
def test_volume_dtype_is_int16_only_when_the_rescale_is_exact_in_it(
    ct_phantom_dir, tmp_path, slope, intercept, dtype
):
    info = _rescaled_copy(ct_phantom_dir, tmp_path / "ct", slope, intercept)
    volume, skipped = load_volume(info, workers=0)
    series = open_series(info)
    assert not skipped and volume.dtype == dtype and series.modality_frame(1).dtype == dtype
    for k, frame in enumerate(info.frames):
        ds = pydicom.dcmread(frame.path)
        expected = apply_modality_lut(ds.pixel_array, ds)
        np.testing.assert_array_equal(volume[k], expected)
        np.testing.assert_array_equal(series.modality_frame(k), expected)


def test_a_decoder_that_kills_its_worker_costs_only_its_own_frame(tmp_path):
    """GDCM (the workers' last resort) aborts its process on this corrupt baseline JPEG (a
    fuzz regression): the loader decodes that pool's frames here and loses only the bad one."""
    from pydicom.data import get_testdata_file

    from tests.core.test_fuzz_regressions import CORPUS

    (bad,) = [p for p in CORPUS if p.name.startswith("01-")]
    good = get_testdata_file("SC_rgb_jpeg_dcmtk.dcm")
    series_uid = pydicom.uid.generate_uid()
    for n, source in enumerate([good, good, bad, good, good]):
        ds = pydicom.dcmread(source)
        ds.SeriesInstanceUID, ds.InstanceNumber = series_uid, n + 1
        ds.SOPInstanceUID = ds.file_meta.MediaStorageSOPInstanceUID = pydicom.uid.generate_uid()
        ds.save_as(tmp_path / f"f{n}.dcm")
    info = build_index([tmp_path]).all_series()[0]
    before = shm_segments()
    volume, skipped = load_volume(info, workers=1)
    assert shm_segments() <= before  # the shared volume's name is gone after the crash too
    assert [s.path.endswith("f2.dcm") for s in skipped] == [True]
    expected = pydicom.dcmread(good).pixel_array
    for k, frame in enumerate(info.frames):
        if not frame.path.endswith("f2.dcm"):
            np.testing.assert_array_equal(volume[k], expected)


def test_slow_codecs_and_large_frames_decode_in_workers_from_two_frames(ct_phantom_dir):
    """Decoders hold the interpreter lock: a JPEG 2000 series on the loader thread would stall
    the UI thread frame by frame, so even a short one goes to worker processes."""
    from dataclasses import replace

    from pydicom.uid import JPEG2000Lossless, RLELossless

    from viewer.core.loader import choose_workers

    info = build_index([ct_phantom_dir]).all_series()[0]
    j2k = replace(info, transfer_syntax=JPEG2000Lossless)
    rle = replace(info, transfer_syntax=RLELossless)
    radiograph = replace(rle, rows=3000, columns=3000)
    assert choose_workers(3, None, j2k) > 0 and choose_workers(3, None, radiograph) > 0
    assert choose_workers(3, None, rle) == 0 and choose_workers(1, None, j2k) == 0
    assert choose_workers(3, 0, j2k) == 0  # workers=0 never starts processes


def test_a_series_whose_frames_are_all_decoded_is_not_decoded_again(ct_phantom_dir, tmp_path):
    """A single radiograph decoded for its first image becomes the volume as it is."""
    path = tmp_path / "one.dcm"
    shutil.copy(sorted(ct_phantom_dir.iterdir())[0], path)
    series = open_series(build_index([tmp_path]).all_series()[0])
    first = series.modality_frame(0).copy()
    path.unlink()  # a second decode could only fail now
    assert series.load_all(workers=0) == []
    np.testing.assert_array_equal(series.volume[0], first)


def test_bits_above_bits_stored_are_ignored_like_pydicom(ct_phantom_dir, tmp_path):
    """12 of 16 bits stored: garbage in the 4 unused bits must not reach the HU (nor wrap int16)."""
    folder = tmp_path / "ct"
    info = _rescaled_copy(ct_phantom_dir, folder, "1", "-1024", count=2)
    ds = pydicom.dcmread(info.frames[0].path)
    stored = ds.pixel_array.copy()
    stored[:10] |= 0xF000  # old overlay planes lived up there
    ds.PixelData = stored.tobytes()
    ds.save_as(info.frames[0].path)
    info = build_index([folder]).all_series()[0]
    volume, _ = load_volume(info, workers=0)
    ds = pydicom.dcmread(info.frames[0].path)
    np.testing.assert_array_equal(volume[0], apply_modality_lut(ds.pixel_array, ds))
    np.testing.assert_array_equal(open_series(info).modality_frame(0), volume[0])


def test_a_series_adopts_the_frames_its_one_file_preview_decoded(ct_phantom_dir, tmp_path):
    from viewer.core.preview import preview_series

    folder = tmp_path / "ct"
    shutil.copytree(ct_phantom_dir, folder)
    preview = preview_series([folder])
    shown = preview.modality_frame(0)
    series = open_series(build_index([folder]).all_series()[0])
    assert series.adopt_frames(preview) == 1
    k = [f.path for f in series.info.frames].index(preview.info.frames[0].path)
    Path(preview.info.frames[0].path).unlink()  # a second decode could only fail now
    assert series.modality_frame(k) is shown


def shm_segments() -> set[str]:
    """The shared-memory segments in /dev/shm (POSIX shared memory on Linux) that this process
    created: named by `segment_prefix()`, so other programs' segments, and another RadLens's
    (a test run beside this one), are none of them."""
    folder = Path("/dev/shm")
    if not folder.is_dir():
        pytest.skip("no /dev/shm here to list shared-memory segments")
    return {p.name for p in folder.iterdir() if p.name.startswith(segment_prefix())}


def mapped_segments() -> set[str]:
    """The shared-memory segments of RadLens this process maps (named or unlinked), after a
    garbage collection (arrays earlier tests left behind go first)."""
    import gc

    gc.collect()
    maps = Path("/proc/self/maps").read_text().splitlines()
    names = {line.split("/dev/shm/")[1].split()[0] for line in maps if "/dev/shm/" in line}
    return {name for name in names if name.startswith(segment_prefix())}


def test_workers_write_into_a_shared_volume_that_leaves_no_segment(ct_stacks):
    """The volume lives in shared memory the workers write into (no frames through the pipe);
    its name is removed when the load ends and its memory goes with the array."""
    import mmap

    info = build_index([ct_stacks / "rle"]).all_series()[0]
    before, mapped = shm_segments(), mapped_segments()
    volume, skipped = load_volume(info, workers=2)
    assert not skipped and shm_segments() <= before
    base = volume
    while isinstance(base, np.ndarray):
        base = base.base
    assert isinstance(getattr(base, "obj", base), mmap.mmap)
    (ours,) = mapped_segments() - mapped
    assert re.fullmatch(rf"{segment_prefix()}[0-9a-f]{{12}}", ours)  # nothing from the study
    ds = pydicom.dcmread(info.frames[11].path)
    np.testing.assert_array_equal(volume[11], apply_modality_lut(ds.pixel_array, ds))
    np.testing.assert_array_equal(volume, load_volume(info, workers=0)[0])
    del volume, base
    assert ours not in mapped_segments()  # unmapped: the memory is released


@pytest.mark.parametrize("ending", ["cancel", "exception"])
def test_a_load_that_stops_early_leaves_no_shared_memory(ct_stacks, ending):
    info = build_index([ct_stacks / "rle"]).all_series()[0]
    stop = threading.Event()

    def progress(done, total):
        if done >= 3 and ending == "exception":
            raise RuntimeError("the progress callback failed")
        if done >= 3:
            stop.set()

    before, mapped = shm_segments(), mapped_segments()
    with pytest.raises(LoadCancelled if ending == "cancel" else RuntimeError):
        load_volume(info, progress=progress, cancel=stop, workers=2)
    assert shm_segments() <= before
    assert mapped_segments() <= mapped
