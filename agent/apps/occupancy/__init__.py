"""Room occupancy inference: features from recent readings, a small trainable model, an online estimator.

See docs/occupancy.md.  In short::

    from agent.apps.occupancy import OccupancyEstimator
    room = OccupancyEstimator.default("no_light")      # the shipped UCI-office model without light
    room.push("co2", ts, 612.0)                          # every reading of the room, in event time
    room.probability()                                   # 0..1, or None while the data is missing or stale

Numpy and the C++ core only at run time: it has to run on a Raspberry Pi.
"""

from agent.apps.occupancy.features import (
    CHANNELS,
    FeatureSpec,
    RoomFeatures,
    feature_names,
    replay,
)
from agent.apps.occupancy.model import OccupancyModel
from agent.apps.occupancy.online import OccupancyEstimator, default_model

__all__ = [
    "CHANNELS",
    "FeatureSpec",
    "OccupancyEstimator",
    "OccupancyModel",
    "RoomFeatures",
    "default_model",
    "feature_names",
    "replay",
]
