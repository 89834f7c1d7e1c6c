"""The thermostat page's HTTP server, run by the agent in its task group when ``web.enabled``.

It runs on the agent's event loop (aiohttp, no threads of its own) and reaches
the building only through the agent's public API, so a nudge from the page is
treated exactly like any other occupant override.  Bound to 127.0.0.1 unless
configured otherwise; to reach it from elsewhere put a reverse proxy with TLS
in front (docs/thermostat.md).
"""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING

from aiohttp import web

from agent.config.schema import WebConfig
from agent.web.api import ThermostatApi
from agent.web.auth import DenialLog, TokenBook
from agent.web.page import serve_page

if TYPE_CHECKING:
    from agent.service import Agent

log = logging.getLogger(__name__)

SHUTDOWN_GRACE_S = 5.0
"""How long requests in flight may take to finish when the agent stops.  A nudge
still waiting for its thermostat then ends; its command goes on and is audited."""

_SECURITY_HEADERS = {
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
    "X-Frame-Options": "DENY",
    "Cache-Control": "no-store",
}

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


def make_app(api: ThermostatApi) -> web.Application:
    """The aiohttp application: the page, the API, and errors as JSON for the API."""
    app = web.Application(middlewares=[_guard], client_max_size=64 * 1024)
    app.add_routes([web.get("/", serve_page), web.get("/zones/{zone}", serve_page), *api.routes()])
    return app


@web.middleware
async def _guard(request: web.Request, handler: Handler) -> web.StreamResponse:
    """Security headers on every response; errors as JSON under /api/; a bug answers 500, never kills the agent."""
    try:
        response = await handler(request)
    except web.HTTPException as exc:
        response = _as_response(request, exc)
    except asyncio.CancelledError:
        raise
    except Exception:
        log.exception("web: %s %s failed", request.method, request.path)
        response = web.json_response({"error": "internal error; the agent has logged it"}, status=500)
    response.headers.update(_SECURITY_HEADERS)
    return response


def _as_response(request: web.Request, exc: web.HTTPException) -> web.Response:
    """An aiohttp HTTP error as a plain response (JSON under /api/ when it was not already)."""
    headers = {k: v for k, v in exc.headers.items() if k.lower() not in ("content-type", "content-length")}
    if exc.content_type == "application/json" or not request.path.startswith("/api/"):
        return web.Response(status=exc.status, text=exc.text, content_type=exc.content_type, headers=headers)
    body = json.dumps({"error": exc.reason})
    return web.Response(status=exc.status, text=body, content_type="application/json", headers=headers)


class WebServer:
    """Serves the page and the API for one agent.

    ``async with WebServer(agent, config):`` listens until the block ends;
    :meth:`serve` is the agent's task.  After start, :attr:`port` is the port
    actually bound (useful with ``port: 0``) and :attr:`url` the page's base URL.
    """

    def __init__(self, agent: Agent, config: WebConfig) -> None:
        self.config = config
        tokens = TokenBook(agent.store, agent.store_thread, config.tokens)
        denials = DenialLog(agent.store, agent.store_thread, agent.clock)
        self.app = make_app(ThermostatApi(agent, tokens, denials))
        self.port: int | None = None
        self.listening = asyncio.Event()
        self._runner: web.AppRunner | None = None

    @property
    def url(self) -> str:
        host = self.config.host
        host = f"[{host}]" if ":" in host else host
        return f"http://{host}:{self.port}"

    async def __aenter__(self) -> WebServer:
        runner = web.AppRunner(self.app, access_log=None, shutdown_timeout=SHUTDOWN_GRACE_S)
        await runner.setup()
        try:
            await web.TCPSite(runner, self.config.host, self.config.port).start()
        except BaseException:
            await runner.cleanup()
            raise
        self._runner = runner
        self.port = int(runner.addresses[0][1])
        self.listening.set()
        log.info("thermostat page at %s/", self.url)
        return self

    async def __aexit__(self, *exc: object) -> None:
        if self._runner is not None:
            runner, self._runner = self._runner, None
            await runner.cleanup()
            log.info("thermostat page stopped")

    async def serve(self, stop: asyncio.Event) -> None:
        """Listen until ``stop`` is set.  A port that cannot be bound is logged and the agent
        carries on without the page: sensing and storing matter more than the page."""
        try:
            async with self:
                await stop.wait()
        except OSError as exc:
            log.error("thermostat page: cannot listen on %s port %d (%s); the page is off",
                      self.config.host, self.config.port, exc.strerror or exc)
