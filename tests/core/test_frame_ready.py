"""`Series.frame_ready`: which frames the viewer may read on the UI thread without decoding."""

from __future__ import annotations

import pydicom
from pydicom.uid import JPEG2000Lossless

from viewer.core.index import build_index
from viewer.core.series import open_series


def test_compressed_frames_are_ready_once_decoded(ct_phantom_dir, tmp_path):
    sources = sorted(ct_phantom_dir.iterdir())[:3]
    (tmp_path / "j2k").mkdir()
    for source in sources:
        ds = pydicom.dcmread(source)
        ds.compress(JPEG2000Lossless)
        ds.save_as(tmp_path / "j2k" / source.name)
    series = open_series(build_index([tmp_path / "j2k"]).all_series()[0])
    assert not any(series.frame_ready(i) for i in range(len(series)))
    series.modality_frame(1)
    assert [series.frame_ready(i) for i in range(len(series))] == [False, True, False]
    series.load_all(workers=0)
    assert all(series.frame_ready(i) for i in range(len(series)))


def test_uncompressed_frames_are_always_ready(ct_phantom_dir):
    series = open_series(build_index(sorted(ct_phantom_dir.iterdir())[:3]).all_series()[0])
    assert all(series.frame_ready(i) for i in range(len(series)))
