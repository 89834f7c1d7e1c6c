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
    demo.add_argument("--no-control", dest="control", action="store_false",
                      help="run without the occupancy control app (ingest and forwarding only)")
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
            days=args.days, rooms=args.rooms, seed=args.seed, broker=args.broker, db=args.db, json=args.json,
            control=args.control,
        )
    )


def _cmd_token(args: argparse.Namespace) -> int:
    from agent.web.tokens_cli import token_main

    return token_main(args.config, zone=args.zone, label=args.label, list_tokens=args.list, revoke=args.revoke,
                      for_config=args.for_config)


if __name__ == "__main__":
    sys.exit(main())
