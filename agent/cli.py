"""``edgewise`` command line: argument parsing only; each command calls into a package."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence


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
    demo.add_argument("--json", action="store_true", help="print one JSON object on stdout")
    demo.set_defaults(func=_cmd_demo)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    return int(args.func(args))


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
            days=args.days, rooms=args.rooms, seed=args.seed, broker=args.broker, db=args.db, json=args.json
        )
    )


if __name__ == "__main__":
    sys.exit(main())
