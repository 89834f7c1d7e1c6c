"""``edgewise run``: the long-running service on a gateway."""

from __future__ import annotations

import asyncio
import logging
import signal
import sys

from agent.apps.errors import AppSetupError
from agent.clock import WallClock
from agent.config import Config, ConfigError, load_config
from agent.gc_tuning import tune_garbage_collection
from agent.service import Agent
from agent.systemd import configure_logging

log = logging.getLogger("edgewise")


def run_service(config_path: str) -> int:
    """Load the config, run until SIGTERM/SIGINT, exit 0 after a clean stop."""
    try:
        config = load_config(config_path)
    except ConfigError as exc:
        for issue in exc.issues:
            print(issue, file=sys.stderr)
        return 2
    configure_logging(config.gateway.log_level)
    log.info("edgewise starting: gateway %s, database %s", config.gateway.id, config.gateway.database)
    return asyncio.run(_serve(config, config_path))


async def _serve(config: Config, config_path: str) -> int:
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    try:
        agent = Agent(config, WallClock())
    except AppSetupError as exc:
        print(f"{config_path}: {exc}", file=sys.stderr)
        return 2
    tune_garbage_collection()
    await agent.run(stop)
    return 0
