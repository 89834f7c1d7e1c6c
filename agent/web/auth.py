"""Who may use the thermostat page: one bearer token per occupant link, bound to one zone.

A token is ``secrets.token_urlsafe`` text, shown once by ``edgewise token``.
Only its SHA-256 is kept (in the store's ``web_tokens`` table, or in the
configuration's ``web.tokens``), so neither a database copy nor a config file
can be used to get in.  A presented token is hashed and compared with every
known hash in constant time (``hmac.compare_digest``, no early exit), so the
time a refusal takes says nothing about how close a guess came.

Tokens reach the agent as ``Authorization: Bearer <token>`` (scripts, the JSON
API) or as an HttpOnly, SameSite=Strict cookie that ``POST /api/login`` sets
(the page, which reads the token from its URL's fragment: a fragment never
leaves the browser, so tokens stay out of access logs and proxies).  Tokens
are never accepted in a query string.
"""

from __future__ import annotations

import hashlib
import hmac
import logging
import secrets
import time
from collections.abc import Sequence
from dataclasses import dataclass

from aiohttp import web

from agent.clock import Clock
from agent.config.schema import WebTokenConfig
from agent.store import Store, StoreThread

log = logging.getLogger(__name__)

TOKEN_BYTES = 24
"""Random bytes in a token: 192 bits, 32 URL-safe characters."""
MAX_TOKEN_CHARS = 256
"""Longer "tokens" are refused before hashing: no real token is that long."""
COOKIE = "edgewise_token"
COOKIE_MAX_AGE_S = 90 * 86_400
"""How long a browser keeps the login; revoking the token ends it at once anyway."""
WHO_PREFIX_CHARS = 6


def new_token() -> str:
    """A fresh random token (show it once; store only :func:`token_hash`)."""
    return secrets.token_urlsafe(TOKEN_BYTES)


def token_hash(token: str) -> str:
    """Lower-case hex SHA-256 of the token's UTF-8 text: what the store and config keep."""
    return hashlib.sha256(token.encode("utf-8", "backslashreplace")).hexdigest()


def who(sha256: str) -> str:
    """How audit rows and events name a token's holder: ``token:`` and the hash's first characters."""
    return f"token:{sha256[:WHO_PREFIX_CHARS]}"


@dataclass(frozen=True, slots=True)
class Principal:
    """An accepted token: the zone it may act for, and its hash."""

    zone: str
    sha256: str

    @property
    def who(self) -> str:
        return who(self.sha256)


class TokenBook:
    """Looks tokens up among the configured hashes and the store's.

    The store is read on each request (on the store thread), so a token that
    ``edgewise token`` creates or revokes while the agent runs counts at once.
    """

    def __init__(self, store: Store, thread: StoreThread, configured: Sequence[WebTokenConfig]) -> None:
        self._store = store
        self._thread = thread
        self._configured = [(t.sha256, t.zone) for t in configured]

    async def identify(self, token: str) -> Principal | None:
        """The principal of ``token``, or ``None`` if it is not a known, unrevoked token."""
        if not token or len(token) > MAX_TOKEN_CHARS:
            return None
        digest = token_hash(token)
        stored = await self._thread.call(self._store.web_tokens)
        known = self._configured + [(t.sha256, t.zone) for t in stored]
        found: Principal | None = None
        for sha256, zone in known:  # every hash is compared: no early exit
            if hmac.compare_digest(sha256, digest) and found is None:
                found = Principal(zone, sha256)
        return found


def presented_token(request: web.Request) -> str | None:
    """The token a request carries: the ``Authorization: Bearer`` header, else the login cookie.

    ``""`` for an Authorization header that is not a bearer token (refused as
    invalid, never silently ignored in favour of the cookie).
    """
    header = request.headers.get("Authorization")
    if header is not None:
        scheme, _, value = header.strip().partition(" ")
        return value.strip() if scheme.lower() == "bearer" else ""
    return request.cookies.get(COOKIE)


def set_login_cookie(response: web.StreamResponse, request: web.Request, token: str) -> None:
    """Keep the token in an HttpOnly, SameSite=Strict cookie (``Secure`` when served over HTTPS)."""
    secure = request.secure or request.headers.get("X-Forwarded-Proto", "").lower() == "https"
    response.set_cookie(
        COOKIE, token, max_age=COOKIE_MAX_AGE_S, path="/", httponly=True, samesite="Strict", secure=secure or None
    )


class DenialLog:
    """Writes refused requests to the event log (``kind = 'web_denied'``), without letting a flood fill the disk.

    A refusal with a valid token for another zone names who tried; one without
    a valid token names nobody.  At most ``per_minute`` events are written per
    wall-clock minute; the next one written says how many were left out.
    """

    def __init__(self, store: Store, thread: StoreThread, clock: Clock, per_minute: int = 30) -> None:
        self._store = store
        self._thread = thread
        self._clock = clock
        self._per_minute = per_minute
        self._window_start = time.monotonic()
        self._written = 0
        self._suppressed = 0

    async def denied(self, status: int, zone: str, why: str, path: str, principal: Principal | None) -> None:
        log.info("web: %d for zone %s (%s): %s", status, zone, principal.who if principal else "no valid token", why)
        if not self._admit():
            self._suppressed += 1
            return
        detail: dict[str, object] = {"status": status, "why": why, "path": path,
                                     "by": principal.who if principal else None}
        if self._suppressed:
            detail["suppressed"], self._suppressed = self._suppressed, 0
        await self._thread.call(self._store.log_event, self._clock.now(), "web_denied", zone, detail)

    def _admit(self) -> bool:
        now = time.monotonic()
        if now - self._window_start >= 60.0:
            self._window_start, self._written = now, 0
        if self._written >= self._per_minute:
            return False
        self._written += 1
        return True
