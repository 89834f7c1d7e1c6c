"""``edgewise`` command line: argument parsing only; each command calls into a package."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from pathlib import Path


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="edgewise",
        description="Gateway agent that makes buildings waste less energy.",
    )
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    run = sub.add_parser("run", help="run the agent as a service (systemd Type=notify)")
    run.add_argument("-c", "--config", required=True, metavar="FILE", help="YAML configuration file")
    run.set_defaults(func=_cmd_run)

    check = sub.add_parser("check", help="validate a configuration file (exit 0 valid, 2 invalid)")
    check.add_argument("file", metavar="FILE")
    check.set_defaults(func=_cmd_check)

    demo = sub.add_parser(
        "demo", help="simulate a building and run the agent against it through a private broker and a pty"
    )
    demo.add_argument("--days", type=float, default=1.0, help="simulated days (default 1)")
    demo.add_argument("--rooms", type=int, default=4, help="rooms in the simulated building (default 4)")
    demo.add_argument("--seed", type=int, default=1, help="seed; the same seed reproduces the run")
    demo.add_argument("--broker", metavar="HOST:PORT", help="use this broker instead of a private mosquitto")
    demo.add_argument("--db", metavar="FILE", help="keep the database here (default: a temporary file)")
    demo.add_argument("--no-control", dest="control", action="store_false",
                      help="run without the occupancy control app (ingest and forwarding only)")
    demo.add_argument("--harvesting-nodes", type=int, default=3, metavar="N",
                      help="battery-free PIR nodes scheduled by the gateway (corridor, then rooms; default 3, 0: none)")
    demo.add_argument("--json", action="store_true", help="print one JSON object on stdout")
    demo.set_defaults(func=_cmd_demo)

    token = sub.add_parser(
        "token", help="create (printed once), list or revoke access tokens of the thermostat page"
    )
    token.add_argument("--config", "-c", default="/etc/edgewise/edgewise.yaml", metavar="FILE",
                       help="YAML configuration file (default /etc/edgewise/edgewise.yaml)")
    action = token.add_mutually_exclusive_group(required=True)
    action.add_argument("--zone", metavar="ZONE", help="create a token for this zone and print its link")
    action.add_argument("--list", action="store_true", help="list tokens (hash prefix, zone, created, status)")
    action.add_argument("--revoke", metavar="PREFIX", help="revoke the token whose hash starts with PREFIX")
    token.add_argument("--label", default="", help="a note kept with the token, e.g. who has it")
    token.add_argument("--for-config", action="store_true",
                       help="store nothing; print the hash to put under web.tokens in the configuration")
    token.set_defaults(func=_cmd_token)

    sched = sub.add_parser(
        "schedule-sim", help="simulate energy-harvesting node schedulers (detected events, brown-outs)"
    )
    source = sched.add_mutually_exclusive_group()
    source.add_argument("--scenario", choices=("window_office", "interior_office", "dim_corridor"),
                        help="built-in seeded scenario (default window_office)")
    source.add_argument("--light-csv", type=Path, metavar="FILE", help="your light trace: columns time_s,lux")
    sched.add_argument("--events-csv", type=Path, metavar="FILE", help="your PIR events: column time_s")
    sched.add_argument("--policy", default="all", choices=("fixed", "greedy", "learned", "oracle", "all"),
                       help="policy to simulate (default all)")
    sched.add_argument("--days", type=int, help="simulated days (default 365; CSV traces: the whole file)")
    sched.add_argument("--seed", type=int, default=1, help="scenario seed; the same seed reproduces the run")
    sched.add_argument("--json", action="store_true", help="print a JSON list, one object per policy")
    sched.add_argument("--config", "-c", type=Path, metavar="FILE", help="take node parameters from this configuration")
    sched.add_argument("--node-type", metavar="NAME", help="node type under energy_harvesting.node_types")
    sched.add_argument("--policy-file", type=Path, metavar="FILE", help="learned policy table (default: shipped)")
    sched.set_defaults(func=_cmd_schedule_sim)

    faults = sub.add_parser("faults", help="list detected faults, most wasted energy first")
    faults.add_argument("--db", metavar="FILE", help="the agent's database (default: gateway.database of --config)")
    faults.add_argument("--config", "-c", default="/etc/edgewise/edgewise.yaml", metavar="FILE",
                        help="configuration file to find the database in (default /etc/edgewise/edgewise.yaml)")
    faults.add_argument("--json", action="store_true", help="print a JSON list instead of the table")
    faults.add_argument("--repaired", nargs=2, metavar=("ROOM", "KIND"),
                        help="mark a fault repaired: it is listed as such, and alerted again if it comes back")
    faults.add_argument("--by", metavar="NAME", help="who repaired it (default: the login name)")
    faults.set_defaults(func=_cmd_faults)

    savings = sub.add_parser("savings",
                             help="estimate what a measure saved from a panel (DID, SC, MC, SDID, TROP) with SEs")
    savings.add_argument("panel", type=Path, metavar="PANEL.csv", help="long format: one row per unit and period")
    savings.add_argument("--unit", required=True, metavar="COL", help="column naming the unit (building, zone, meter)")
    savings.add_argument("--time", required=True, metavar="COL", help="column naming the period")
    savings.add_argument("--outcome", required=True, metavar="COL", help="column with the outcome, e.g. kWh")
    savings.add_argument("--treated", required=True, metavar="COL", help="column, 1 where the measure is in place")
    savings.add_argument("--method", default="all",
                         choices=["did", "sc", "sc-intercept", "mc", "sdid", "trop", "all"],
                         help="estimator (default all)")
    savings.add_argument("--se", default="placebo", choices=["placebo", "bootstrap", "jackknife"],
                         help="standard error (default placebo, the only one valid with one treated unit)")
    savings.add_argument("--reps", type=int, default=200, help="placebo/bootstrap replications (default 200)")
    savings.add_argument("--seed", type=int, default=0, help="seed of the replications (default 0)")
    savings.add_argument("--json", action="store_true", help="print a JSON list, one object per method")
    savings.add_argument("--plot", type=Path, metavar="FILE.png",
                         help="draw the treated average and each counterfactual (needs matplotlib: edgewise[plot])")
    savings.set_defaults(func=_cmd_savings)

    fleet = sub.add_parser("fleet-panel",
                           help="write a simulated fleet's daily energy with staggered adoption and a known effect")
    fleet.add_argument("out", type=Path, metavar="OUT.csv", help="long format: building,date,kwh,treated")
    fleet.add_argument("--units", type=int, default=40, help="buildings (default 40)")
    fleet.add_argument("--periods", type=int, default=365, help="days from 2025-01-01 (default 365)")
    fleet.add_argument("--effect", type=float, default=10.0, metavar="PCT",
                       help="percent of heating energy the measure saves (default 10)")
    fleet.add_argument("--treated-share", type=float, default=0.4, help="share of buildings adopting (default 0.4)")
    fleet.add_argument("--cohorts", type=int, default=3, help="adoption waves (default 3)")
    fleet.add_argument("--seed", type=int, default=0, help="seed; the same seed writes the same file")
    fleet.set_defaults(func=_cmd_fleet_panel)

    export = sub.add_parser("export-panel",
                            help="write daily energy per zone from the store as a CSV `edgewise savings` reads")
    export.add_argument("out", type=Path, metavar="OUT.csv", help="long format: zone,date,kwh,treated")
    export.add_argument("--db", metavar="FILE", help="the agent's database (default: gateway.database of --config)")
    export.add_argument("--config", "-c", default="/etc/edgewise/edgewise.yaml", metavar="FILE",
                        help="configuration file to find the database and time zone in "
                             "(default /etc/edgewise/edgewise.yaml)")
    export.add_argument("--treated-from", action="append", default=[], metavar="ZONE=DATE",
                        help="the measure is in place in ZONE from DATE (YYYY-MM-DD); repeatable. "
                             "Default: from each zone's first command by --app, per the audit trail")
    export.add_argument("--app", default="occupancy",
                        help="the app whose first command in a zone marks it treated (default occupancy)")
    export.add_argument("--timezone", metavar="NAME",
                        help="days are local days here (default: guardrails.timezone of --config, else UTC)")
    export.add_argument("--max-gap", type=float, default=3600.0, metavar="SECONDS",
                        help="readings further apart are reported as a gap (default 3600)")
    export.set_defaults(func=_cmd_export_panel)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    return int(args.func(args))


def _cmd_savings(args: argparse.Namespace) -> int:
    from agent.analytics.causal.cli import SavingsOptions, savings_main

    return savings_main(SavingsOptions(args.panel, args.unit, args.time, args.outcome, args.treated, args.method,
                                       args.se, args.reps, args.seed, args.json, args.plot))


def _cmd_fleet_panel(args: argparse.Namespace) -> int:
    from firmware_sim.fleet import fleet_panel_main

    return fleet_panel_main(args.out, units=args.units, periods=args.periods, effect_pct=args.effect,
                            treated_share=args.treated_share, cohorts=args.cohorts, seed=args.seed)


def _cmd_export_panel(args: argparse.Namespace) -> int:
    from agent.analytics.export_panel import export_panel_main

    return export_panel_main(args.out, args.db, args.config, args.treated_from, args.timezone, args.max_gap,
                             args.app)


def _cmd_faults(args: argparse.Namespace) -> int:
    from agent.apps.faults.report import faults_main, repaired_main

    if args.repaired:
        return repaired_main(args.db, args.config, *args.repaired, by=args.by)
    return faults_main(args.db, args.config, args.json)


def _cmd_run(args: argparse.Namespace) -> int:
    from agent.run import run_service

    return run_service(args.config)


def _cmd_check(args: argparse.Namespace) -> int:
    from agent.config.check import check_main

    return check_main(args.file)


def _cmd_demo(args: argparse.Namespace) -> int:
    from agent.demo import DemoOptions, run_demo

    return run_demo(
        DemoOptions(
            days=args.days, rooms=args.rooms, seed=args.seed, broker=args.broker, db=args.db, json=args.json,
            control=args.control, harvesting_nodes=args.harvesting_nodes,
        )
    )


def _cmd_token(args: argparse.Namespace) -> int:
    from agent.web.tokens_cli import token_main

    return token_main(args.config, zone=args.zone, label=args.label, list_tokens=args.list, revoke=args.revoke,
                      for_config=args.for_config)


def _cmd_schedule_sim(args: argparse.Namespace) -> int:
    from agent.energy.cli import ScheduleSimOptions, schedule_sim_main

    return schedule_sim_main(
        ScheduleSimOptions(
            scenario=args.scenario, light_csv=args.light_csv, events_csv=args.events_csv, policy=args.policy,
            days=args.days, seed=args.seed, json=args.json, config=args.config, node_type=args.node_type,
            policy_file=args.policy_file,
        )
    )


if __name__ == "__main__":
    sys.exit(main())
