"""``edgewise token``: create, list and revoke the thermostat page's access tokens.

A new token is printed once, with the page's link, and only its SHA-256 is
stored: lose it and you make a new one.  The running agent reads the token
table on every request, so new and revoked tokens count at once, without a
restart.  Run it as the service user (``sudo -u edgewise edgewise token ...``)
so the database keeps its owner.
"""

from __future__ import annotations

import os
import socket
import sys
import time
from datetime import datetime, timezone
from typing import TextIO

from agent.config import Config, ConfigError, load_config
from agent.guardrails.targets import SETPOINTS, Registry
from agent.store import Store, StoreError, WebToken
from agent.web.auth import new_token, token_hash

DEFAULT_CONFIG = "/etc/edgewise/edgewise.yaml"
MIN_REVOKE_PREFIX = 6
EXIT_USAGE = 2


class TokenCommandError(Exception):
    """What went wrong, in a sentence for the person at the terminal."""


def token_main(
    config_path: str,
    *,
    zone: str | None = None,
    label: str = "",
    list_tokens: bool = False,
    revoke: str | None = None,
    for_config: bool = False,
    out: TextIO = sys.stdout,
) -> int:
    """Run one ``edgewise token`` action; 0 on success, 2 with a message on stderr otherwise."""
    try:
        config = _load(config_path)
        if list_tokens:
            _list(config, out)
        elif revoke is not None:
            _revoke(config, revoke, config_path, out)
        elif zone is not None:
            _create(config, zone, label, for_config, config_path, out)
        else:
            raise TokenCommandError("say what to do: --zone ZONE (new token), --list or --revoke PREFIX")
    except TokenCommandError as exc:
        print(f"edgewise token: {exc}", file=sys.stderr)
        return EXIT_USAGE
    return 0


def _load(path: str) -> Config:
    try:
        return load_config(path)
    except ConfigError as exc:
        raise TokenCommandError("\n".join(str(issue) for issue in exc.issues)) from None


def _open_store(config: Config) -> Store:
    """The agent's existing database; never a new one (the agent creates it, owned by its user)."""
    path = config.gateway.database
    if not os.path.exists(path):
        raise TokenCommandError(f"database {path} does not exist yet: start the agent once, then run this again")
    try:
        return Store.open(path)
    except StoreError as exc:
        raise TokenCommandError(str(exc)) from None


def thermostat_zones(config: Config) -> list[str]:
    """Zones with a device that takes a setpoint: the ones the page can serve."""
    registry = Registry(config.guardrails.zones)
    return [z for z in registry.zones if any(registry.targets(zone=z, attribute=a) for a in SETPOINTS)]


def _check_zone(config: Config, zone: str, config_path: str) -> None:
    known = list(config.guardrails.zones)
    if zone not in known:
        listed = ", ".join(known) if known else "none (add them under guardrails.zones)"
        raise TokenCommandError(f"no zone {zone!r} in {config_path}; known zones: {listed}")
    with_thermostat = thermostat_zones(config)
    if zone not in with_thermostat:
        raise TokenCommandError(
            f"zone {zone!r} has no thermostat (no actuator of kind thermostat, heating_thermostat or "
            f"cooling_thermostat); zones with one: {', '.join(with_thermostat) or 'none'}"
        )


def _create(config: Config, zone: str, label: str, for_config: bool, config_path: str, out: TextIO) -> None:
    _check_zone(config, zone, config_path)
    token = new_token()
    digest = token_hash(token)
    if for_config:
        print(f"Token for zone {zone} (shown once; only its hash goes into the configuration):", file=out)
        print(f"  {token}", file=out)
        print("Add to the web section of the configuration:", file=out)
        print(f"  tokens:\n    - zone: {zone}\n      sha256: \"{digest}\"", file=out)
    else:
        with _open_store(config) as store:
            store.add_web_token(WebToken(digest, zone, time.time(), label))
        print(f"Token for zone {zone} (shown once; edgewise keeps only its hash {digest[:12]}…):", file=out)
        print(f"  {token}", file=out)
    print("The occupant's link:", file=out)
    print(f"  {page_url(config, zone)}#token={token}", file=out)
    if not config.web.enabled:
        print(f"Note: web.enabled is false in {config_path}; the page is off until you enable it.", file=out)


def page_url(config: Config, zone: str) -> str:
    """The zone's page as occupants reach it: ``web.public_url`` if set, else the listening address."""
    if config.web.public_url:
        return f"{config.web.public_url.rstrip('/')}/zones/{zone}"
    host = config.web.host
    if host in ("0.0.0.0", "::", ""):
        host = socket.gethostname()
    host = f"[{host}]" if ":" in host else host
    return f"http://{host}:{config.web.port}/zones/{zone}"


def _list(config: Config, out: TextIO) -> None:
    with _open_store(config) as store:
        stored = store.web_tokens(include_revoked=True)
    print(f"{'hash':<14} {'zone':<16} {'created (UTC)':<17} {'status':<24} label", file=out)
    for t in stored:
        status = "active" if t.active else f"revoked {_utc(t.revoked_ts)}"
        print(f"{t.sha256[:12]:<14} {t.zone:<16} {_utc(t.created_ts):<17} {status:<24} {t.label}", file=out)
    for c in config.web.tokens:
        print(f"{c.sha256[:12]:<14} {c.zone:<16} {'-':<17} {'active (configuration)':<24}", file=out)
    if not stored and not config.web.tokens:
        print("(no tokens; create one with: edgewise token --zone ZONE)", file=out)


def _revoke(config: Config, prefix: str, config_path: str, out: TextIO) -> None:
    prefix = prefix.lower()
    if len(prefix) < MIN_REVOKE_PREFIX:
        raise TokenCommandError(f"give at least {MIN_REVOKE_PREFIX} characters of the hash (see --list)")
    with _open_store(config) as store:
        matches = [t for t in store.web_tokens() if t.sha256.startswith(prefix)]
        if len(matches) > 1:
            names = ", ".join(f"{t.sha256[:12]} ({t.zone})" for t in matches)
            raise TokenCommandError(f"{prefix} matches {len(matches)} tokens: {names}; give more characters")
        if not matches:
            in_config = any(c.sha256.startswith(prefix) for c in config.web.tokens)
            where = f"it is in {config_path}: remove it there" if in_config else "see --list"
            raise TokenCommandError(f"no active token whose hash starts with {prefix}; {where}")
        (revoked,) = store.revoke_web_tokens(matches[0].sha256, time.time())
    print(f"revoked {revoked.sha256[:12]} (zone {revoked.zone}); links with it stop working now", file=out)


def _utc(ts: float | None) -> str:
    return "-" if ts is None else datetime.fromtimestamp(ts, timezone.utc).strftime("%Y-%m-%d %H:%M")
