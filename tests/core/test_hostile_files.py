"""Hostile headers (issue 10): memory bombs are refused in bounded memory, frame counts must fit
the data, truncations say so. Each file is built from a real one; `radlens info`/`render` run in
a subprocess whose address space is capped, so inflating or decoding what a header claims
would fail there with a MemoryError instead of the expected message."""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path

import pydicom
import pytest
from pydicom.data import get_testdata_file

from tests.core.hostile import header_only, run_limited, write_deflated, write_deflated_multiframe
from viewer.core.index import build_index
from viewer.core.scan import SkippedFile, scan_file

LIMIT_MIB = 1024  # what every command below must stay under; each bomb claims 2 GiB or more
SAMPLES = Path(__file__).resolve().parents[2] / "resources" / "samples" / "demo-study"


def _info(paths: list[Path], env=None) -> dict:
    done = run_limited(["info", "--json", *map(str, paths)], LIMIT_MIB, env)
    assert done.returncode in (0, 1), done.stderr
    return json.loads(done.stdout)


def _reasons(report: dict) -> dict[str, str]:
    return {Path(s["path"]).name: s["reason"] for s in report["skipped"]}


@pytest.fixture
def rle_bomb(tmp_path) -> Path:
    """pydicom's 7.8 KB RLE MR with Rows = Columns = 65535 (8 GiB once decoded)."""
    ds = pydicom.dcmread(get_testdata_file("MR_small_RLE.dcm"))
    ds.Rows = ds.Columns = 65535
    ds.save_as(tmp_path / "rle_bomb.dcm")
    shutil.copy(get_testdata_file("CT_small.dcm"), tmp_path / "ct.dcm")
    return tmp_path / "rle_bomb.dcm"


def test_rle_bomb_is_too_large_and_the_rest_opens(rle_bomb):
    report = _info([rle_bomb.parent])
    assert report["series_count"] == 1
    assert _reasons(report)["rle_bomb.dcm"].startswith("too large (8.0 GB)")


def test_rle_bomb_render_says_too_large(rle_bomb, tmp_path):
    done = run_limited(["render", str(rle_bomb), "--out", str(tmp_path / "x.png")], LIMIT_MIB)
    assert done.returncode == 1
    assert "too large (8.0 GB)" in done.stderr
    assert "MemoryError" not in done.stderr


def test_rle_geometry_the_data_cannot_hold_is_refused(tmp_path):
    ds = pydicom.dcmread(get_testdata_file("MR_small_RLE.dcm"))
    ds.Rows = ds.Columns = 16384  # 512 MiB decoded: under the cap, but not from 6 KB of RLE
    ds.save_as(tmp_path / "rle.dcm")
    result = scan_file(tmp_path / "rle.dcm")
    assert isinstance(result, SkippedFile)
    assert "cannot hold 16384×16384 pixels" in result.reason


def test_cap_is_configurable(rle_bomb, monkeypatch):
    monkeypatch.setenv("RADLENS_MAX_IMAGE_GB", "0.001")  # 1 MiB: the real 128×128 CT is 32 KiB
    assert not isinstance(scan_file(get_testdata_file("CT_small.dcm")), SkippedFile)
    ds = pydicom.dcmread(get_testdata_file("CT_small.dcm"))
    monkeypatch.setenv("RADLENS_MAX_IMAGE_GB", str(ds.Rows * ds.Columns * 2 / 1024**3 / 2))
    reason = scan_file(get_testdata_file("CT_small.dcm")).reason
    assert reason.startswith("too large (0.0 GB)") and "RADLENS_MAX_IMAGE_GB" in reason


def test_deflated_bomb_header_scan_is_bounded(tmp_path):
    """2 GiB of declared pixels in a 2 MB deflated file: over a 1 GB cap, refused unread."""
    ds = header_only(get_testdata_file("image_dfl.dcm"), Rows=1024, Columns=1024)
    ds.NumberOfFrames = 2048
    write_deflated(tmp_path / "deflated_bomb.dcm", ds, pixel_mib=2048)
    assert (tmp_path / "deflated_bomb.dcm").stat().st_size < 3 * 1024**2
    report = _info([tmp_path], env={**os.environ, "RADLENS_MAX_IMAGE_GB": "1"})
    assert _reasons(report)["deflated_bomb.dcm"].startswith("too large (2.0 GB)")


def test_deflated_file_opens_without_inflating_what_follows_the_frame(tmp_path):
    """One 1 MiB frame followed by 2 GiB of trailing padding: info and render stay bounded
    (pydicom alone inflates the whole dataset), and the frame is read right."""
    ds = header_only(get_testdata_file("image_dfl.dcm"), Rows=1024, Columns=1024)
    path = write_deflated(tmp_path / "padded.dcm", ds, pixel_mib=1, trailing_mib=2048)
    report = _info([path])
    series = report["patients"][0]["studies"][0]["series"]
    assert [(s["rows"], s["frames"]) for s in series] == [(1024, 1)]
    out = tmp_path / "padded.png"
    done = run_limited(["render", str(path), "--out", str(out)], LIMIT_MIB)
    assert done.returncode == 0, done.stderr
    assert out.stat().st_size > 0


def test_deflated_frames_decode_like_pydicom():
    from viewer.core.series import open_series

    path = get_testdata_file("image_dfl.dcm")
    series = open_series(build_index([path]).all_series()[0])
    assert (series.modality_frame(0) == pydicom.dcmread(path).pixel_array).all()
    assert series.header(0).Rows == 512


def test_deflated_header_past_the_limit_is_refused(tmp_path, monkeypatch):
    import viewer.core.deflated as deflated

    monkeypatch.setattr(deflated, "HEADER_LIMIT", 1024**2)  # the real header is ~500 bytes
    ds = header_only(get_testdata_file("image_dfl.dcm"))
    block = ds.private_block(0x0009, "RADLENS TEST", create=True)
    block.add_new(0x10, "OB", bytes(2 * 1024**2))  # 2 MiB before Pixel Data
    path = write_deflated(tmp_path / "long_header.dcm", ds, pixel_mib=0)
    assert scan_file(path).reason == "too large (header over 1 MB once inflated); refused"


@pytest.mark.parametrize("frames", [500, 63631])
def test_frame_count_must_fit_the_fragments(tmp_path, frames):
    """A JPEG 2000 radiograph (one fragment) claiming many frames is refused at once."""
    ds = pydicom.dcmread(SAMPLES / "chest-ap-1.dcm")
    ds.NumberOfFrames = frames
    ds.save_as(tmp_path / "frames.dcm")
    reason = scan_file(tmp_path / "frames.dcm").reason
    assert "too large" in reason or f"Number of Frames ({frames}) does not match" in reason


def test_native_frame_count_must_fit_the_pixel_length(tmp_path):
    ds = pydicom.dcmread(SAMPLES / "chest-ap-3.dcm")
    ds.NumberOfFrames = 3
    ds.save_as(tmp_path / "frames.dcm")
    assert "does not match" in scan_file(tmp_path / "frames.dcm").reason


def test_truncated_compressed_file_says_truncated(tmp_path):
    data = (SAMPLES / "chest-ap-2.dcm").read_bytes()
    (tmp_path / "cut.dcm").write_bytes(data[: len(data) // 2])
    assert scan_file(tmp_path / "cut.dcm").reason.startswith("file truncated inside the pixel")


def test_truncated_inside_the_header_says_truncated(tmp_path, ct_phantom_dir):
    source = sorted(ct_phantom_dir.iterdir())[0]
    data = source.read_bytes()
    with open(source, "rb") as fp:
        pydicom.dcmread(fp, stop_before_pixels=True)
        header_end = fp.tell()
    for name, cut in (("half.dcm", header_end // 2), ("late.dcm", header_end - 3)):
        (tmp_path / name).write_bytes(data[:cut])
        assert scan_file(tmp_path / name).reason.startswith("file truncated inside the header")
    (tmp_path / "at_pixels.dcm").write_bytes(data[:header_end])
    assert "truncated?" in scan_file(tmp_path / "at_pixels.dcm").reason


def test_analyze_opens_each_series_once(enhanced_mr_dir):
    """`analyze` of a multi-frame file: every frame's job shares one Series (each frame used
    to rebuild it, rescanning all frames: quadratic in the frame count)."""
    from viewer.commands.analyze import collect_jobs

    jobs, errors = collect_jobs([enhanced_mr_dir])
    assert len(jobs) > 10 and not errors
    for job in jobs:
        job.load()
    assert jobs[0].opener.opened == len(build_index([enhanced_mr_dir]).all_series())


def test_deflated_multiframe_loads_in_order(tmp_path):
    """Frames of a deflated multi-frame file come out right, through one forward pass."""
    import numpy as np

    from viewer.core.loader import load_volume
    from viewer.core.series import open_series

    ds, frames = write_deflated_multiframe(tmp_path / "multi.dcm", 5)
    info = build_index([tmp_path]).all_series()[0]
    volume, skipped = load_volume(info, workers=0)
    assert not skipped
    modality = frames * np.float32(ds.RescaleSlope) + np.float32(ds.RescaleIntercept)
    assert (volume == modality).all()
    assert (open_series(info).stored_frame(3) == frames[3]).all()


def test_a_multiframe_file_with_bad_frames_is_one_skipped_file(tmp_path):
    """Issue 10 item 10: frames that fail in one file are reported once, for that file."""
    import numpy as np
    from pydicom.encaps import encapsulate, generate_frames
    from pydicom.uid import RLELossless

    from viewer.core.loader import load_volume

    ds = pydicom.dcmread(get_testdata_file("CT_small.dcm"))
    ds.PixelData = np.stack([ds.pixel_array] * 4).tobytes()
    ds.NumberOfFrames = 4
    ds.compress(RLELossless)
    frames = list(generate_frames(ds.PixelData, number_of_frames=4))
    ds.PixelData = encapsulate(frames[:1] + [b"\x05" + bytes(63)] * 3)  # bad RLE headers
    ds.save_as(tmp_path / "multi.dcm")
    volume, skipped = load_volume(build_index([tmp_path]).all_series()[0], workers=0)
    assert [(Path(s.path).name, s.reason.split(" (")[0]) for s in skipped] == [
        ("multi.dcm", "3 of 4 frames could not be decoded")
    ]
    assert volume[0].any() and not volume[1:].any()


def _codestream_claiming(frame: bytes, marker: bytes, offsets: tuple[int, int], size: int):
    """`frame` with the width/height fields after `marker` set to 60000."""
    patched = bytearray(frame)
    at = patched.find(marker)
    for offset in offsets:
        patched[at + offset : at + offset + size] = (60000).to_bytes(size, "big")
    return bytes(patched)


def test_codestream_claiming_another_size_is_refused_unread(tmp_path):
    """A JPEG 2000 radiograph whose SIZ marker claims 60000×60000 (decoders allocate that)."""
    from pydicom.encaps import encapsulate, generate_frames

    ds = pydicom.dcmread(SAMPLES / "chest-ap-1.dcm")
    frame = next(generate_frames(ds.PixelData, number_of_frames=1))
    ds.PixelData = encapsulate([_codestream_claiming(frame, b"\xff\x51", (6, 10), 4)])
    ds.save_as(tmp_path / "j2k.dcm")
    reason = _reasons(_info([tmp_path / "j2k.dcm"]))["j2k.dcm"]
    assert reason == (
        "the compressed frame declares 60000×60000 pixels, the header 1488×1088; not decoded"
    )


def test_a_later_frame_claiming_another_size_fails_alone(tmp_path):
    """Frame 2 of a JPEG-LS file claims 60000×60000: frame 1 renders, frame 2 is refused
    before decoding, in bounded memory."""
    import numpy as np
    from pydicom.encaps import encapsulate, generate_frames
    from pydicom.uid import JPEGLSLossless

    ds = pydicom.dcmread(get_testdata_file("CT_small.dcm"))
    ds.PixelData = np.stack([ds.pixel_array] * 2).tobytes()
    ds.NumberOfFrames = 2
    ds.compress(JPEGLSLossless)
    good, bad = generate_frames(ds.PixelData, number_of_frames=2)
    ds.PixelData = encapsulate([good, _codestream_claiming(bad, b"\xff\xf7", (5, 7), 2)])
    ds.save_as(tmp_path / "jls.dcm")
    for frame, code in ((0, 0), (1, 1)):
        out = tmp_path / f"{frame}.png"
        args = ["render", str(tmp_path / "jls.dcm"), "--frame", str(frame), "--out", str(out)]
        done = run_limited(args, LIMIT_MIB)
        assert done.returncode == code, done.stderr
    assert "frame 2: the compressed frame declares 60000×60000 pixels" in done.stderr


def test_scrolling_a_deflated_multiframe_inflates_each_frame_once(tmp_path):
    """Issue 10 (left from 0.2.0): frame k+1 after frame k goes on from where the inflater
    stopped instead of inflating the file from its start again; an earlier frame is read back
    from the scratch copy. Counted in bytes inflated, per scroll step."""

    from viewer.core.series import open_series

    ds, frames = write_deflated_multiframe(tmp_path / "multi.dcm", 8)
    info = build_index([tmp_path]).all_series()[0]
    series = open_series(info)
    path, frame_bytes = info.frames[0].path, frames[0].nbytes
    steps = []
    for k in range(len(frames)):
        before = series._deflated.inflated(path)
        assert (series.stored_frame(k) == frames[k]).all()
        steps.append(series._deflated.inflated(path) - before)
    header_bytes = steps[0] - frame_bytes
    assert 0 < header_bytes < frame_bytes  # the first step inflates the header and frame 0
    assert steps[1:] == [frame_bytes] * (len(frames) - 1)  # then one frame per step, not k + 1
    before = series._deflated.inflated(path)
    assert (series.stored_frame(2) == frames[2]).all()  # back up: read back, nothing inflated
    assert series._deflated.inflated(path) == before
    assert not series.frame_ready(5)  # a deflated frame is inflated off the UI thread
