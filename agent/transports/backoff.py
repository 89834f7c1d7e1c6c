"""Capped exponential backoff for reconnecting to brokers and serial ports.

Reconnection waits are wall time on purpose: they are about a network or a USB
device coming back, not about the building's event time.
"""

from __future__ import annotations

import random


class Backoff:
    """Delays of ``initial · 2^n`` capped at ``maximum``, with ±20 % jitter.

    Jitter keeps a fleet of gateways from reconnecting in lock-step after a broker
    restart; :meth:`reset` is called once a connection has been established.
    """

    def __init__(self, initial: float, maximum: float, *, rng: random.Random | None = None) -> None:
        if initial <= 0 or maximum < initial:
            raise ValueError("backoff needs 0 < initial <= maximum")
        self.initial = initial
        self.maximum = maximum
        self._rng = rng or random.Random()
        self._attempt = 0

    def next_delay(self) -> float:
        """The wait before the next attempt; each call doubles the base up to the cap."""
        base = min(self.maximum, self.initial * (2 ** min(self._attempt, 30)))
        self._attempt += 1
        return min(self.maximum, base * self._rng.uniform(0.8, 1.2))

    def reset(self) -> None:
        self._attempt = 0

    @property
    def attempts(self) -> int:
        return self._attempt
