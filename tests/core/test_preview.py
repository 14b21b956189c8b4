"""preview_series: the first plain image file of the input, opened alone, before any scan."""

from __future__ import annotations

import shutil
import time
import zipfile

import numpy as np
import pydicom
import pytest
from pydicom.pixels import apply_modality_lut

from viewer.core.errors import DicomReadError, LoadCancelled
from viewer.core.index import build_index
from viewer.core.loader import decode_frame_in_worker, shutdown_workers
from viewer.core.preview import frame_for_display, preview_series
from viewer.core.series import open_series


def test_a_folder_previews_its_first_image_file_skipping_documents(ct_phantom_dir, tmp_path):
    folder = tmp_path / "study"
    folder.mkdir()
    (folder / "0-README.txt").write_text("not an image")
    first = sorted(ct_phantom_dir.iterdir())[0]
    shutil.copy(first, folder / "1-image")
    shutil.copy(sorted(ct_phantom_dir.iterdir())[1], folder / "2-image")
    series = preview_series([folder])
    assert len(series) == 1 and series.info.frames[0].path == str(folder / "1-image")
    assert series.modality_frame(0).shape == (512, 512)


def test_archives_and_non_images_give_no_preview(ct_phantom_dir, tmp_path):
    archive = tmp_path / "study.zip"
    with zipfile.ZipFile(archive, "w") as zf:
        zf.write(sorted(ct_phantom_dir.iterdir())[0], "I1")
    assert preview_series([archive]) is None  # expanded once, by the index
    (tmp_path / "notes").mkdir()
    (tmp_path / "notes" / "x.bin").write_bytes(b"\0" * 300)
    assert preview_series([tmp_path / "notes"]) is None
    assert preview_series([]) is None


def pydicom_values(path) -> np.ndarray:
    ds = pydicom.dcmread(path)
    return apply_modality_lut(ds.pixel_array, ds)


def test_a_jpeg_2000_frame_for_display_is_decoded_in_a_worker_process(j2k_ct_dir, decoded_here):
    """The JPEG 2000 decoders hold the interpreter lock: a first image or thumbnail decoded on
    the loader's thread stalls the UI thread, so it is decoded by the loader's worker processes
    (once they run; before that only the first image, with nothing on screen yet, is not)."""
    series = open_series(build_index([j2k_ct_dir]).all_series()[0])
    middle = len(series) // 2
    shown = frame_for_display(series, middle)
    assert decoded_here == []
    np.testing.assert_array_equal(shown, pydicom_values(series.info.frames[middle].path))
    assert series.frame_ready(middle) and series.modality_frame(middle) is shown
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:  # until every worker has started
        first = frame_for_display(open_series(series.info), 0, first_image=True)
        if decoded_here == []:
            break
        decoded_here.clear()
        time.sleep(0.1)
    assert decoded_here == []  # a first image too, once the workers run
    np.testing.assert_array_equal(first, pydicom_values(series.info.frames[0].path))


def test_a_first_image_is_decoded_here_while_the_workers_start(j2k_ct_dir, decoded_here):
    shutdown_workers()
    series = open_series(build_index([j2k_ct_dir]).all_series()[0])
    first = frame_for_display(series, 0, first_image=True)
    assert len(decoded_here) == 1  # here: ~1 s sooner than a starting worker
    np.testing.assert_array_equal(first, pydicom_values(series.info.frames[0].path))


def test_a_worker_killed_by_a_file_costs_one_line_naming_it(tmp_path):
    """GDCM (the workers' last resort) aborts its process on this corrupt JPEG (a fuzz
    regression): that frame is reported by its file, and the next one decodes."""
    from pydicom.data import get_testdata_file

    from tests.core.test_fuzz_regressions import CORPUS

    (bad,) = [p for p in CORPUS if p.name.startswith("01-")]
    good = get_testdata_file("SC_rgb_jpeg_dcmtk.dcm")
    series_uid = pydicom.uid.generate_uid()
    for n, source in enumerate([good, bad]):
        ds = pydicom.dcmread(source)
        ds.SeriesInstanceUID, ds.InstanceNumber = series_uid, n + 1
        ds.SOPInstanceUID = ds.file_meta.MediaStorageSOPInstanceUID = pydicom.uid.generate_uid()
        ds.save_as(tmp_path / f"f{n}.dcm")
    info = build_index([tmp_path]).all_series()[0]
    with pytest.raises(DicomReadError) as failed:
        decode_frame_in_worker(info, 1)
    assert failed.value.path.endswith("f1.dcm") and "\n" not in str(failed.value)
    np.testing.assert_array_equal(
        decode_frame_in_worker(info, 0), pydicom.dcmread(good).pixel_array
    )


@pytest.mark.parametrize("workers", ["starting", "running"])
def test_waiting_for_a_worker_stops_when_the_load_is_cancelled(j2k_ct_dir, workers):
    """Cancelled before the frame comes back, whether the workers are still starting or
    running already (then the frame would come back within the first wait)."""
    info = build_index([j2k_ct_dir]).all_series()[0]
    shutdown_workers()
    if workers == "running":
        decode_frame_in_worker(info, 0)  # returns once a worker has decoded it
    with pytest.raises(LoadCancelled):
        decode_frame_in_worker(info, 0, cancel=lambda: True)
