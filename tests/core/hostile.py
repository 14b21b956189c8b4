"""Builders of hostile DICOM files from real ones (memory bombs, patched headers, truncations)."""

from __future__ import annotations

import resource
import subprocess
import sys
import zlib
from pathlib import Path

import pydicom
from pydicom.dataset import Dataset
from pydicom.filebase import DicomBytesIO
from pydicom.filewriter import write_dataset, write_file_meta_info
from pydicom.uid import DeflatedExplicitVRLittleEndian

REPO = Path(__file__).resolve().parents[2]
MIB = 1024**2


def _raw_deflate(data: bytes) -> bytes:
    """`data` as non-final deflate blocks that start and end on a byte boundary with an empty
    history, so such pieces concatenate into one valid stream."""
    deflater = zlib.compressobj(9, zlib.DEFLATED, -zlib.MAX_WBITS)
    return deflater.compress(data) + deflater.flush(zlib.Z_FULL_FLUSH)


_END_OF_STREAM = zlib.compressobj(9, zlib.DEFLATED, -zlib.MAX_WBITS).flush()


def _zeros(mib: int) -> bytes:
    """`mib` MiB of zeros, deflated (about 1 KB per MiB): built from one repeated piece."""
    return _raw_deflate(bytes(MIB)) * mib


def _element_header(tag: int, vr: bytes, length: int) -> bytes:
    return (
        (tag >> 16).to_bytes(2, "little")
        + (tag & 0xFFFF).to_bytes(2, "little")
        + vr
        + b"\0\0"
        + length.to_bytes(4, "little")
    )


def write_deflated(path: Path, ds: Dataset, pixel_mib: int, trailing_mib: int = 0) -> Path:
    """A Deflated Explicit VR Little Endian file: `ds` (no pixel data), then Pixel Data of
    `pixel_mib` MiB of zeros, then `trailing_mib` MiB of Data Set Trailing Padding."""
    body = DicomBytesIO()
    body.is_little_endian, body.is_implicit_VR = True, False
    write_dataset(body, ds)
    stream = _raw_deflate(body.getvalue() + _element_header(0x7FE00010, b"OB", pixel_mib * MIB))
    stream += _zeros(pixel_mib)
    if trailing_mib:
        stream += _raw_deflate(_element_header(0xFFFCFFFC, b"OB", trailing_mib * MIB))
        stream += _zeros(trailing_mib)
    meta = pydicom.dataset.FileMetaDataset()
    meta.MediaStorageSOPClassUID = ds.SOPClassUID
    meta.MediaStorageSOPInstanceUID = ds.SOPInstanceUID
    meta.TransferSyntaxUID = DeflatedExplicitVRLittleEndian
    head = DicomBytesIO()
    head.write(b"\0" * 128 + b"DICM")
    write_file_meta_info(head, meta)
    path.write_bytes(head.getvalue() + stream + _END_OF_STREAM)
    return path


def write_deflated_multiframe(path: Path, count: int, rescale: bool = True):
    """(dataset, stored frames): `count` frames of pydicom's real CT_small (frame k = its pixels
    + 7k), saved to `path` as one deflated multi-frame file; without its rescale if not asked."""
    import numpy as np
    from pydicom.data import get_testdata_file

    ds = pydicom.dcmread(get_testdata_file("CT_small.dcm"))
    frames = np.stack([ds.pixel_array + 7 * k for k in range(count)])
    ds.PixelData, ds.NumberOfFrames = frames.tobytes(), len(frames)
    if not rescale:
        del ds.RescaleSlope, ds.RescaleIntercept
    ds.file_meta.TransferSyntaxUID = DeflatedExplicitVRLittleEndian
    ds.save_as(path, enforce_file_format=True)
    return ds, frames


def header_only(source: Path | str, **changes) -> Dataset:
    """`source`'s dataset without pixel data, with keyword=value changes applied."""
    ds = pydicom.dcmread(source)
    del ds.PixelData
    for keyword, value in changes.items():
        setattr(ds, keyword, value)
    return ds


def run_limited(args: list[str], limit_mib: int, env=None) -> subprocess.CompletedProcess:
    """`radlens ARGS` in a subprocess whose address space is capped at `limit_mib` MiB."""

    def cap() -> None:
        resource.setrlimit(resource.RLIMIT_AS, (limit_mib * MIB, limit_mib * MIB))

    command = [sys.executable, "-m", "viewer.cli", *args]
    return subprocess.run(
        command,
        capture_output=True,
        text=True,
        timeout=300,
        cwd=REPO,
        preexec_fn=cap,
        env=env,
    )
