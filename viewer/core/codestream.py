"""The image size a compressed frame declares in its own header (JPEG, JPEG-LS, JPEG 2000).

Decoders allocate what the codestream says, not what the DICOM header says: a 7 KB JPEG-LS
frame claiming 60000 × 60000 pixels makes libjpeg try to allocate gigabytes. Reading the SOF
(JPEG, JPEG-LS) or SIZ (JPEG 2000) marker first lets such a frame be refused before decoding.
"""

from __future__ import annotations

import struct

HEAD_BYTES = 64 * 1024  # markers before SOF/SIZ (APPn, ICC profiles) fit in this in practice
_JPEG_SOF = {*range(0xC0, 0xD0)} - {0xC4, 0xC8, 0xCC} | {0xF7}  # + JPEG-LS SOF55
_J2K_START = b"\xff\x4f\xff\x51"  # SOC then SIZ


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
