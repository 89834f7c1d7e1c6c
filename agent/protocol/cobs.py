"""Consistent Overhead Byte Stuffing (Cheshire & Baker, 1999).

COBS rewrites a frame so it contains no 0x00 byte, which leaves 0x00 free to
mark frame boundaries on the serial line.  A receiver that joins mid-stream or
loses bytes therefore resynchronises at the next 0x00, and the overhead is at
most one byte per 254.
"""

from __future__ import annotations

_MAX_RUN = 254  # non-zero bytes one code byte can announce


class CobsError(ValueError):
    """Bytes that no COBS encoder could have produced."""


def encode(data: bytes) -> bytes:
    """Encode ``data``; the result holds no zero byte (the delimiter is not added)."""
    out = bytearray()
    segments = bytes(data).split(b"\x00")
    last = len(segments) - 1
    for index, segment in enumerate(segments):
        start = 0
        while len(segment) - start >= _MAX_RUN:
            out.append(0xFF)
            out += segment[start:start + _MAX_RUN]
            start += _MAX_RUN
        rest = segment[start:]
        # A full 254-byte run carries no implied zero; the last segment needs no
        # closing group unless it is empty or has a short tail.
        if index == last and not rest and start:
            break
        out.append(len(rest) + 1)
        out += rest
    return bytes(out)


def decode(data: bytes) -> bytes:
    """Invert :func:`encode`; raises :class:`CobsError` on malformed input."""
    if not data:
        raise CobsError("empty input")
    out = bytearray()
    pos = 0
    end = len(data)
    while pos < end:
        code = data[pos]
        if code == 0:
            raise CobsError(f"zero byte at offset {pos}")
        block_end = pos + code
        if block_end > end:
            raise CobsError(f"block at offset {pos} runs past the end")
        block = data[pos + 1:block_end]
        if 0 in block:
            raise CobsError(f"zero byte inside block at offset {pos}")
        out += block
        pos = block_end
        if code != 0xFF and pos < end:
            out.append(0)
    return bytes(out)
