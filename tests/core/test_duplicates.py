"""Two files with one SOP Instance UID (issue 10 item 4): the copy that decodes is kept."""

from __future__ import annotations

import shutil
from pathlib import Path

import pydicom
from pydicom.encaps import encapsulate, generate_frames

from viewer.core.index import build_index
from viewer.core.series import open_series

SAMPLES = Path(__file__).resolve().parents[2] / "resources" / "samples" / "demo-study"


def _opened_and_skipped(folder: Path):
    index = build_index([folder])
    opened = [Path(f.path).name for s in index.all_series() for f in s.frames]
    return index, opened, {Path(s.path).name: s.reason for s in index.skipped}


def test_identical_copies_keep_the_first(tmp_path):
    for name in ("a.dcm", "b.dcm"):
        shutil.copy(SAMPLES / "chest-ap-2.dcm", tmp_path / name)
    index, opened, skipped = _opened_and_skipped(tmp_path)
    assert opened == ["a.dcm"]
    assert skipped == {"b.dcm": "duplicate SOP Instance UID: same image as a.dcm"}
    assert not any("differs" in w for w in index.all_series()[0].warnings)


def test_truncated_twin_found_first_does_not_hide_the_intact_file(tmp_path, ct_phantom_dir):
    source = sorted(ct_phantom_dir.iterdir())[0]
    data = source.read_bytes()
    (tmp_path / "a_cut.dcm").write_bytes(data[: len(data) - 1000])
    (tmp_path / "b_intact.dcm").write_bytes(data)
    index, opened, skipped = _opened_and_skipped(tmp_path)
    assert opened == ["b_intact.dcm"]
    assert skipped["a_cut.dcm"].startswith("file truncated")
    assert open_series(index.all_series()[0]).modality_frame(0).any()


def test_damaged_compressed_twin_is_dropped_with_a_warning(tmp_path):
    """A well-formed file whose JPEG-LS stream lost its second half, found before its intact
    twin: the intact one is shown, the series warns, the damaged one is named."""
    ds = pydicom.dcmread(SAMPLES / "chest-ap-2.dcm")
    stream = next(generate_frames(ds.PixelData, number_of_frames=1))
    ds.PixelData = encapsulate([stream[: len(stream) // 2]])
    ds.save_as(tmp_path / "a_damaged.dcm")
    shutil.copy(SAMPLES / "chest-ap-2.dcm", tmp_path / "b_intact.dcm")
    index, opened, skipped = _opened_and_skipped(tmp_path)
    assert opened == ["b_intact.dcm"]
    assert skipped["a_damaged.dcm"].startswith(
        "duplicate SOP Instance UID: a different copy of this image, b_intact.dcm, was kept"
    )
    warnings = index.all_series()[0].warnings
    assert any(
        "b_intact.dcm: another file with this SOP Instance UID differs" in w for w in warnings
    )
    expected = pydicom.dcmread(SAMPLES / "chest-ap-2.dcm").pixel_array
    assert (open_series(index.all_series()[0]).stored_frame(0) == expected).all()
