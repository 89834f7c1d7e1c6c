"""The thermostat page's JSON API: read a zone, nudge its setpoint, return it to automatic.

Every nudge is an occupant's override through :meth:`Agent.override`, so the
guardrails clamp it to the zone's occupied limits and the audit row records
origin ``user``, app :data:`APP` and who (``token:<hash prefix>``).  The API
only refuses what is not a request at all (bad JSON, a value that is not a
temperature); a setpoint beyond the limits goes to the guardrails, which clamp
it and say so in the audit trail.

Checks run in this order: the token (401), the zone (403), then the body (413 when
too large, 400 otherwise).
"""

from __future__ import annotations

import json
import math
from typing import TYPE_CHECKING, NoReturn

from aiohttp import web

from agent.actuation import ActuationClosed, OverrideResult
from agent.web.auth import COOKIE, DenialLog, Principal, TokenBook, presented_token, set_login_cookie
from agent.web.zone import find_thermostat, held, zone_state

if TYPE_CHECKING:
    from agent.service import Agent

APP = "thermostat-web"
"""The app name of the page's overrides in the audit trail."""
MAX_BODY_BYTES = 1024
"""Every valid request body is a few dozen bytes."""
SETPOINT_RANGE_C = (-50.0, 100.0)
"""Numbers outside this are not a temperature anyone meant; the guardrails clamp what is inside."""
MAX_DELTA_K = 20.0


def json_error(exc_class: type[web.HTTPException], message: str, **extra: object) -> web.HTTPException:
    """An HTTP error whose body is ``{"error": message, ...}``."""
    body = json.dumps({"error": message, **extra})
    headers = {"WWW-Authenticate": 'Bearer realm="edgewise"'} if exc_class is web.HTTPUnauthorized else None
    return exc_class(text=body, content_type="application/json", headers=headers)


def bad_request(message: str) -> NoReturn:
    raise json_error(web.HTTPBadRequest, message)


def too_large(size: int | None) -> NoReturn:
    """413, with the limit, for a body over :data:`MAX_BODY_BYTES` (``size``: what it declared, if it did)."""
    body = json.dumps({"error": f"body too large: at most {MAX_BODY_BYTES} bytes"})
    raise web.HTTPRequestEntityTooLarge(
        MAX_BODY_BYTES, size if size is not None else MAX_BODY_BYTES + 1, text=body, content_type="application/json"
    )


class ThermostatApi:
    """The request handlers, bound to one agent."""

    def __init__(self, agent: Agent, tokens: TokenBook, denials: DenialLog) -> None:
        self.agent = agent
        self.tokens = tokens
        self.denials = denials

    def routes(self) -> list[web.RouteDef]:
        return [
            web.post("/api/login", self.login),
            web.post("/api/logout", self.logout),
            web.get("/api/session", self.session),
            web.get("/api/zones/{zone}", self.get_zone),
            web.post("/api/zones/{zone}/setpoint", self.nudge),
            web.post("/api/zones/{zone}/resume", self.resume),
        ]

    # -- session -------------------------------------------------------------

    async def login(self, request: web.Request) -> web.Response:
        """Trade a token (from the page's URL fragment) for an HttpOnly cookie; answer its zone."""
        body = await read_json_object(request)
        token = body.get("token")
        if set(body) != {"token"} or not isinstance(token, str):
            bad_request('send {"token": "<the token from your link>"}')
        principal = await self.tokens.identify(token)
        if principal is None:
            await self.denials.denied(401, "", "unknown or revoked token", request.path, None)
            raise json_error(web.HTTPUnauthorized, "this link is not valid (unknown or revoked token)")
        response = web.json_response({"zone": principal.zone})
        set_login_cookie(response, request, token)
        return response

    async def logout(self, request: web.Request) -> web.Response:
        response = web.json_response({"ok": True})
        response.del_cookie(COOKIE, path="/")
        return response

    async def session(self, request: web.Request) -> web.Response:
        """The zone of the token the request carries (the page at ``/`` asks this)."""
        principal = await self._authenticate(request, "")
        return web.json_response({"zone": principal.zone})

    # -- a zone --------------------------------------------------------------

    async def get_zone(self, request: web.Request) -> web.Response:
        zone, _ = await self._authorize(request)
        return web.json_response(zone_state(self.agent, zone))

    async def nudge(self, request: web.Request) -> web.Response:
        """``{"setpoint": °C}`` or ``{"delta": K}``: hold the zone's setpoint at the new value."""
        zone, principal = await self._authorize(request)
        body = await read_json_object(request)
        thermostat = find_thermostat(self.agent, zone)
        if thermostat is None:
            raise json_error(web.HTTPConflict, f"zone {zone} has no thermostat this page can set")
        current = zone_state(self.agent, zone)["setpoint_c"]
        target = requested_setpoint(body, current if isinstance(current, float) else None)
        try:
            result = await self.agent.override(zone, thermostat.attribute, target, by=principal.who, app=APP)
        except ActuationClosed:
            raise json_error(web.HTTPServiceUnavailable, "the agent is stopping; try again in a minute") from None
        except ValueError as exc:
            bad_request(str(exc))
        outcome = _result(target, result)
        if result.override is None:
            raise json_error(web.HTTPConflict, "not changed: " + str(outcome["why"]), result=outcome,
                             state=zone_state(self.agent, zone))
        return web.json_response({"state": zone_state(self.agent, zone), "result": outcome})

    async def resume(self, request: web.Request) -> web.Response:
        """End the occupant's hold: the apps set the zone again (the thermostat keeps its value until they do)."""
        zone, principal = await self._authorize(request)
        thermostat = find_thermostat(self.agent, zone)
        released = None
        if thermostat is not None and held(self.agent, thermostat) is not None:
            released = self.agent.clear_override(zone, thermostat.attribute, by=principal.who)
        return web.json_response({"state": zone_state(self.agent, zone), "released": released is not None})

    # -- access --------------------------------------------------------------

    async def _authenticate(self, request: web.Request, zone: str) -> Principal:
        """The request's principal, or 401 (logged) if it carries no valid token."""
        token = presented_token(request)
        principal = await self.tokens.identify(token) if token else None
        if principal is None:
            why = "no token" if token is None else "unknown or revoked token"
            await self.denials.denied(401, zone, why, request.path, None)
            raise json_error(web.HTTPUnauthorized, f"{why}: open the link you were given, or send "
                                                   "Authorization: Bearer <token>")
        return principal

    async def _authorize(self, request: web.Request) -> tuple[str, Principal]:
        """The zone of the URL and the principal, if the request's token is for that zone:
        else 401, or 403 (logged) for another zone."""
        zone = request.match_info["zone"]
        principal = await self._authenticate(request, zone)
        if principal.zone != zone:
            await self.denials.denied(403, zone, f"token is for zone {principal.zone}", request.path, principal)
            raise json_error(web.HTTPForbidden, f"this token is for zone {principal.zone}, not {zone}")
        return zone, principal


async def read_json_object(request: web.Request) -> dict[str, object]:
    """The request's JSON object body; 413 when it is too large, 400 with the reason for anything else."""
    if request.content_type != "application/json":
        bad_request(f"send a JSON body with Content-Type: application/json (got {request.content_type or 'none'})")
    if request.content_length is not None and request.content_length > MAX_BODY_BYTES:
        too_large(request.content_length)
    raw = await request.content.read(MAX_BODY_BYTES + 1)
    if len(raw) > MAX_BODY_BYTES:
        too_large(request.content_length)
    try:
        data = json.loads(raw.decode("utf-8"), parse_constant=_no_constants)
    except (UnicodeDecodeError, ValueError, RecursionError) as exc:
        bad_request(f"body is not valid JSON: {exc}")
    if not isinstance(data, dict):
        bad_request('body must be a JSON object, e.g. {"setpoint": 21.5}')
    return data


def requested_setpoint(body: dict[str, object], current: float | None) -> float:
    """The setpoint a nudge asks for: ``setpoint`` as given, or ``current + delta``."""
    unknown = sorted(set(body) - {"setpoint", "delta"})
    if unknown:
        bad_request(f"unknown field {unknown[0]!r}: send {{\"setpoint\": °C}} or {{\"delta\": K}}")
    if ("setpoint" in body) == ("delta" in body):
        bad_request('send exactly one of "setpoint" (°C) or "delta" (K)')
    if "setpoint" in body:
        return _number(body["setpoint"], "setpoint", *SETPOINT_RANGE_C)
    delta = _number(body["delta"], "delta", -MAX_DELTA_K, MAX_DELTA_K)
    if current is None:
        raise json_error(web.HTTPConflict, 'the current setpoint is not known yet: send "setpoint" instead of "delta"')
    return round(current + delta, 2)  # 21.1 + 0.2 is 21.3, not 21.300000000000001


def _number(value: object, name: str, low: float, high: float) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float):
        bad_request(f"{name} must be a number, got {json.dumps(value)[:40]}")
    try:
        number = float(value)
    except OverflowError:  # an integer of hundreds of digits
        number = math.inf
    if not math.isfinite(number) or not low <= number <= high:
        bad_request(f"{name} must be a number from {low:g} to {high:g}, got {value!r:.40}")
    return number


def _no_constants(name: str) -> NoReturn:
    raise ValueError(f"{name} is not a number JSON allows")


def _result(target: float, result: OverrideResult) -> dict[str, object]:
    """What the guardrails and the thermostat made of a nudge (the first device's audit row)."""
    record = result.records[0]
    return {
        "requested": target, "sent": record.sent, "verdict": str(record.verdict), "rules": list(record.rules),
        "why": record.why, "outcome": str(record.outcome), "audit_ids": [r.id for r in result.records],
    }
