"""Turn the byte stream from a serial port into frames.

Serial reads split and join frames arbitrarily, the dongle may start talking
mid-frame, and line noise produces garbage, so the splitter carries partial
frames across reads, resynchronises at every 0x00 delimiter and counts what it
throws away instead of raising: one bad frame must never stop ingest.
"""

from __future__ import annotations

from collections import Counter

from agent.protocol.frames import MAX_BODY, Frame, FrameError, decode_wire


def max_encoded_size(max_body: int) -> int:
    """Longest COBS encoding of a body of at most ``max_body`` bytes."""
    return max_body + max_body // 254 + 1


class FrameStream:
    """Incremental frame decoder with counters of what it accepted and rejected."""

    def __init__(self, max_body: int = MAX_BODY) -> None:
        if max_body < 1:
            raise ValueError("max_body must be >= 1")
        self.max_body = max_body
        self._max_chunk = max_encoded_size(max_body)
        self._buffer = bytearray()
        self._discarding = False
        self.received = 0
        """Valid frames decoded."""
        self.rejected: Counter[str] = Counter()
        """Rejected chunks by :class:`FrameError` reason."""

    @property
    def rejected_total(self) -> int:
        return sum(self.rejected.values())

    @property
    def buffered(self) -> int:
        """Bytes held back waiting for their delimiter (never more than one frame)."""
        return len(self._buffer)

    def feed(self, data: bytes) -> list[Frame]:
        """Frames completed by ``data``; never raises, whatever the bytes."""
        frames: list[Frame] = []
        start = 0
        while True:
            end = data.find(b"\x00", start)
            if end < 0:
                self._append(data[start:])
                return frames
            self._append(data[start:end])
            frame = self._complete()
            if frame is not None:
                frames.append(frame)
            start = end + 1

    def _append(self, piece: bytes) -> None:
        if self._discarding or not piece:
            return
        if len(self._buffer) + len(piece) > self._max_chunk:
            # Too long to be a frame: count it once and skip to the next delimiter.
            self.rejected["oversize"] += 1
            self._buffer.clear()
            self._discarding = True
            return
        self._buffer += piece

    def _complete(self) -> Frame | None:
        if self._discarding:
            self._discarding = False
            return None
        if not self._buffer:
            return None
        chunk = bytes(self._buffer)
        self._buffer.clear()
        try:
            frame = decode_wire(chunk, max_body=self.max_body)
        except FrameError as exc:
            self.rejected[exc.reason] += 1
            return None
        self.received += 1
        return frame
