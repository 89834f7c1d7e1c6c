"""``edgewise token``, as an operator runs it: a real process on a real configuration and database.

A token is printed once with the page's link and only its hash is stored; an
unknown zone is refused naming the zones there are; ``--list`` and
``--revoke`` work by hash prefix.
"""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest

from agent.store import Store
from agent.web import token_hash

CONFIG = """\
gateway:
  id: gw-1
  database: {db}
web:
  enabled: true
  port: 8123
guardrails:
  zones:
    kitchen:
      actuators: {{kitchen-thermostat: heating_thermostat}}
    office:
      actuators: {{office-plug: switch}}
"""


def edgewise(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "agent.cli", *args], capture_output=True, text=True, timeout=60)


@pytest.fixture
def config(tmp_path: Path) -> Path:
    db = tmp_path / "edgewise.db"
    Store.open(db).close()  # the agent has run once
    path = tmp_path / "edgewise.yaml"
    path.write_text(CONFIG.format(db=db))
    return path


def test_a_new_token_is_printed_once_with_its_link_and_only_its_hash_is_stored(config: Path) -> None:
    done = edgewise("token", "--config", str(config), "--zone", "kitchen", "--label", "desk 3")
    assert done.returncode == 0, done.stderr
    (token,) = re.findall(r"^  (\S{32})$", done.stdout, re.M)
    assert f"  http://127.0.0.1:8123/zones/kitchen#token={token}" in done.stdout
    with Store.open(config.parent / "edgewise.db") as store:
        (stored,) = store.web_tokens()
    assert (stored.sha256, stored.zone, stored.label) == (token_hash(token), "kitchen", "desk 3")
    raw = b"".join(p.read_bytes() for p in config.parent.glob("edgewise.db*"))
    assert token.encode() not in raw  # the database never holds the token itself

    listed = edgewise("token", "-c", str(config), "--list")
    assert listed.returncode == 0 and stored.sha256[:12] in listed.stdout and "active" in listed.stdout
    assert token not in listed.stdout

    revoked = edgewise("token", "-c", str(config), "--revoke", stored.sha256[:8])
    assert revoked.returncode == 0 and "revoked" in revoked.stdout
    with Store.open(config.parent / "edgewise.db") as store:
        assert store.web_tokens() == [] and store.web_tokens(include_revoked=True)[0].revoked_ts is not None
    again = edgewise("token", "-c", str(config), "--revoke", stored.sha256[:8])
    assert again.returncode == 2 and "no active token" in again.stderr


def test_unknown_zones_and_zones_without_a_thermostat_are_refused_by_name(config: Path) -> None:
    unknown = edgewise("token", "-c", str(config), "--zone", "garage")
    assert unknown.returncode == 2
    assert f"no zone 'garage' in {config}; known zones: kitchen, office" in unknown.stderr
    no_thermostat = edgewise("token", "-c", str(config), "--zone", "office")
    assert no_thermostat.returncode == 2 and "zone 'office' has no thermostat" in no_thermostat.stderr
    assert "zones with one: kitchen" in no_thermostat.stderr
    with Store.open(config.parent / "edgewise.db") as store:
        assert store.web_tokens(include_revoked=True) == []


def test_for_config_prints_the_hash_for_the_file_and_stores_nothing(config: Path) -> None:
    done = edgewise("token", "-c", str(config), "--zone", "kitchen", "--for-config")
    assert done.returncode == 0, done.stderr
    (token,) = re.findall(r"^  (\S{32})$", done.stdout, re.M)
    assert f'sha256: "{token_hash(token)}"' in done.stdout
    with Store.open(config.parent / "edgewise.db") as store:
        assert store.web_tokens(include_revoked=True) == []


def test_no_database_yet_is_refused_rather_than_created_with_the_wrong_owner(tmp_path: Path) -> None:
    path = tmp_path / "edgewise.yaml"
    path.write_text(CONFIG.format(db=tmp_path / "missing.db"))
    done = edgewise("token", "-c", str(path), "--zone", "kitchen")
    assert done.returncode == 2 and "does not exist yet" in done.stderr
    assert not (tmp_path / "missing.db").exists()
