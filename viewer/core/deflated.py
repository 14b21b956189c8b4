"""Bounded reading of Deflated Explicit VR Little Endian files (PS3.5 A.5).

pydicom inflates a deflated file's whole dataset before reading any of it, so a 1 MB file can
take gigabytes. Here the dataset is inflated only as far as it is read: the header (everything
before Pixel Data) up to `HEADER_LIMIT` bytes, and one frame's bytes at a time, discarding
what lies before it. Memory stays bounded by the header limit plus one frame.

A stream cannot be entered in the middle, so reading frame k means inflating frames 0..k-1
first. The loader reads a file in one forward pass (`frame_datasets`); a viewer scrolling one
frame at a time goes through a series' `DeflatedFiles`, which keeps each multi-frame file's
inflater where it stopped (`InflatedPixels`) and what it inflated in an unnamed scratch file
(freed when closed, even after a crash; at most the decoded size the scan's cap allows), so
frame k+1 after frame k inflates one frame and an earlier frame is read back, not inflated.
"""

from __future__ import annotations

import tempfile
import threading
import zlib
from collections import OrderedDict
from collections.abc import Iterator

from pydicom.dataelem import DataElement
from pydicom.dataset import Dataset, FileMetaDataset
from pydicom.filereader import read_dataset
from pydicom.uid import DeflatedExplicitVRLittleEndian, ExplicitVRLittleEndian

HEADER_LIMIT = 64 * 1024**2  # inflated bytes allowed before Pixel Data
INPUT_CHUNK = 64 * 1024
OUTPUT_CHUNK = 1024**2  # inflated bytes moved to the scratch file at a time
MAX_OPEN_FILES = 2  # multi-frame files a series keeps inflaters for (one file per series, usually)
PIXEL_TAGS = (0x7FE00010, 0x7FE00008, 0x7FE00009)


class InflateLimitError(Exception):
    """Reading would inflate past the stated limit."""


class InflatingReader:
    """A read/seek/tell file object over a raw deflate stream, inflated only as far as read.

    Inflated bytes are kept from `base` on (so pydicom can seek back within what it read);
    `discard_to` moves `base` forward without keeping the bytes in between.
    """

    def __init__(self, fp, start: int, limit: int) -> None:
        fp.seek(start)
        self._fp, self.limit = fp, limit
        self._inflater = zlib.decompressobj(-zlib.MAX_WBITS)
        self._buffer = bytearray()
        self._base = self._pos = 0
        self._ended = False
        self.inflated = 0  # bytes inflated so far, in all (what a test of the cause counts)

    def tell(self) -> int:
        return self._pos

    def seek(self, offset: int, whence: int = 0) -> int:
        target = offset + (self._pos if whence == 1 else 0)
        if whence not in (0, 1) or target < self._base:
            raise OSError("seek outside the inflated window of a deflated stream")
        self._pos = target
        return target

    def read(self, size: int = -1) -> bytes:
        if size is None or size < 0:
            raise OSError("unbounded read of a deflated stream")
        self._fill(self._pos + size)
        start = self._pos - self._base
        data = bytes(self._buffer[start : start + size])
        self._pos += len(data)
        return data

    def discard_to(self, offset: int) -> None:
        """Inflate up to `offset`, keeping nothing before it."""
        while True:
            cut = min(len(self._buffer), max(0, offset - self._base))
            del self._buffer[:cut]
            self._base += cut
            if self._base >= offset or self._ended:
                break
            self._inflate(min(offset - self._base, 16 * INPUT_CHUNK))
        self._pos = max(self._pos, self._base)

    def _fill(self, end: int) -> None:
        while self._base + len(self._buffer) < end and not self._ended:
            if end - self._base > self.limit:
                raise InflateLimitError(f"over {self.limit / 1024**2:g} MB once inflated")
            self._inflate(end - self._base - len(self._buffer))

    def _inflate(self, wanted: int) -> None:
        data = self._inflater.unconsumed_tail or self._fp.read(INPUT_CHUNK)
        if not data:
            self._ended = True
            return
        out = self._inflater.decompress(data, max(wanted, 1))
        self.inflated += len(out)
        self._buffer += out
        if self._inflater.eof:
            self._ended = True


def _at_pixels(tag, vr, length) -> bool:
    return tag in PIXEL_TAGS


def read_deflated_header(fp, meta: FileMetaDataset) -> tuple[Dataset, InflatingReader]:
    """The dataset before Pixel Data; the reader is left on the Pixel Data element (if any).

    `fp` must be positioned just after the file meta group. InflateLimitError when the header
    inflates past HEADER_LIMIT; zlib.error when the stream is corrupt.
    """
    reader = InflatingReader(fp, fp.tell(), HEADER_LIMIT)
    ds = read_dataset(reader, False, True, stop_when=_at_pixels)  # type: ignore[arg-type]
    ds.file_meta = meta
    ds.set_original_encoding(False, True, ds._character_set)
    return ds, reader


def frame_datasets(path: str, frame_indices, frame_bytes: int) -> Iterator[tuple[int, Dataset]]:
    """(index, dataset) for `frame_indices` of a deflated file in one forward pass.

    Each dataset is the header plus only that frame's native pixel bytes, as an uncompressed
    Explicit VR Little Endian dataset that pydicom's decoders read as one frame. Inflating is
    linear in the last frame's offset, and memory bounded by the header plus one frame.
    """
    with open(path, "rb") as fp:
        ds, meta, reader, pixels = _at_pixel_data(fp, frame_bytes)
        start = reader.tell()
        for index in sorted(frame_indices):
            reader.discard_to(start + index * frame_bytes)
            data = reader.read(frame_bytes)
            if len(data) < frame_bytes:
                raise ValueError(_incomplete(index))
            yield index, _one_frame(ds, meta, DataElement(pixels[0], pixels[1], data))


def _at_pixel_data(fp, frame_bytes: int):
    """Header, meta, the reader on the first pixel byte, and (tag, VR) of the pixel element."""
    meta = read_file_meta(fp)
    ds, reader = read_deflated_header(fp, meta)
    head = reader.read(12)
    tag = int.from_bytes(head[0:2], "little") << 16 | int.from_bytes(head[2:4], "little")
    if len(head) < 12 or tag not in PIXEL_TAGS:
        raise ValueError("no pixel data in the deflated dataset")
    reader.limit = max(reader.limit, frame_bytes)
    return ds, meta, reader, (tag, head[4:6].decode("ascii", "replace"))


def _incomplete(index: int) -> str:
    return f"file truncated: frame {index + 1} incomplete after inflating"


class InflatedPixels:
    """One deflated multi-frame file, inflated once and only as far as frames are asked for."""

    def __init__(self, path: str, frame_bytes: int, scratch_dir: str) -> None:
        self._fp = open(path, "rb")  # noqa: SIM115 - held while the series is open; `close`
        try:
            self._header, self._meta, self._reader, self._pixels = _at_pixel_data(
                self._fp, frame_bytes
            )
            self._store = tempfile.TemporaryFile(dir=scratch_dir)  # noqa: SIM115 - `close`
        except BaseException:
            self._fp.close()
            raise
        self._frame_bytes = frame_bytes
        self._kept = 0  # pixel bytes in the scratch file: frames 0.. inflated so far
        self._lock = threading.Lock()

    @property
    def inflated(self) -> int:
        """Bytes inflated from this file so far (header included), each byte once."""
        return self._reader.inflated

    def frame(self, index: int) -> Dataset:
        """Frame `index` as a one-frame uncompressed dataset (see `frame_datasets`)."""
        end = (index + 1) * self._frame_bytes
        with self._lock:
            while self._kept < end:
                data = self._reader.read(min(OUTPUT_CHUNK, end - self._kept))
                if not data:
                    raise ValueError(_incomplete(index))
                self._reader.discard_to(self._reader.tell())
                self._store.seek(self._kept)
                self._store.write(data)
                self._kept += len(data)
            self._store.seek(index * self._frame_bytes)
            data = self._store.read(self._frame_bytes)
        element = DataElement(self._pixels[0], self._pixels[1], data)
        return _one_frame(self._header, self._meta, element)

    def close(self) -> None:
        self._fp.close()
        self._store.close()


class DeflatedFiles:
    """A series' open `InflatedPixels`, by path; the least recently used beyond
    `MAX_OPEN_FILES` are closed (their scratch files go with them)."""

    def __init__(self, scratch_dir) -> None:
        self._scratch_dir = scratch_dir  # a callable giving the folder, asked on first use
        self._open: OrderedDict[str, InflatedPixels] = OrderedDict()
        self._lock = threading.Lock()

    def frame(self, path: str, index: int, frame_bytes: int) -> Dataset:
        """Frame `index` of the file at `path` (one at a time: a stream is read in order)."""
        with self._lock:
            return self._pixels(path, frame_bytes).frame(index)

    def inflated(self, path: str) -> int:
        """Bytes inflated from `path` so far while it was open here (0: not open)."""
        with self._lock:
            found = self._open.get(path)
            return 0 if found is None else found.inflated

    def _pixels(self, path: str, frame_bytes: int) -> InflatedPixels:
        found = self._open.get(path)
        if found is None:
            found = self._open[path] = InflatedPixels(path, frame_bytes, str(self._scratch_dir()))
        self._open.move_to_end(path)
        while len(self._open) > MAX_OPEN_FILES:
            self._open.popitem(last=False)[1].close()
        return found

    def close(self) -> None:
        with self._lock:
            while self._open:
                self._open.popitem()[1].close()


def _one_frame(header: Dataset, meta: FileMetaDataset, pixels: DataElement) -> Dataset:
    ds = header.copy()
    ds[pixels.tag] = pixels
    ds.NumberOfFrames = 1
    ds.file_meta = FileMetaDataset(meta)
    ds.file_meta.TransferSyntaxUID = ExplicitVRLittleEndian
    return ds


def read_file_meta(fp) -> FileMetaDataset | None:
    """The file meta group of a Part 10 file, `fp` left just after it; None without 'DICM'."""
    fp.seek(128)
    if fp.read(4) != b"DICM":
        return None
    meta = read_dataset(fp, False, True, stop_when=lambda tag, vr, length: tag >> 16 != 2)
    return FileMetaDataset(meta)


def is_deflated(meta: FileMetaDataset | None) -> bool:
    return meta is not None and meta.get("TransferSyntaxUID") == DeflatedExplicitVRLittleEndian
