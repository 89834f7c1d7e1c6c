"""The thermostat page itself: one HTML file with its CSS and JavaScript inline.

No external assets (no CDN, no web fonts, no images): the page works on a
site without internet and loads nothing anyone could track.  The
Content-Security-Policy allows exactly the page's own inline style and script
(by their SHA-256) and requests to the agent itself, so even an injected tag
could load nothing from elsewhere.
"""

from __future__ import annotations

import base64
import functools
import hashlib
import re
from dataclasses import dataclass
from importlib import resources

from aiohttp import web

PAGE_FILE = "thermostat.html"


@dataclass(frozen=True, slots=True)
class Page:
    html: str
    csp: str


@functools.cache
def load_page() -> Page:
    """The page shipped in the package, and the policy that pins its inline style and script."""
    html = resources.files("agent.web").joinpath(PAGE_FILE).read_text(encoding="utf-8")
    scripts = [_sha256(body) for body in re.findall(r"<script>(.*?)</script>", html, re.S)]
    styles = [_sha256(body) for body in re.findall(r"<style>(.*?)</style>", html, re.S)]
    csp = "; ".join([
        "default-src 'none'",
        "script-src " + " ".join(scripts),
        "style-src " + " ".join(styles),
        "connect-src 'self'",
        "img-src data:",
        "base-uri 'none'",
        "form-action 'none'",
        "frame-ancestors 'none'",
    ])
    return Page(html, csp)


async def serve_page(request: web.Request) -> web.Response:
    """The same page for ``/`` and ``/zones/<zone>``: its script reads the zone from the path."""
    page = load_page()
    return web.Response(text=page.html, content_type="text/html", headers={"Content-Security-Policy": page.csp})


def _sha256(text: str) -> str:
    return "'sha256-" + base64.b64encode(hashlib.sha256(text.encode("utf-8")).digest()).decode("ascii") + "'"
