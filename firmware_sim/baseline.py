"""The same building on its fixed time programme, with nobody sensing occupancy.

This is what occupancy-based control is measured against: the same seed gives
the same weather, people and rooms, and every device follows the programme —
heating 21 °C and full ventilation on weekdays 07–19, setback otherwise, lights
switched by the people in the room (and sometimes forgotten).
"""

from __future__ import annotations

from firmware_sim.building import Building, BuildingTotals


def fixed_schedule_totals(rooms: int, seed: int, start: float, days: float, step_s: float = 60.0) -> BuildingTotals:
    """Energy and comfort of ``days`` on the programme alone, stepped like the demo."""
    if step_s <= 0:
        raise ValueError(f"step_s must be positive, got {step_s}")
    building = Building(rooms, seed, start)
    building.step(start)
    steps = round(days * 86400.0 / step_s)
    for k in range(1, steps + 1):
        building.step(start + k * step_s)
    return building.totals()
