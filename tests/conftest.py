"""Shared fixtures: real brokers, real pseudo-terminals, real SQLite files."""

from __future__ import annotations

import os
import tty
from collections.abc import Iterator
from pathlib import Path

import pytest
from hypothesis import HealthCheck, settings

from agent.analytics.causal import Panel, load_long_csv
from firmware_sim.broker import Mosquitto

PROP99_CSV = Path(__file__).resolve().parents[2] / "shared" / "data" / "california_prop99.csv"
"""The Proposition 99 panel (../shared/data beside the project): read there, never copied."""

settings.register_profile("ci", deadline=None, suppress_health_check=[HealthCheck.too_slow])
settings.load_profile("ci")


@pytest.fixture
def broker() -> Iterator[Mosquitto]:
    """A private mosquitto on a free loopback port, stopped after the test."""
    with Mosquitto() as b:
        yield b


@pytest.fixture
def upstream_broker() -> Iterator[Mosquitto]:
    """A second broker, for tests that take the upstream side down on its own."""
    with Mosquitto() as b:
        yield b


@pytest.fixture
def pty_pair() -> Iterator[tuple[int, str]]:
    """(master fd, slave path) of a raw pseudo-terminal, like a USB serial dongle."""
    master, slave = os.openpty()
    tty.setraw(master)
    tty.setraw(slave)
    try:
        yield master, os.ttyname(slave)
    finally:
        os.close(master)
        os.close(slave)


@pytest.fixture(scope="session")
def prop99_csv() -> Path:
    """The Proposition 99 CSV; the test is skipped where the shared data is absent (a bare clone)."""
    if not PROP99_CSV.exists():
        pytest.skip(f"the Proposition 99 panel is not at {PROP99_CSV} (../shared/data beside the project)")
    return PROP99_CSV


@pytest.fixture(scope="session")
def prop99(prop99_csv: Path) -> Panel:
    """Proposition 99 as a block panel: 39 states (California treated), 1970–2000."""
    return load_long_csv(prop99_csv, unit="State", time="Year", outcome="PacksPerCapita", treated="treated")
