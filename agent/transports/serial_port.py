"""The serial link to the radio dongle.

On a gateway this opens ``/dev/ttyUSB0`` or ``/dev/ttyACM0``; in tests and the
demo it opens the slave side of a pseudo-terminal whose master the simulated
dongle drives.  The code path is the same: pyserial-asyncio-fast streams.
"""

from __future__ import annotations

import asyncio
from types import TracebackType

import serial
import serial_asyncio_fast

SerialError = (OSError, serial.SerialException)
"""What opening or reading a serial port raises when the device is missing or unplugged."""


class SerialPort:
    """An open serial port as an async context manager with ``read``/``write``."""

    def __init__(self, url: str, baudrate: int) -> None:
        self.url = url
        self.baudrate = baudrate
        self._reader: asyncio.StreamReader | None = None
        self._writer: asyncio.StreamWriter | None = None

    async def __aenter__(self) -> SerialPort:
        self._reader, self._writer = await serial_asyncio_fast.open_serial_connection(
            url=self.url, baudrate=self.baudrate
        )
        return self

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        if self._writer is not None:
            self._writer.close()
            try:
                await self._writer.wait_closed()
            except SerialError:
                pass
        self._reader = self._writer = None

    async def read(self, max_bytes: int = 4096) -> bytes:
        """Bytes as they arrive; ``b""`` when the device went away."""
        assert self._reader is not None, "port is not open"
        return await self._reader.read(max_bytes)

    def write(self, data: bytes) -> bool:
        """Queue bytes for the device; False if the port is closing (never raises)."""
        writer = self._writer
        if writer is None or writer.is_closing():
            return False
        writer.write(data)
        return True
