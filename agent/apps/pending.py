"""An app's command requests that are still waiting for their outcome.

Apps decide on event time, inside ingest, and must never wait there for a
device: each request runs as its own task.  At most one request per (device,
attribute) is out at a time, so a slow device is not asked again before it
answered; the agent waits for all of them before it stops.
"""

from __future__ import annotations

import asyncio
from collections.abc import Coroutine
from typing import Any

Key = tuple[str, str]
"""(device, attribute)."""


class PendingRequests:
    def __init__(self) -> None:
        self._tasks: dict[Key, asyncio.Task[None]] = {}

    def __contains__(self, key: Key) -> bool:
        return key in self._tasks

    def __len__(self) -> int:
        return len(self._tasks)

    def start(self, key: Key, request: Coroutine[Any, Any, None], name: str) -> None:
        """Run ``request`` as a task; ``key`` counts as pending until it has finished."""
        self._tasks[key] = asyncio.get_running_loop().create_task(self._run(key, request), name=name)

    async def idle(self) -> None:
        """Wait until every request started so far has its outcome."""
        while self._tasks:
            await asyncio.gather(*self._tasks.values(), return_exceptions=True)

    async def _run(self, key: Key, request: Coroutine[Any, Any, None]) -> None:
        try:
            await request
        finally:
            self._tasks.pop(key, None)
