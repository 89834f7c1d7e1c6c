"""Occupancy of one room, estimated online from its readings as they arrive.

The agent feeds every reading of a room's sensors to that room's
:class:`OccupancyEstimator` and asks it for the current probability.  It uses
the same :class:`~.features.RoomFeatures` that built the training rows, so what
the model sees online is what it was trained on.  It answers None ("unknown")
instead of guessing when a channel the model needs has been silent for longer
than the spec's ``hold_s``, or before the first complete slot: a controller
must then fall back to its safe schedule, not to a made-up number.

Which model to run is a site decision: ``default("no_light")`` is the one to
use once the agent switches lights itself, because illuminance then mostly
reflects the agent's own actions (docs/occupancy.md).
"""

from __future__ import annotations

from datetime import tzinfo
from importlib import resources
from pathlib import Path

from agent.apps.occupancy.features import RoomFeatures
from agent.apps.occupancy.model import OccupancyModel

DEFAULT_MODELS = {
    "all": "uci_office.json",
    "no_light": "uci_office_no_light.json",
    "no_light_no_time": "uci_office_no_light_no_time.json",
}
"""The shipped models, trained on the UCI office (agent/apps/occupancy/models/README.md)."""


def default_model(variant: str = "no_light") -> OccupancyModel:
    """One of the shipped models: ``"all"`` (with light), ``"no_light"`` or ``"no_light_no_time"``."""
    if variant not in DEFAULT_MODELS:
        raise ValueError(f"unknown variant {variant!r}; known: {', '.join(DEFAULT_MODELS)}")
    ref = resources.files("agent.apps.occupancy") / "models" / DEFAULT_MODELS[variant]
    with resources.as_file(ref) as path:
        return OccupancyModel.load(path)


class OccupancyEstimator:
    """Current occupied probability of one room, from readings fed one at a time."""

    def __init__(self, model: OccupancyModel, *, tz: tzinfo | None = None) -> None:
        """``tz``: the time zone of the room's schedule (None: the gateway's local time)."""
        self.model = model
        self.features = RoomFeatures(model.spec, tz)
        self._cached: tuple[float | None, float | None] | None = None

    @classmethod
    def from_file(cls, path: str | Path, *, tz: tzinfo | None = None) -> OccupancyEstimator:
        return cls(OccupancyModel.load(path), tz=tz)

    @classmethod
    def default(cls, variant: str = "no_light", *, tz: tzinfo | None = None) -> OccupancyEstimator:
        return cls(default_model(variant), tz=tz)

    @property
    def channels(self) -> tuple[str, ...]:
        """The channels the model needs; readings of others are ignored."""
        return self.model.spec.channels

    def push(self, channel: str, ts: float, value: float) -> bool:
        """Feed one reading (event time ``ts`` in seconds).  Never raises; False when it was dropped."""
        return self.features.push(channel, ts, value)

    def update(self, channel: str, ts: float, value: float) -> float | None:
        """Feed one reading and return the current probability (None when unknown)."""
        self.push(channel, ts, value)
        return self.probability()

    def probability(self, now: float | None = None) -> float | None:
        """Occupied probability for the latest complete slot, or None when the room's data is
        missing or stale.  ``now`` (event time) first closes the slots that have ended, so a sensor
        that went silent turns the answer into None after ``hold_s``."""
        if now is not None:
            self.features.advance(now)
        slot = self.features.slot_time
        if self._cached is not None and self._cached[0] == slot:
            return self._cached[1]
        v = self.features.vector()
        p = None if v is None else self.model.proba_one(v)
        self._cached = (slot, p)
        return p

    def occupied(self, now: float | None = None) -> bool | None:
        """``probability >= threshold``, or None when unknown."""
        p = self.probability(now)
        return None if p is None else p >= self.model.threshold

    def stale_channels(self) -> list[str]:
        """The channels that currently make the answer unknown."""
        return self.features.stale_channels()
