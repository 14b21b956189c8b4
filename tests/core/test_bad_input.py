"""A folder of 200 good CT slices plus broken files opens the 200 and names every other file."""

from __future__ import annotations

import shutil
import zipfile
from pathlib import Path

import numpy as np
import pydicom
import pytest
from pydicom.uid import generate_uid

from benchmarks.bench_load import build_ct_stack
from viewer.core.index import build_index
from viewer.core.loader import load_volume
from viewer.core.scan import SkippedFile, scan_file
from viewer.core.scratch import scratch_root
from viewer.core.series import open_series

GOOD_SLICES = 200


def add_bad_files(folder: Path, good: Path) -> dict[str, str]:
    """Broken variants of `good`; returns file name → a word its skip reason must contain."""
    data = good.read_bytes()
    (folder / "zero.dcm").write_bytes(b"")
    (folder / "truncated.dcm").write_bytes(data[: len(data) * 3 // 5])
    (folder / "notes").write_text("not an image\n")  # no extension: scanned
    (folder / "polyglot.dcm").write_bytes(b"MZ\x90\x00" + data[4:])
    (folder / "elf.dcm").write_bytes(b"\x7fELF" + data[4:])
    (folder / "bitflip.dcm").write_bytes(_flip_first_element_length(data))
    ds = pydicom.dcmread(good)
    ds.SOPInstanceUID = generate_uid()
    ds.Rows = 600
    ds.save_as(folder / "wrong_rows.dcm")
    ds.SOPInstanceUID = generate_uid()
    ds.Rows, ds.Columns = 512, 256
    ds.save_as(folder / "wrong_columns.dcm")
    del ds.PixelData
    ds.SOPInstanceUID = generate_uid()
    ds.save_as(folder / "no_pixels.dcm")
    return {
        "zero.dcm": "empty",
        "truncated.dcm": "truncated",
        "notes": "not a DICOM",
        "polyglot.dcm": "polyglot",
        "elf.dcm": "polyglot",
        "bitflip.dcm": "not readable",
        "wrong_rows.dcm": "does not match",
        "wrong_columns.dcm": "does not match",
        "no_pixels.dcm": "no pixel data",
    }


def _flip_first_element_length(data: bytes) -> bytes:
    """Set the top bit of the length of the first element after the file meta group."""
    offset = 132
    while data[offset : offset + 2] == b"\x02\x00":  # explicit VR LE meta elements
        vr = data[offset + 4 : offset + 6]
        if vr in (b"OB", b"OW", b"SQ", b"UN", b"UT"):
            offset += 12 + int.from_bytes(data[offset + 8 : offset + 12], "little")
        else:
            offset += 8 + int.from_bytes(data[offset + 6 : offset + 8], "little")
    corrupted = bytearray(data)
    corrupted[offset + 7] ^= 0x80  # high byte of the 2-byte length of the first element
    return bytes(corrupted)


@pytest.fixture(scope="module")
def messy_folder(tmp_path_factory) -> tuple[Path, dict[str, str]]:
    from tests.conftest import SHARED_DATA

    ct_dir = SHARED_DATA / "dicom" / "ct-phantom-54sl"
    if not ct_dir.exists():
        pytest.skip("real CT not found")
    folder = tmp_path_factory.mktemp("messy")
    good = build_ct_stack(ct_dir, folder / "ct", GOOD_SLICES)
    return folder, add_bad_files(folder, good[0])


def test_good_slices_open_and_every_bad_file_is_named(messy_folder):
    folder, expected = messy_folder
    index = build_index([folder])
    (info,) = index.all_series()
    assert len(info.frames) == GOOD_SLICES
    reasons = {Path(s.path).name: s.reason for s in index.skipped}
    assert set(reasons) == set(expected)
    for name, word in expected.items():
        assert word in reasons[name], (name, reasons[name])
    assert "CVE-2019-11687" in reasons["polyglot.dcm"]


def test_messy_folder_loads_fully(messy_folder):
    folder, _ = messy_folder
    info = build_index([folder]).all_series()[0]
    volume, skipped = load_volume(info, workers=0)
    assert volume.shape == (GOOD_SLICES, 512, 512) and not skipped
    series = open_series(info)
    np.testing.assert_array_equal(volume[150], series.modality_frame(150))


def test_frame_that_breaks_after_indexing_is_reported(messy_folder, tmp_path):
    folder, _ = messy_folder
    copy = tmp_path / "ct"
    shutil.copytree(folder / "ct", copy)
    info = build_index([copy]).all_series()[0]
    broken = Path(info.frames[7].path)
    broken.write_bytes(broken.read_bytes()[:4000])  # damaged between scan and load
    volume, skipped = load_volume(info, workers=0)
    assert [Path(s.path).name for s in skipped] == [broken.name]
    assert volume.shape[0] == GOOD_SLICES and not volume[7].any()


def test_zip_archive_opens_and_reports_members(messy_folder, tmp_path):
    folder, _ = messy_folder
    archive = tmp_path / "study.zip"
    with zipfile.ZipFile(archive, "w") as zf:
        for path in sorted((folder / "ct").iterdir())[:20]:
            zf.write(path, f"series/{path.name}")
        zf.write(folder / "zero.dcm", "series/zero.dcm")
        zf.writestr("../escape.dcm", b"x")
    index = build_index([archive])
    (info,) = index.all_series()
    assert len(info.frames) == 20
    reasons = {s.path: s.reason for s in index.skipped}
    assert reasons[f"{archive}/series/zero.dcm"].startswith("empty")
    assert "leaves the archive" in reasons[f"{archive}/../escape.dcm"]
    extracted = Path(info.frames[0].path)
    assert extracted.is_relative_to(scratch_root()) and extracted.is_file()
    assert open_series(info).modality_frame(0).shape == (512, 512)


def test_scan_never_raises_on_garbage(tmp_path):
    rng = np.random.default_rng(7)
    for n in range(20):
        path = tmp_path / f"noise{n}.dcm"
        head = b"\x00" * 128 + b"DICM" if n % 2 else b""
        path.write_bytes(head + rng.bytes(int(rng.integers(1, 4000))))
        assert isinstance(scan_file(path), SkippedFile)
