"""JPEG/PNG pictures as secondary images: real chest X-rays, and bad ones refused with a reason."""

from __future__ import annotations

import struct
import zlib

import numpy as np
from PIL import Image

from viewer.core.formatting import transfer_syntax_name
from viewer.core.index import build_index
from viewer.core.pictures import PICTURE_NOTE, PICTURE_SYNTAX, SECONDARY_CAPTURE
from viewer.core.series import open_series


def _first_jpeg(cxr_dir):
    return sorted((cxr_dir / "samples-fullres" / "NORMAL").glob("*.jpeg"))[0]


def test_a_chest_x_ray_jpeg_is_a_grey_secondary_image(cxr_dir):
    jpeg = _first_jpeg(cxr_dir)
    index = build_index([jpeg])
    (info,) = index.all_series()
    series = open_series(info)
    expected = np.asarray(Image.open(jpeg))
    np.testing.assert_array_equal(series.modality_frame(0), expected)
    assert (info.rows, info.columns) == expected.shape and not series.is_color
    assert series.geometry(0).spacing is None and series.windows(0) == []
    assert series.header(0).SOPClassUID == SECONDARY_CAPTURE
    assert any(PICTURE_NOTE in w for w in info.warnings)
    assert info.study.patient.name == "" and jpeg.stem not in info.frames[0].sop_instance_uid
    assert transfer_syntax_name(info.transfer_syntax) == PICTURE_SYNTAX


def test_an_rgb_jpeg_with_equal_channels_is_grey(cxr_dir):
    rgb = sorted((cxr_dir / "train" / "NORMAL").glob("*.jpeg"))[0]
    assert Image.open(rgb).mode == "RGB"
    series = open_series(build_index([rgb]).all_series()[0])
    assert series.modality_frame(0).ndim == 2 and not series.is_color


def test_a_truncated_picture_is_skipped_with_its_reason(cxr_dir, tmp_path):
    broken = tmp_path / "truncated.jpeg"
    broken.write_bytes(_first_jpeg(cxr_dir).read_bytes()[:2000])
    index = build_index([broken])
    assert not index.all_series()
    (skipped,) = index.skipped
    assert skipped.path.endswith("truncated.jpeg") and "PNG/JPEG" in skipped.reason


def _png_claiming(width: int, height: int) -> bytes:
    header = struct.pack(">IIBBBBB", width, height, 8, 0, 0, 0, 0)
    chunk = b"IHDR" + header
    ihdr = struct.pack(">I", len(header)) + chunk + struct.pack(">I", zlib.crc32(chunk))
    data = zlib.compress(b"\0" * 16)
    idat = (
        struct.pack(">I", len(data))
        + b"IDAT"
        + data
        + struct.pack(">I", zlib.crc32(b"IDAT" + data))
    )
    iend = struct.pack(">I", 0) + b"IEND" + struct.pack(">I", zlib.crc32(b"IEND"))
    return b"\x89PNG\r\n\x1a\n" + ihdr + idat + iend


def test_a_picture_claiming_a_huge_size_is_refused_before_decoding(tmp_path):
    huge = tmp_path / "huge.png"
    huge.write_bytes(_png_claiming(60000, 60000))
    index = build_index([huge])
    (skipped,) = index.skipped
    assert "larger than allowed" in skipped.reason or "PNG/JPEG" in skipped.reason


def test_the_ai_reads_a_picture_in_the_viewer_as_radlens_analyze_reads_it(cxr_dir):
    from inference.image_io import read_raster
    from viewer.core.analysis_input import frame_analysis_input

    jpeg = _first_jpeg(cxr_dir)
    series = open_series(build_index([jpeg]).all_series()[0])
    shown, analysed = frame_analysis_input(series, 0), read_raster(jpeg)
    assert shown.from_dicom is False and analysed.from_dicom is False  # no header to verify
    np.testing.assert_array_equal(shown.pixels, analysed.pixels)
    assert shown.photometric == analysed.photometric == "MONOCHROME2"


def test_picture_uids_are_keyed_not_a_plain_hash_of_the_path(tmp_path):
    import hashlib

    from viewer.core.installation_secret import keyed_digest
    from viewer.core.pictures import _uid

    picture = str(tmp_path / "Doe_John" / "chest.png")
    plain = hashlib.sha256(f"image\0{picture}".encode()).hexdigest()[:30]
    assert _uid("image", picture) == f"2.25.{int(keyed_digest('image', picture)[:30], 16)}"
    assert _uid("image", picture) != f"2.25.{int(plain, 16)}"
    assert _uid("image", picture) == _uid("image", picture)  # stable on this installation
