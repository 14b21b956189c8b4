"""Every transfer syntax decodes to the values pydicom's own path gives (pixel_array + LUTs).

Two sources: pydicom's bundled test files (by exact name; skipped when absent, never
downloaded) and files derived here from the real CT/MR by re-encoding them (pydicom's
`Dataset.compress` and dcmtk's `dcmcjpeg`/`dcmconv` when installed).
"""

from __future__ import annotations

import shutil
import subprocess
import warnings
from pathlib import Path

import numpy as np
import pydicom
import pytest
from pydicom.pixels import apply_color_lut, apply_modality_lut
from pydicom.uid import JPEG2000Lossless, JPEGLSLossless, RLELossless

from viewer.core.decode import to_uint8
from viewer.core.errors import DicomReadError
from viewer.core.index import build_index
from viewer.core.loader import load_volume
from viewer.core.series import open_series

# Lossy JPEG decoders (libjpeg in pylibjpeg vs GDCM/Pillow) differ by a few levels in IDCT and
# chroma-upsampling rounding;
# we decode with pylibjpeg first (GDCM can abort the process on corrupt data, see decode.py).
LOSSY_JPEG = {"1.2.840.10008.1.2.4.50", "1.2.840.10008.1.2.4.51"}
PYDICOM_FILES = Path(pydicom.data.__file__).parent / "test_files"

# (file, transfer syntax UID) — one per syntax the issue names, plus colour variants.
PYDICOM_CASES = [
    ("CT_small.dcm", "1.2.840.10008.1.2.1"),
    ("MR_small_implicit.dcm", "1.2.840.10008.1.2"),
    ("MR_small_bigendian.dcm", "1.2.840.10008.1.2.2"),
    ("image_dfl.dcm", "1.2.840.10008.1.2.1.99"),
    ("MR_small_RLE.dcm", "1.2.840.10008.1.2.5"),
    ("SC_rgb_jpeg_dcmtk.dcm", "1.2.840.10008.1.2.4.50"),
    ("JPGExtended.dcm", "1.2.840.10008.1.2.4.51"),
    ("SC_rgb_jpeg_gdcm.dcm", "1.2.840.10008.1.2.4.70"),
    ("MR_small_jpeg_ls_lossless.dcm", "1.2.840.10008.1.2.4.80"),
    ("JPEGLSNearLossless_16.dcm", "1.2.840.10008.1.2.4.81"),
    ("MR_small_jp2klossless.dcm", "1.2.840.10008.1.2.4.90"),
    ("JPEG2000.dcm", "1.2.840.10008.1.2.4.91"),
    ("693_J2KI.dcm", "1.2.840.10008.1.2.4.91"),
    ("SC_rgb_rle.dcm", "1.2.840.10008.1.2.5"),
    ("SC_rgb_rle_16bit.dcm", "1.2.840.10008.1.2.5"),
    ("SC_rgb_small_odd_big_endian.dcm", "1.2.840.10008.1.2.2"),
    ("SC_ybr_full_422_uncompressed.dcm", "1.2.840.10008.1.2.1"),
    ("examples_ybr_color.dcm", "1.2.840.10008.1.2.4.50"),
    ("examples_jpeg2k.dcm", "1.2.840.10008.1.2.4.90"),
    ("examples_palette.dcm", "1.2.840.10008.1.2.1"),
    ("rtdose.dcm", "1.2.840.10008.1.2"),
    ("MR_small_padded.dcm", "1.2.840.10008.1.2.1"),
]


def pydicom_file(name: str) -> Path:
    path = PYDICOM_FILES / name
    if not path.exists():
        pytest.skip(f"pydicom test file {name} not installed")
    return path


def reference_frame(path: Path, frame_index: int) -> np.ndarray:
    """What the viewer should show, computed with pydicom only."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        ds = pydicom.dcmread(path)
        values = ds.pixel_array
    if int(ds.get("NumberOfFrames", 1) or 1) > 1:
        values = values[frame_index]
    if ds.PhotometricInterpretation == "PALETTE COLOR":
        return to_uint8(apply_color_lut(values, ds))
    if values.ndim == 3:
        return to_uint8(values)
    return apply_modality_lut(values, ds)


def assert_series_matches_reference(path: Path) -> None:
    index = build_index([path])
    assert not index.skipped, index.skipped
    for info in index.all_series():
        series = open_series(info)
        for i in sorted({0, len(series) - 1}):
            got = series.modality_frame(i)
            expected = reference_frame(Path(info.frames[i].path), info.frames[i].frame_index)
            assert got.shape == expected.shape
            assert got.dtype.isnative
            if info.transfer_syntax in LOSSY_JPEG:
                difference = np.abs(got.astype(float) - expected)
                assert difference.max() <= 4 and difference.mean() < 0.1
            else:
                np.testing.assert_allclose(got, expected, rtol=1e-6, atol=1e-3)


@pytest.mark.parametrize(("name", "syntax"), PYDICOM_CASES, ids=[c[0] for c in PYDICOM_CASES])
def test_pydicom_file_decodes_like_pydicom(name, syntax):
    path = pydicom_file(name)
    (info,) = build_index([path]).all_series()
    assert info.transfer_syntax == syntax
    assert_series_matches_reference(path)


def test_colour_is_rgb_uint8():
    for name in ("SC_rgb_jpeg_dcmtk.dcm", "examples_palette.dcm", "SC_rgb_rle_16bit.dcm"):
        series = open_series(build_index([pydicom_file(name)]).all_series()[0])
        frame = series.modality_frame(0)
        assert series.is_color and frame.dtype == np.uint8 and frame.shape[-1] == 3


def test_undecodable_frame_raises_dicom_read_error():
    """JPEG-lossy.dcm is a 12-bit JPEG none of the installed decoders accepts."""
    path = pydicom_file("JPEG-lossy.dcm")
    series = open_series(build_index([path]).all_series()[0])
    with pytest.raises(DicomReadError) as caught:
        series.modality_frame(0)
    assert "JPEG-lossy.dcm" in str(caught.value) and caught.value.reason
    volume, skipped = load_volume(series.info, workers=0)
    assert [s.path for s in skipped] == [str(path)] and volume.shape[0] == 1


def _compress_copies(sources: list[Path], out: Path, syntax) -> list[Path]:
    out.mkdir()
    copies = []
    for source in sources:
        ds = pydicom.dcmread(source)
        ds.compress(syntax)
        target = out / source.name
        ds.save_as(target)
        copies.append(target)
    return copies


@pytest.mark.parametrize(
    "syntax", [RLELossless, JPEGLSLossless, JPEG2000Lossless], ids=["rle", "jpegls", "j2k"]
)
def test_derived_ct_lossless_equals_original(ct_phantom_dir, tmp_path, syntax):
    sources = sorted(ct_phantom_dir.iterdir())[:6]
    _compress_copies(sources, tmp_path / "derived", syntax)
    derived = build_index([tmp_path / "derived"]).all_series()[0]
    original = build_index(sources).all_series()[0]
    assert derived.transfer_syntax == syntax
    assert_series_matches_reference(tmp_path / "derived")
    volume, skipped = load_volume(derived, workers=0)
    reference, _ = load_volume(original, workers=0)
    assert not skipped
    np.testing.assert_array_equal(volume, reference)


def _dcmtk(tool: str, *args: str | Path) -> None:
    if shutil.which(tool) is None:
        pytest.skip(f"dcmtk {tool} not installed")
    subprocess.run([tool, *map(str, args)], check=True, capture_output=True, timeout=60)


@pytest.mark.parametrize(
    ("tool", "option", "syntax"),
    [
        ("dcmcjpeg", "+e1", "1.2.840.10008.1.2.4.70"),
        ("dcmcjpeg", "+eb", "1.2.840.10008.1.2.4.50"),
        ("dcmconv", "+td", "1.2.840.10008.1.2.1.99"),
        ("dcmconv", "+tb", "1.2.840.10008.1.2.2"),
        ("dcmconv", "+ti", "1.2.840.10008.1.2"),
    ],
    ids=["jpeg-lossless-sv1", "jpeg-baseline", "deflated", "big-endian", "implicit"],
)
def test_dcmtk_derived_mr(mr_sag_dir, tmp_path, tool, option, syntax):
    source = sorted((mr_sag_dir / "3_t1_fl2d_sag").iterdir())[17]
    target = tmp_path / "derived.dcm"
    _dcmtk(tool, option, source, target)
    (info,) = build_index([target]).all_series()
    assert info.transfer_syntax == syntax
    assert_series_matches_reference(target)
    if syntax != "1.2.840.10008.1.2.4.50":  # everything but baseline JPEG is lossless
        original = pydicom.dcmread(source).pixel_array
        np.testing.assert_array_equal(open_series(info).modality_frame(0), original)


def test_plugin_order_avoids_gdcm_and_prefers_charls_only_in_workers(monkeypatch):
    from pydicom.uid import JPEGBaseline8Bit

    from viewer.core import decode

    assert decode.plugin_order(JPEGLSLossless)[0] == "pylibjpeg"
    assert "gdcm" not in decode.plugin_order(JPEGBaseline8Bit)
    monkeypatch.setattr(decode, "_preferred_plugins", decode.THROUGHPUT_PLUGINS)
    assert decode.plugin_order(JPEGLSLossless)[0] == "pyjpegls"
    # worker processes only: GDCM as the last resort (an abort there kills a worker, not the app)
    assert decode.plugin_order(JPEGBaseline8Bit)[-1] == "gdcm"
    assert decode.plugin_order(JPEGLSLossless) == ["pyjpegls", "pylibjpeg", "gdcm"]


def _jpeg_ls_copy(folder: Path, keep_bytes: int | None = None, fragments: int = 1) -> Path:
    """pydicom's JPEG-LS MR as a file of its own: the codestream cut to `keep_bytes` (as a
    truncated or damaged file leaves it), or split over `fragments` fragments."""
    from pydicom.data import get_testdata_file
    from pydicom.encaps import encapsulate, generate_frames

    ds = pydicom.dcmread(get_testdata_file("MR_small_jpeg_ls_lossless.dcm"))
    (frame,) = generate_frames(ds.PixelData, number_of_frames=1)
    frame = frame[:keep_bytes]
    ds.PixelData = encapsulate([frame + b"\0" * (len(frame) % 2)], fragments_per_frame=fragments)
    ds.SOPInstanceUID = ds.file_meta.MediaStorageSOPInstanceUID = pydicom.uid.generate_uid()
    folder.mkdir()
    ds.save_as(folder / "mr.dcm")
    return folder / "mr.dcm"


def _plugins_used(monkeypatch, path: Path) -> tuple[list[str], np.ndarray | None]:
    """The decoder plugins offered, in order, while the series of `path` shows its frame."""
    from pydicom.uid import JPEGLSLossless

    from viewer.core import decode

    offered, choose = [], decode.plugin_order

    def recording(syntax, complete=None):
        order = choose(syntax, complete)
        if syntax == JPEGLSLossless:
            offered.extend(order)
        return order

    monkeypatch.setattr(decode, "plugin_order", recording)
    (info,) = build_index([path]).all_series()
    try:
        values = open_series(info).modality_frame(0)
    except DicomReadError:
        values = None
    return offered, values


@pytest.mark.parametrize("fragments", [1, 3])
def test_a_complete_jpeg_ls_frame_goes_to_charls_first(monkeypatch, tmp_path, fragments):
    path = _jpeg_ls_copy(tmp_path / "ok", fragments=fragments)
    offered, values = _plugins_used(monkeypatch, path)
    assert offered[0] == "pyjpegls"
    np.testing.assert_array_equal(values, pydicom.dcmread(path).pixel_array)


@pytest.mark.parametrize("keep_bytes", [3000, -2])
def test_a_truncated_jpeg_ls_frame_never_goes_to_charls(monkeypatch, tmp_path, keep_bytes):
    """CharLS takes seconds to fail on a truncated stream (docs/FUZZING.md); libjpeg does not."""
    from viewer.core import decode

    path = _jpeg_ls_copy(tmp_path / "cut", keep_bytes=keep_bytes)
    offered, _ = _plugins_used(monkeypatch, path)
    assert offered and "pyjpegls" not in offered
    monkeypatch.setattr(decode, "_preferred_plugins", decode.THROUGHPUT_PLUGINS)
    assert "pyjpegls" not in _plugins_used(monkeypatch, path)[0]  # nor in worker processes


def test_a_fragment_length_past_the_end_of_the_file_reads_nothing_and_skips_charls(tmp_path):
    """A damaged item length (4 GB) must not make the codestream check read or allocate it."""
    import tracemalloc

    from viewer.core.decode import check_codestream

    path = _jpeg_ls_copy(tmp_path / "long")
    (info,) = build_index([path]).all_series()
    (ref,) = info.frames
    data = bytearray(path.read_bytes())
    data[ref.fragment_offset - 4 : ref.fragment_offset] = b"\xff\xff\xff\xfe"
    path.write_bytes(bytes(data))
    tracemalloc.start()
    try:
        stream = check_codestream(ref, info.rows, info.columns)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert stream.items == b"" and stream.complete is False
    assert peak < 16 * 2**20  # not the 4 GB the item claims
