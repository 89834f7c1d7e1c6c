"""Waiting, in tests, for something a correct agent does: never a timed assertion."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable


async def eventually(predicate: Callable[[], bool], timeout: float = 30.0, poll_s: float = 0.02) -> bool:
    """True as soon as ``predicate()`` holds; False only if it never does within ``timeout`` (wall) seconds."""
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            return False
        await asyncio.sleep(poll_s)
    return True
