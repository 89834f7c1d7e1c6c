"""The unit of data that flows from ingest to state, store and upstream."""

from __future__ import annotations

from typing import NamedTuple


class Reading(NamedTuple):
    """One value of one point at one event time.

    A *point* is ``<device>/<channel>``, e.g. ``node-0003/temperature`` or
    ``room01_thermostat/local_temperature``; the same name is used in the store,
    the upstream topics and the state layer.

    A named tuple rather than a frozen dataclass: every reading of a busy site
    is built once per message on the event loop, and a tuple builds in a third
    of the time.  It is as immutable and hashable; equality is by value.
    """

    device: str
    channel: str
    ts: float
    """Event time, Unix seconds UTC."""
    value: float
    unit: str
    source: str
    """``"serial"`` or ``"zigbee"``."""
    seq: int | None = None
    """Per-node frame sequence number for serial readings; ``None`` for MQTT."""

    @property
    def point(self) -> str:
        return f"{self.device}/{self.channel}"
