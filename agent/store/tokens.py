"""Rows of the ``web_tokens`` table: which thermostat-page token may act for which zone.

Only a token's SHA-256 is stored, never the token: a copy of the database (a
backup, a support bundle) must not let anyone nudge a thermostat.  Revoked
tokens keep their row (``revoked_ts`` set), so the ``token:<hash prefix>`` an
audit row names can always be traced to a zone and a creation time.
"""

from __future__ import annotations

import sqlite3
from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class WebToken:
    """One token's stored facts (the token itself is never stored)."""

    sha256: str
    """Lower-case hex SHA-256 of the token's UTF-8 text."""
    zone: str
    created_ts: float
    """Wall-clock time it was created (Unix seconds)."""
    label: str = ""
    revoked_ts: float | None = None

    @property
    def active(self) -> bool:
        return self.revoked_ts is None


_COLUMNS = "sha256, zone, created_ts, label, revoked_ts"


def insert_token(conn: sqlite3.Connection, token: WebToken) -> WebToken:
    conn.execute(
        f"INSERT INTO web_tokens ({_COLUMNS}) VALUES (?, ?, ?, ?, ?)",
        (token.sha256, token.zone, token.created_ts, token.label, token.revoked_ts),
    )
    return token


def select_tokens(conn: sqlite3.Connection, *, include_revoked: bool = False) -> list[WebToken]:
    """Tokens oldest first; only those not revoked unless ``include_revoked``."""
    sql = f"SELECT {_COLUMNS} FROM web_tokens"
    if not include_revoked:
        sql += " WHERE revoked_ts IS NULL"
    rows = conn.execute(sql + " ORDER BY created_ts, rowid").fetchall()
    return [
        WebToken(str(h), str(z), float(c), str(label or ""), None if r is None else float(r))
        for h, z, c, label, r in rows
    ]


def revoke_tokens(conn: sqlite3.Connection, prefix: str, ts: float) -> list[WebToken]:
    """Revoke the active tokens whose hash starts with ``prefix``; return them as they were.

    The caller decides what an ambiguous prefix means; this revokes every match.
    """
    matches = [t for t in select_tokens(conn) if t.sha256.startswith(prefix.lower())]
    conn.executemany("UPDATE web_tokens SET revoked_ts = ? WHERE sha256 = ?", [(ts, t.sha256) for t in matches])
    return matches
