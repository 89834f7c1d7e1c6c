"""Occupancy-based control against the fixed schedule, over several seeds.

Run from a source checkout::

    python3 -m benchmarks.control                        # seeds 1 2 3, a week, 8 rooms
    python3 -m benchmarks.control --seeds 1 2 3 4 5 --days 7 --json

Each seed is one full ``edgewise demo`` run (real broker, pty, store, agent,
guardrails, confirmed commands) beside the same seed on the building's fixed
programme with nobody sensing occupancy.  The goal of issue 5: at least 18 %
less HVAC energy, with no more comfort violation (degree-hours outside
20–24 °C while occupied) than the baseline, for every seed.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import logging
import sys
import time
from collections.abc import Sequence

from agent.demo import DemoOptions, DemoSite

GOAL_SAVINGS_PCT = 18.0
KEYS = (
    "seed", "hvac_kwh", "baseline_hvac_kwh", "hvac_savings_pct", "lighting_kwh", "baseline_lighting_kwh",
    "lighting_savings_pct", "comfort_violation_degree_hours", "baseline_comfort_violation_degree_hours",
    "occupied_room_hours", "occupancy_accuracy", "commands_sent", "commands_blocked", "wall_seconds",
)


async def run_seed(seed: int, days: float, rooms: int) -> dict[str, object]:
    started = time.monotonic()
    async with DemoSite(DemoOptions(days=days, rooms=rooms, seed=seed)) as site:
        await site.simulate(days)
        if not await site.settle():
            raise RuntimeError(f"seed {seed}: the agent did not store or forward every reading")
        summary = site.summary(wall_seconds=time.monotonic() - started)
    return {k: summary[k] for k in KEYS}


def goal_met(rows: Sequence[dict[str, object]]) -> bool:
    return all(
        float(r["hvac_savings_pct"]) >= GOAL_SAVINGS_PCT  # type: ignore[arg-type]
        and float(r["comfort_violation_degree_hours"]) <= float(r["baseline_comfort_violation_degree_hours"])  # type: ignore[arg-type]
        for r in rows
    )


def format_table(rows: Sequence[dict[str, object]], days: float, rooms: int) -> str:
    lines = [
        f"edgewise occupancy control vs fixed schedule: {rooms} rooms, {days:g} simulated day(s) per seed",
        "",
        f"  {'seed':>4}  {'HVAC kWh':>9} {'baseline':>9} {'saved':>7}  {'light kWh':>9} {'baseline':>9} {'saved':>7}"
        f"  {'comfort Kh':>10} {'baseline':>9}  {'occ. acc':>8} {'commands':>8} {'wall s':>7}",
    ]
    for r in rows:
        lines.append(
            f"  {r['seed']:>4}  {r['hvac_kwh']:>9.1f} {r['baseline_hvac_kwh']:>9.1f} {r['hvac_savings_pct']:>6.1f}%"
            f"  {r['lighting_kwh']:>9.1f} {r['baseline_lighting_kwh']:>9.1f} {r['lighting_savings_pct']:>6.1f}%"
            f"  {r['comfort_violation_degree_hours']:>10.2f} {r['baseline_comfort_violation_degree_hours']:>9.2f}"
            f"  {float(r['occupancy_accuracy'] or 0) * 100:>7.1f}% {r['commands_sent']:>8} {r['wall_seconds']:>7.1f}"
        )
    worst = min(float(r["hvac_savings_pct"]) for r in rows)  # type: ignore[arg-type]
    verdict = "met" if goal_met(rows) else "NOT met"
    lines += ["", f"  lowest HVAC saving {worst:.1f}%, comfort no worse than baseline on every seed:"
                  f" goal ≥ {GOAL_SAVINGS_PCT:.0f}% {verdict}"]
    return "\n".join(lines)


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    p = argparse.ArgumentParser(prog="python3 -m benchmarks.control", description=(__doc__ or "").splitlines()[0])
    p.add_argument("--seeds", type=int, nargs="+", default=[1, 2, 3], help="building seeds (default 1 2 3)")
    p.add_argument("--days", type=float, default=7.0, help="simulated days per seed (default 7)")
    p.add_argument("--rooms", type=int, default=8, help="rooms in the building (default 8)")
    p.add_argument("--json", action="store_true", help="print one JSON object instead of the table")
    args = p.parse_args(argv)
    if args.days <= 0 or args.rooms < 1:
        p.error("--days must be > 0 and --rooms >= 1")
    return args


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s")
    rows = [asyncio.run(run_seed(seed, args.days, args.rooms)) for seed in args.seeds]
    if args.json:
        print(json.dumps({"days": args.days, "rooms": args.rooms, "goal_savings_pct": GOAL_SAVINGS_PCT,
                          "goal_met": goal_met(rows), "runs": rows}))
    else:
        print(format_table(rows, args.days, args.rooms))
    return 0


if __name__ == "__main__":
    sys.exit(main())
