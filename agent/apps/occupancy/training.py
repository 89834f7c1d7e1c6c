"""Train an occupancy model on labelled rooms: each room replayed through the online features.

Rooms are replayed one by one, so no feature window spans two rooms; the rows of
all rooms are then fitted together, the penalty chosen by leave-one-day-out
cross-validation (a day of every room is held out at once, so the score says how
the model does on a day it has not seen).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import tzinfo

import numpy as np

from agent.apps.occupancy.features import FeatureSpec, replay
from agent.apps.occupancy.model import OccupancyModel, fit_selected

DAY_S = 86400.0


@dataclass(frozen=True, slots=True)
class LabelledSeries:
    """One room's report times, channel values and true occupancy (0/1), in time order."""

    ts: Sequence[float]
    values: Mapping[str, Sequence[float]]
    occupied: Sequence[int]

    def rows(self) -> Iterable[tuple[float, dict[str, float]]]:
        for i, t in enumerate(self.ts):
            yield float(t), {channel: float(v[i]) for channel, v in self.values.items()}


def train_rooms(
    rooms: Iterable[LabelledSeries],
    spec: FeatureSpec,
    tz: tzinfo | None = None,
    l2_grid: Sequence[float] = (0.1, 1.0, 10.0),
) -> OccupancyModel:
    """A model for ``spec`` from every room's labelled series."""
    xs, ys, days = [], [], []
    for room in rooms:
        x, ready = replay(room.rows(), spec, tz)
        xs.append(x[ready])
        ys.append(np.asarray(room.occupied, dtype=np.float64)[ready])
        days.append(np.floor(np.asarray(room.ts, dtype=np.float64) / DAY_S)[ready])
    if not xs or sum(len(y) for y in ys) == 0:
        raise ValueError("no labelled rows with every channel the spec needs")
    y = np.concatenate(ys)
    if y.min() == y.max():
        raise ValueError("the labels are all the same; a model needs occupied and empty rows")
    model = fit_selected(np.vstack(xs), y, np.concatenate(days), spec, l2_grid)
    model.info.update({"rows": int(len(y)), "rooms": len(xs),
                       "cross_validation": "leave-one-day-out over all rooms"})
    return model
