"""Cheap checks of a compressed frame's codestream before a decoder sees it.

The image size it declares (JPEG, JPEG-LS, JPEG 2000): decoders allocate what the codestream
says, not what the DICOM header says: a 7 KB JPEG-LS frame claiming 60000 × 60000 pixels makes
libjpeg try to allocate gigabytes. Reading the SOF (JPEG, JPEG-LS) or SIZ (JPEG 2000) marker
first lets such a frame be refused before decoding.

Whether it looks complete (`looks_complete`: SOI, a frame header of the right size, EOI at the
end of its last fragment): CharLS decodes valid JPEG-LS ~3× faster than libjpeg but spends
seconds failing on a truncated stream, so only streams that pass go to CharLS.
"""

from __future__ import annotations

import os
import struct

HEAD_BYTES = 64 * 1024  # markers before SOF/SIZ (APPn, ICC profiles) fit in this in practice
_JPEG_SOF = {*range(0xC0, 0xD0)} - {0xC4, 0xC8, 0xCC} | {0xF7}  # + JPEG-LS SOF55
_J2K_START = b"\xff\x4f\xff\x51"  # SOC then SIZ
_SOI, _EOI = b"\xff\xd8", b"\xff\xd9"
_ITEM = b"\xfe\xff\x00\xe0"  # (FFFE,E000) little endian: an encapsulated fragment
MAX_FRAGMENTS = 100_000  # of one single-frame image: a bound on the walk, not a limit of DICOM


def declared_size(head: bytes) -> tuple[int, int] | None:
    """(columns, rows) from the first bytes of a codestream; None when it does not say."""
    if head[:2] == b"\xff\xd8":
        return _jpeg_size(head)
    start = head.find(_J2K_START)  # a bare codestream, or inside a JP2 wrapper
    if start >= 0 and len(head) >= start + 24:
        width, height, x_offset, y_offset = struct.unpack(">4I", head[start + 8 : start + 24])
        return width - x_offset, height - y_offset
    return None


def _jpeg_size(head: bytes) -> tuple[int, int] | None:
    position = 2
    while position + 4 <= len(head):
        if head[position] != 0xFF:
            return None
        marker = head[position + 1]
        if marker == 0xFF:  # fill byte
            position += 1
            continue
        if marker == 0xDA:  # start of scan before any frame header
            return None
        if marker in _JPEG_SOF and position + 9 <= len(head):
            rows, columns = struct.unpack(">2H", head[position + 5 : position + 9])
            return columns, rows
        position += 2 + int.from_bytes(head[position + 2 : position + 4], "big")
    return None


def size_mismatch(head: bytes, rows: int, columns: int) -> str:
    """'' when the codestream agrees with Rows/Columns (or does not say), else the reason."""
    size = declared_size(head)
    if size is None or size == (columns, rows) or 0 in size:  # 0: JPEG height set by DNL
        return ""
    return (
        f"the compressed frame declares {size[0]}×{size[1]} pixels, "
        f"the header {columns}×{rows}; not decoded"
    )


def looks_complete(head: bytes, items: bytes, rows: int, columns: int) -> bool:
    """A JPEG or JPEG-LS frame that starts with SOI, declares Rows × Columns in its frame header
    and ends with EOI (padding zeros after it allowed), given its first bytes and its items
    (`frame_items`)."""
    return (
        head[:2] == _SOI
        and declared_size(head) == (columns, rows)
        and items[-8:].rstrip(b"\x00").endswith(_EOI)
    )


def frame_items(fp, offset: int, single_frame: bool) -> bytes:
    """The encapsulated items (8-byte headers and values) of the frame whose first fragment's
    value starts at file offset `offset`: that fragment, or in a single-frame file every
    fragment from there on. b'' when an item header is not where it should be or the file ends
    early (a truncated frame)."""
    end = _fragment_end(fp, offset)
    for _ in range(MAX_FRAGMENTS if single_frame else 0):
        if end is None:
            break
        fp.seek(end)
        if fp.read(4) != _ITEM:
            break
        end = _fragment_end(fp, end + 8)
    if end is None or end > os.fstat(fp.fileno()).st_size:  # never read more than is there
        return b""
    fp.seek(offset - 8)
    items = fp.read(end - offset + 8)
    return items if len(items) == end - offset + 8 else b""


def _fragment_end(fp, offset: int) -> int | None:
    """The file offset just past the fragment whose value starts at `offset`."""
    if offset < 8:
        return None
    fp.seek(offset - 8)
    item = fp.read(8)
    if len(item) != 8 or item[:4] != _ITEM:
        return None
    return offset + int.from_bytes(item[4:], "little")
