"""Shared fixtures: real brokers, real pseudo-terminals, real SQLite files."""

from __future__ import annotations

import os
import tty
from collections.abc import Iterator

import pytest
from hypothesis import HealthCheck, settings

from firmware_sim.broker import Mosquitto

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
