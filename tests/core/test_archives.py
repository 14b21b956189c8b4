"""Hostile archives (issue 10.5): deep nesting, one byte budget across nesting, zip bombs.

Every archive is built here from a real CT slice (pydicom's CT_small.dcm); each refusal names the
archive as the user knows it (`outer.zip/inner.zip`) and the rest of the inputs still opens.
"""

from __future__ import annotations

import io
import shutil
import struct
import zipfile
from pathlib import Path

import pydicom

from viewer.core import discovery
from viewer.core.discovery import expand_inputs
from viewer.core.index import build_index
from viewer.core.scratch import scratch_root

CT_SLICE = Path(pydicom.data.get_testdata_file("CT_small.dcm"))


def zip_bytes(members: dict[str, bytes], method: int = zipfile.ZIP_STORED) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", method) as archive:
        for name, data in members.items():
            archive.writestr(name, data)
    return buffer.getvalue()


def nested_zip(levels: int, innermost: dict[str, bytes]) -> bytes:
    """`levels` archives inside each other; the innermost holds `innermost`."""
    data = zip_bytes(innermost)
    for level in range(levels - 1, 0, -1):
        data = zip_bytes({f"level{level}.zip": data})
    return data


def extracted_bytes() -> int:
    return sum(p.stat().st_size for p in scratch_root().rglob("*") if p.is_file())


def test_600_levels_of_nested_zips_are_refused_by_name_and_the_slice_beside_opens(tmp_path):
    shutil.copy(CT_SLICE, tmp_path / "slice.dcm")
    (tmp_path / "deep.zip").write_bytes(nested_zip(600, {"inner.dcm": CT_SLICE.read_bytes()}))
    index = build_index([tmp_path])
    (series,) = index.all_series()
    assert [Path(f.path).name for f in series.frames] == ["slice.dcm"]
    (skipped,) = index.skipped
    depth = discovery.MAX_ARCHIVE_DEPTH
    chain = "/".join(f"level{n}.zip" for n in range(1, depth + 1))
    assert skipped.path == f"{tmp_path / 'deep.zip'}/{chain}"
    assert f"nested more than {depth} levels deep" in skipped.reason


def test_a_zip_inside_a_zip_opens(tmp_path):
    archive = tmp_path / "outer.zip"
    archive.write_bytes(nested_zip(2, {"ct/slice.dcm": CT_SLICE.read_bytes()}))
    index = build_index([archive])
    (series,) = index.all_series()
    assert not index.skipped
    assert series.frames[0].path.endswith("slice.dcm")


def test_one_byte_budget_covers_every_nesting_level_of_one_open(tmp_path, monkeypatch):
    """Three inner archives that each fit the cap, but not together: the third is refused."""
    slice_bytes = CT_SLICE.read_bytes()
    inner = {name: zip_bytes({f"{name}/ct.dcm": slice_bytes}) for name in ("a", "b", "c")}
    outer = tmp_path / "outer.zip"
    outer.write_bytes(zip_bytes({f"{n}.zip": data for n, data in inner.items()}))
    outer_size = sum(len(data) for data in inner.values())
    budget = outer_size + 2 * len(slice_bytes) + len(slice_bytes) // 2
    monkeypatch.setattr(discovery, "MAX_EXTRACTED_BYTES", budget)

    found = expand_inputs([outer])

    assert sorted(f.parent.name for f in found.files) == ["a", "b"]
    (skipped,) = found.skipped
    assert skipped.path == f"{outer}/c.zip" and "too large when extracted" in skipped.reason
    assert extracted_bytes() <= budget


def test_the_budget_is_per_open_not_per_process(tmp_path, monkeypatch):
    archive = tmp_path / "one.zip"
    archive.write_bytes(zip_bytes({"ct.dcm": CT_SLICE.read_bytes()}))
    monkeypatch.setattr(discovery, "MAX_EXTRACTED_BYTES", CT_SLICE.stat().st_size + 100)
    assert len(expand_inputs([archive]).files) == 1
    assert len(expand_inputs([archive]).files) == 1


def test_too_many_files_are_refused_from_the_end_record_alone(tmp_path, monkeypatch):
    archive = tmp_path / "many.zip"
    archive.write_bytes(zip_bytes({f"f{n:03d}": b"x" for n in range(101)}))
    monkeypatch.setattr(discovery, "MAX_EXTRACTED_FILES", 100)
    assert discovery.declared_entries(archive) == 101
    (skipped,) = expand_inputs([archive, CT_SLICE]).skipped
    assert skipped.path == str(archive) and "too many files" in skipped.reason
    assert extracted_bytes() == 0


def test_a_member_inflating_far_beyond_its_compressed_size_is_refused(tmp_path):
    archive = tmp_path / "bomb.zip"
    members = {"zeros.dcm": bytes(20 * 1024**2), "ct.dcm": CT_SLICE.read_bytes()}
    archive.write_bytes(zip_bytes(members, zipfile.ZIP_BZIP2))  # 20 MiB of zeros → ~50 bytes
    found = expand_inputs([archive])
    assert [f.name for f in found.files] == ["ct.dcm"]
    (skipped,) = found.skipped
    assert skipped.path == f"{archive}/zeros.dcm" and "compression ratio" in skipped.reason


def overlapping_bomb(data: bytes, copies: int) -> bytes:
    """One stored member listed `copies` times in the central directory (a 'better zip bomb')."""
    single = zip_bytes({"m00000": data}, zipfile.ZIP_DEFLATED)
    eocd = single.rindex(b"PK\x05\x06")
    cd_size, cd_offset = struct.unpack("<II", single[eocd + 12 : eocd + 20])
    record = single[cd_offset : cd_offset + cd_size]
    name_at = 46  # the file name follows the 46-byte fixed part of a central directory record
    records = b"".join(
        record[:name_at] + f"m{n:05d}".encode() + record[name_at + 6 :] for n in range(copies)
    )
    end = struct.pack("<4s4H2IH", b"PK\x05\x06", 0, 0, copies, copies, len(records), cd_offset, 0)
    return single[:cd_offset] + records + end


def test_overlapping_members_declaring_far_more_than_the_archive_are_refused(tmp_path):
    archive = tmp_path / "overlap.zip"
    member = CT_SLICE.read_bytes() + bytes(1024**2)  # ~30:1 alone; 3000 times: ~15000:1
    archive.write_bytes(overlapping_bomb(member, 3000))
    assert len(zipfile.ZipFile(archive).infolist()) == 3000  # zipfile itself accepts it
    found = expand_inputs([archive, CT_SLICE])
    assert found.files == [CT_SLICE]
    (skipped,) = found.skipped
    assert skipped.path == str(archive) and "zip bomb" in skipped.reason
    assert extracted_bytes() == 0


def test_a_member_larger_than_declared_is_refused_and_not_left_half_extracted(tmp_path):
    data = CT_SLICE.read_bytes()
    raw = bytearray(zip_bytes({"ct.dcm": data, "ok.dcm": data}, zipfile.ZIP_DEFLATED))
    declared = 1000
    raw[22:26] = struct.pack("<I", declared)  # local header: uncompressed size
    cd = raw.index(b"PK\x01\x02")
    raw[cd + 24 : cd + 28] = struct.pack("<I", declared)  # central directory: the same
    archive = tmp_path / "liar.zip"
    archive.write_bytes(bytes(raw))
    found = expand_inputs([archive])
    assert [f.name for f in found.files] == ["ok.dcm"]
    (skipped,) = found.skipped
    assert skipped.path == f"{archive}/ct.dcm" and "not extractable" in skipped.reason
    assert [p.name for p in scratch_root().rglob("*.dcm")] == ["ok.dcm"]


def test_an_archive_that_would_fill_the_disk_is_refused(tmp_path, monkeypatch):
    archive = tmp_path / "big.zip"
    archive.write_bytes(zip_bytes({"ct.dcm": CT_SLICE.read_bytes()}))
    free = shutil.disk_usage(tmp_path).free
    monkeypatch.setattr(discovery, "MIN_FREE_AFTER_EXTRACTION", 2 * free)  # others write too
    (skipped,) = expand_inputs([archive]).skipped
    assert skipped.path == str(archive) and "not enough disk space" in skipped.reason


def test_archives_are_extracted_under_the_user_cache_not_the_shared_temp_folder(tmp_path):
    archive = tmp_path / "study.zip"
    archive.write_bytes(zip_bytes({"ct.dcm": CT_SLICE.read_bytes()}))
    (extracted,) = expand_inputs([archive]).files
    assert extracted.is_relative_to(scratch_root())
    assert extracted.parent.stat().st_mode & 0o077 == 0  # private to the user
    assert discovery.display_path(extracted) == f"{archive}/ct.dcm"
