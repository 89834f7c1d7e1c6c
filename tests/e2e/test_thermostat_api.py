"""The thermostat page's JSON API against a real agent, broker and simulated thermostats.

Each refusal (no token, a bad token, another zone's token, a body that is not
a request) shows the safe outcome: nothing is sent, no hold is set, the
thermostat keeps its setpoint, and the refusal is in the event log.  Each nudge
shows the audit row that records it.
"""

from __future__ import annotations

import asyncio
import json
import socket
from collections.abc import AsyncIterator
from pathlib import Path

import aiohttp
import pytest
import pytest_asyncio
from thermostat_rig import START, ThermostatSite

from agent.clock import SimClock
from agent.config import Config
from agent.config.schema import WebTokenConfig
from agent.guardrails import HEATING_SETPOINT, ActionRequest, Origin, Verdict
from agent.service import Agent
from agent.store import Outcome, Store
from agent.web import token_hash
from agent.web.auth import who

HOLD_S = 4 * 3600.0


@pytest_asyncio.fixture
async def site(tmp_path: Path) -> AsyncIterator[ThermostatSite]:
    async with ThermostatSite(tmp_path) as s:
        yield s


@pytest_asyncio.fixture
async def http() -> AsyncIterator[aiohttp.ClientSession]:
    async with aiohttp.ClientSession() as session:
        yield session


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


async def call(http: aiohttp.ClientSession, method: str, url: str, **kwargs: object) -> tuple[int, dict]:  # type: ignore[type-arg]
    async with http.request(method, url, **kwargs) as response:  # type: ignore[arg-type]
        return response.status, await response.json()


def nothing_happened(site: ThermostatSite, room: str, setpoint_before: float) -> None:
    assert site.agent.store.audit() == []
    assert site.agent.overrides() == [] and site.agent.store.overrides() == []
    assert site.zigbee.commands_applied == 0
    assert site.building.room(room).setpoint == setpoint_before


@pytest.mark.asyncio
async def test_without_a_valid_token_every_request_is_401_and_nothing_is_sent(
    site: ThermostatSite, http: aiohttp.ClientSession
) -> None:
    before = site.building.room("room01").setpoint
    valid = site.token("room01")
    api = f"{site.url}/api/zones/room01"
    attempts = [
        ("GET", api, {}),
        ("GET", api, {"headers": bearer("not-a-token")}),
        ("GET", api, {"headers": {"Authorization": f"Basic {valid}"}}),  # right secret, wrong scheme
        ("GET", f"{api}?token={valid}", {}),  # never taken from a URL: it would end up in logs
        ("GET", api, {"headers": bearer("x" * 5000)}),
        ("POST", f"{api}/setpoint", {"json": {"setpoint": 21.5}}),
        ("POST", f"{api}/setpoint", {"json": {"setpoint": 21.5}, "headers": bearer(valid[:-1])}),
        ("POST", f"{api}/setpoint", {"data": b"not json at all"}),  # the token is checked before the body
        ("POST", f"{api}/resume", {"json": {}, "cookies": {"edgewise_token": "stolen?"}}),
        ("GET", f"{site.url}/api/session", {}),
    ]
    for method, url, kwargs in attempts:
        async with http.request(method, url, **kwargs) as response:  # type: ignore[arg-type]
            body = await response.json()
            assert response.status == 401, (method, url, body)
            assert response.headers["WWW-Authenticate"].startswith("Bearer")
            assert body["error"]
    nothing_happened(site, "room01", before)
    denied = site.agent.store.events("web_denied")
    assert len(denied) == len(attempts)
    assert all(e.detail["status"] == 401 and e.detail["by"] is None for e in denied)  # type: ignore[index]
    assert valid not in json.dumps([e.detail for e in denied])


@pytest.mark.asyncio
async def test_a_token_for_another_zone_is_403_and_nothing_is_sent(
    site: ThermostatSite, http: aiohttp.ClientSession
) -> None:
    before = site.building.room("room01").setpoint
    other = site.token("room02")
    api = f"{site.url}/api/zones/room01"
    for method, url, body in [("GET", api, None), ("POST", f"{api}/setpoint", {"setpoint": 22.0}),
                              ("POST", f"{api}/resume", {}), ("GET", f"{site.url}/api/zones/no-such-zone", None)]:
        status, answer = await call(http, method, url, json=body, headers=bearer(other))
        assert status == 403 and "this token is for zone room02" in answer["error"], (url, answer)
    nothing_happened(site, "room01", before)
    denied = site.agent.store.events("web_denied")
    assert [(e.subject, e.detail["status"], e.detail["by"]) for e in denied][:3] == [  # type: ignore[index]
        ("room01", 403, who(token_hash(other)))
    ] * 3
    status, own = await call(http, "GET", f"{site.url}/api/zones/room02", headers=bearer(other))
    assert status == 200 and own["zone"] == "room02"


BAD_BODIES = [
    ("text/plain", b'{"setpoint": 21}', "Content-Type: application/json"),
    ("application/x-www-form-urlencoded", b"setpoint=21", "Content-Type: application/json"),
    ("application/json", b"", "not valid JSON"),
    ("application/json", b"{setpoint: 21}", "not valid JSON"),
    ("application/json", b'{"setpoint": NaN}', "not valid JSON"),
    ("application/json", b'{"setpoint": Infinity}', "not valid JSON"),
    ("application/json", b"\xff\xfe{}", "not valid JSON"),
    ("application/json", b"[21.5]", "must be a JSON object"),
    ("application/json", b"21.5", "must be a JSON object"),
    ("application/json", b"{}", "exactly one of"),
    ("application/json", b'{"setpoint": 21, "delta": 1}', "exactly one of"),
    ("application/json", b'{"temperature": 21}', "unknown field 'temperature'"),
    ("application/json", b'{"setpoint": "21"}', "setpoint must be a number"),
    ("application/json", b'{"setpoint": true}', "setpoint must be a number"),
    ("application/json", b'{"setpoint": null}', "setpoint must be a number"),
    ("application/json", b'{"setpoint": [21]}', "setpoint must be a number"),
    ("application/json", b'{"setpoint": 1e400}', "from -50 to 100"),
    ("application/json", b'{"setpoint": 1' + b"0" * 400 + b"}", "from -50 to 100"),
    ("application/json", b'{"setpoint": -273.15}', "from -50 to 100"),
    ("application/json", b'{"delta": 1e9}', "delta must be a number from -20 to 20"),
    ("application/json", b'{"setpoint": 21, "pad": "' + b"x" * 2000 + b'"}', "body too large"),
    ("application/json", b"[" * 600 + b"]" * 600, "body too large"),
]
"""(Content-Type, body, what the error says); too large bodies get 413, the others 400."""


@pytest.mark.asyncio
async def test_bad_bodies_are_refused_with_a_reason_and_the_agent_carries_on(
    site: ThermostatSite, http: aiohttp.ClientSession
) -> None:
    before = site.building.room("room01").setpoint
    token = site.token("room01")
    url = f"{site.url}/api/zones/room01/setpoint"
    for content_type, body, reason in BAD_BODIES:
        headers = {**bearer(token), "Content-Type": content_type}
        status, answer = await call(http, "POST", url, data=body, headers=headers)
        expected = 413 if reason == "body too large" else 400
        assert status == expected and reason in answer["error"], (body[:60], answer)
    status, answer = await call(http, "POST", f"{site.url}/api/login", data=b'{"token": 5}',
                                headers={"Content-Type": "application/json"})
    assert status == 400 and "token" in answer["error"]
    nothing_happened(site, "room01", before)
    status, answer = await call(http, "POST", url, json={"setpoint": 21.5}, headers=bearer(token))
    assert status == 200 and answer["state"]["setpoint_c"] == 21.5


@pytest.mark.asyncio
async def test_a_nudge_beyond_the_limits_is_clamped_held_for_4_hours_and_audited(
    site: ThermostatSite, http: aiohttp.ClientSession
) -> None:
    token = site.token("room01")
    api = f"{site.url}/api/zones/room01"
    status, state = await call(http, "GET", api, headers=bearer(token))
    assert status == 200
    assert state["mode"] == "auto" and state["hold_until"] is None and state["limits"] == {"min": 18.0, "max": 22.0}
    assert state["temperature_c"] == pytest.approx(site.building.room("room01").temperature, abs=0.3)
    assert state["setpoint_c"] == round(site.building.room("room01").setpoint, 1)
    assert state["attribute"] == HEATING_SETPOINT

    status, answer = await call(http, "POST", f"{api}/setpoint", json={"setpoint": 30}, headers=bearer(token))
    assert status == 200
    result, state = answer["result"], answer["state"]
    assert (result["requested"], result["sent"], result["verdict"], result["rules"]) == (
        30.0, 22.0, "modified", ["SetpointLimits"])
    assert result["outcome"] == "confirmed"
    assert state["setpoint_c"] == 22.0 and state["mode"] == "hold"
    assert state["hold_until"] == START + HOLD_S and state["hold_until_local"] == "13:00"
    assert site.building.room("room01").setpoint == 22.0  # what the thermostat got: never 30

    (row,) = site.agent.store.audit()
    assert (row.origin, row.app, row.zone, row.device) == (Origin.USER, "thermostat-web", "room01", "room01_thermostat")
    assert (row.requested, row.sent, row.verdict, row.rules) == (30, 22.0, Verdict.MODIFIED, ("SetpointLimits",))
    assert row.reason == f"override by {who(token_hash(token))}" and row.outcome is Outcome.CONFIRMED
    assert "above zone room01's limit 22 °C" in row.why and row.id in result["audit_ids"]

    status, answer = await call(http, "POST", f"{api}/setpoint", json={"delta": -1.5}, headers=bearer(token))
    assert status == 200 and answer["result"]["verdict"] == "allowed" and answer["state"]["setpoint_c"] == 20.5
    assert site.building.room("room01").setpoint == 20.5


@pytest.mark.asyncio
async def test_a_hold_expires_on_event_time_not_wall_time(site: ThermostatSite, http: aiohttp.ClientSession) -> None:
    token = site.token("room02")
    api = f"{site.url}/api/zones/room02"
    status, answer = await call(http, "POST", f"{api}/setpoint", json={"setpoint": 21.5}, headers=bearer(token))
    assert status == 200 and answer["state"]["mode"] == "hold"
    await site.advance(HOLD_S - 300)
    _, state = await call(http, "GET", api, headers=bearer(token))
    assert state["mode"] == "hold" and state["hold_until_local"] == "13:00"
    await site.advance(300)
    _, state = await call(http, "GET", api, headers=bearer(token))
    assert state["mode"] == "auto" and state["hold_until"] is None
    assert state["setpoint_c"] == 21.5  # the thermostat keeps the value until an app sends another
    assert site.agent.overrides() == []


@pytest.mark.asyncio
async def test_a_hold_survives_a_restart_and_resume_returns_the_zone_to_the_apps(
    site: ThermostatSite, http: aiohttp.ClientSession
) -> None:
    token = site.token("room01")
    status, answer = await call(http, "POST", f"{site.url}/api/zones/room01/setpoint", json={"setpoint": 19.5},
                                headers=bearer(token))
    assert status == 200
    await site.stop_agent()
    await site.start_agent()  # a new agent, a new port, the same database
    await site.advance(3600)
    api = f"{site.url}/api/zones/room01"
    _, state = await call(http, "GET", api, headers=bearer(token))
    assert (state["mode"], state["setpoint_c"], state["hold_until"]) == ("hold", 19.5, START + HOLD_S)
    app = ActionRequest("occupancy", "room01_thermostat", HEATING_SETPOINT, 17.0, "room empty", setback=True)
    blocked = await site.agent.request(app)
    assert blocked.verdict is Verdict.BLOCKED and blocked.rules == ("UserOverrideHold",)

    status, answer = await call(http, "POST", f"{api}/resume", json={}, headers=bearer(token))
    assert status == 200 and answer["released"] is True
    assert answer["state"]["mode"] == "auto" and answer["state"]["hold_until"] is None
    (stored,) = site.agent.store.overrides()
    assert stored.cleared_by == who(token_hash(token)) and stored.cleared_ts == START + 3600
    allowed = await site.agent.request(app)
    assert allowed.verdict is Verdict.ALLOWED and allowed.outcome is Outcome.CONFIRMED
    _, state = await call(http, "GET", api, headers=bearer(token))
    assert state["setpoint_c"] == 17.0
    status, again = await call(http, "POST", f"{api}/resume", json={}, headers=bearer(token))
    assert status == 200 and again["released"] is False  # nothing to release: still fine


@pytest.mark.asyncio
async def test_login_trades_the_token_for_a_strict_httponly_cookie_and_revoking_ends_it(
    site: ThermostatSite,
) -> None:
    token = site.token("room01")
    async with aiohttp.ClientSession(cookie_jar=aiohttp.CookieJar(unsafe=True)) as browser:
        async with browser.post(f"{site.url}/api/login", json={"token": token}) as response:
            assert response.status == 200 and await response.json() == {"zone": "room01"}
            cookie = response.headers["Set-Cookie"]
        assert "HttpOnly" in cookie and "SameSite=Strict" in cookie and "Path=/" in cookie
        status, state = await call(browser, "GET", f"{site.url}/api/zones/room01")
        assert status == 200 and state["zone"] == "room01"
        status, session = await call(browser, "GET", f"{site.url}/api/session")
        assert status == 200 and session == {"zone": "room01"}
        assert (await call(browser, "POST", f"{site.url}/api/logout"))[0] == 200
        assert (await call(browser, "GET", f"{site.url}/api/session"))[0] == 401
        await call(browser, "POST", f"{site.url}/api/login", json={"token": token})
        with Store.open(site.db) as store:  # as `edgewise token --revoke` does, while the agent runs
            (revoked,) = store.revoke_web_tokens(token_hash(token)[:8], 0.0)
        assert revoked.zone == "room01"
        status, answer = await call(browser, "GET", f"{site.url}/api/zones/room01")
        assert status == 401 and "unknown or revoked" in answer["error"]
        status, answer = await call(browser, "POST", f"{site.url}/api/login", json={"token": token})
        assert status == 401


@pytest.mark.asyncio
async def test_a_token_given_by_its_hash_in_the_configuration_is_accepted(tmp_path: Path) -> None:
    token = "a-token-from-the-operators-password-manager"
    async with ThermostatSite(tmp_path) as site:
        web = site.config.web.model_copy(update={"tokens": [WebTokenConfig(zone="room02", sha256=token_hash(token))]})
        site.config = site.config.model_copy(update={"web": web})
        await site.stop_agent()
        await site.start_agent()
        async with aiohttp.ClientSession() as http:
            status, state = await call(http, "GET", f"{site.url}/api/zones/room02", headers=bearer(token))
            assert status == 200 and state["zone"] == "room02"
            status, _ = await call(http, "GET", f"{site.url}/api/zones/room01", headers=bearer(token))
            assert status == 403


@pytest.mark.asyncio
async def test_the_page_loads_nothing_from_elsewhere(site: ThermostatSite, http: aiohttp.ClientSession) -> None:
    for path in ("/", "/zones/room01"):
        async with http.get(site.url + path) as response:
            assert response.status == 200 and response.content_type == "text/html"
            html = await response.text()
            csp = response.headers["Content-Security-Policy"]
        assert "default-src 'none'" in csp and "connect-src 'self'" in csp and "unsafe-inline" not in csp
        assert response.headers["X-Content-Type-Options"] == "nosniff"
        assert response.headers["Referrer-Policy"] == "no-referrer"
        assert "http://" not in html and "https://" not in html and "src=" not in html
        assert '<meta name="viewport"' in html
    status, answer = await call(http, "DELETE", f"{site.url}/api/zones/room01")
    assert status == 405 and answer["error"]
    status, answer = await call(http, "GET", f"{site.url}/api/nothing-here")
    assert status == 404 and answer["error"]


@pytest.mark.asyncio
async def test_a_nudge_the_guardrails_block_is_409_with_the_rule_and_the_hold_stays(
    site: ThermostatSite, http: aiohttp.ClientSession
) -> None:
    token = site.token("room01")
    url = f"{site.url}/api/zones/room01/setpoint"
    for value in (19.0, 19.5, 20.0, 20.5, 21.0, 21.5):  # rate_limit: 6 commands per device in 5 minutes
        status, _ = await call(http, "POST", url, json={"setpoint": value}, headers=bearer(token))
        assert status == 200
    status, answer = await call(http, "POST", url, json={"setpoint": 18.0}, headers=bearer(token))
    assert status == 409 and answer["error"].startswith("not changed: ")
    assert answer["result"]["rules"] == ["RateLimit"] and answer["result"]["sent"] is None
    assert answer["state"]["setpoint_c"] == 21.5 and answer["state"]["mode"] == "hold"
    last = site.agent.store.audit()[-1]
    assert (last.verdict, last.rules, last.outcome, last.app) == (
        Verdict.BLOCKED, ("RateLimit",), Outcome.NOT_SENT, "thermostat-web")
    assert site.building.room("room01").setpoint == 21.5


@pytest.mark.asyncio
async def test_a_port_in_use_leaves_the_page_off_and_the_agent_running(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        config = Config.model_validate({"gateway": {"id": "gw-1", "database": str(tmp_path / "e.db")},
                                        "web": {"enabled": True, "port": port}})
        agent = Agent(config, SimClock(START))
        stop = asyncio.Event()
        task = asyncio.create_task(agent.run(stop))
        await agent.running.wait()
        await asyncio.sleep(0.2)
        assert not task.done() and agent.web is not None and not agent.web.listening.is_set()
        stop.set()
        await task
    assert f"thermostat page: cannot listen on 127.0.0.1 port {port}" in caplog.text
