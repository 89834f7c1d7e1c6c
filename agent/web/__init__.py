"""The occupants' software thermostat: a small web page and JSON API served by the agent.

An occupant opens a link carrying a token for their zone, sees the zone's
temperature and setpoint, and nudges the setpoint within the guardrails'
limits; the nudge is an override that holds until it expires or the occupant
returns the zone to automatic.  See docs/thermostat.md.
"""

from agent.web.auth import Principal, TokenBook, new_token, token_hash
from agent.web.server import WebServer

__all__ = ["Principal", "TokenBook", "WebServer", "new_token", "token_hash"]
