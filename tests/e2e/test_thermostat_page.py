"""The thermostat page in a real headless Chromium (Debian's, driven by Playwright) on a phone-sized screen.

The agent, broker and thermostats are real (see thermostat_rig.py); the
occupant opens the link ``edgewise token`` prints, reads the room, presses +,
sees the hold and returns the zone to automatic.  Every request the page makes
must go to the agent itself.

The screenshot in docs/ comes from the first test: set EDGEWISE_SCREENSHOT to
a path (``EDGEWISE_SCREENSHOT=docs/thermostat.png python3 -m pytest
tests/e2e/test_thermostat_page.py``); without it the picture goes to the
test's temporary directory, so a test run never changes the repository.
"""

from __future__ import annotations

import os
import re
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
import pytest_asyncio
from thermostat_rig import ThermostatSite

from agent.store import Origin

CHROMIUM = "/usr/bin/chromium"
PHONE = {"width": 390, "height": 844}

try:
    from playwright.async_api import Browser, Page, async_playwright, expect
except ImportError:  # pragma: no cover - CI installs it with the test extras
    async_playwright = None  # type: ignore[assignment]

pytestmark = [
    pytest.mark.skipif(async_playwright is None, reason="playwright is not installed (pip install -e '.[test]')"),
    pytest.mark.skipif(not os.path.exists(CHROMIUM), reason=f"{CHROMIUM} is missing (apt-get install chromium)"),
]


@pytest_asyncio.fixture
async def browser() -> AsyncIterator[Browser]:
    async with async_playwright() as p:
        chromium = await p.chromium.launch(executable_path=CHROMIUM, headless=True)
        try:
            yield chromium
        finally:
            await chromium.close()


@pytest_asyncio.fixture
async def site(tmp_path: Path) -> AsyncIterator[ThermostatSite]:
    async with ThermostatSite(tmp_path) as s:
        yield s


async def phone(browser: Browser, site: ThermostatSite, requested: list[str]) -> Page:
    context = await browser.new_context(viewport=PHONE, device_scale_factor=2, is_mobile=True, has_touch=True)
    page = await context.new_page()
    page.on("request", lambda request: requested.append(request.url))
    return page


def celsius(value: float) -> str:
    return f"{value:.1f} °C"


@pytest.mark.asyncio
async def test_an_occupant_nudges_the_setpoint_sees_the_hold_and_returns_to_automatic(
    browser: Browser, site: ThermostatSite, tmp_path: Path
) -> None:
    room = site.building.room("room01")
    start = round(room.setpoint, 1)
    requested: list[str] = []
    page = await phone(browser, site, requested)
    await page.goto(f"{site.url}/zones/room01#token={site.token('room01')}")

    await expect(page.locator("#title")).to_have_text("Thermostat · room01")
    await expect(page.locator("#temperature")).to_have_text(re.compile(r"^\d+\.\d °C$"))
    await expect(page.locator("#setpoint")).to_have_text(celsius(start))
    await expect(page.locator("#mode")).to_have_text(re.compile("^Automatic"))
    await expect(page.locator("#limits")).to_have_text("You can choose 18.0–22.0 °C")
    await expect(page.locator("#resume")).to_be_hidden()
    assert "token" not in page.url  # gone from the address bar and the history

    target = min(22.0, start + 0.5)
    await page.locator("#up").tap()
    await page.locator("#up").tap()
    await page.locator("#down").tap()  # quick presses make one command
    await expect(page.locator("#setpoint")).to_have_text(celsius(target))
    await expect(page.locator("#mode")).to_have_text("Held until 13:00, then automatic")
    await expect(page.locator("#message")).to_have_text(f"Set to {celsius(target)}.")
    await expect(page.locator("#resume")).to_be_visible()
    assert room.setpoint == target
    (row,) = site.agent.store.audit()
    assert (row.origin, row.app, row.sent) == (Origin.USER, "thermostat-web", target)
    assert await page.evaluate("document.documentElement.scrollWidth") <= PHONE["width"]  # no sideways scrolling
    shot = Path(os.environ.get("EDGEWISE_SCREENSHOT") or tmp_path / "thermostat.png")
    await page.screenshot(path=str(shot), full_page=True)
    assert shot.stat().st_size > 10_000

    await page.locator("#resume").tap()
    await expect(page.locator("#mode")).to_have_text(re.compile("^Automatic"))
    await expect(page.locator("#message")).to_have_text("Back to automatic.")
    await expect(page.locator("#resume")).to_be_hidden()
    assert site.agent.overrides() == []

    await page.reload()  # the login cookie carries on without the token in the URL
    await expect(page.locator("#setpoint")).to_have_text(celsius(target))
    await expect(page.locator("#mode")).to_have_text(re.compile("^Automatic"))
    assert requested and all(url.startswith(site.url + "/") for url in requested), requested


@pytest.mark.asyncio
async def test_the_page_shows_a_hold_set_before_the_agent_restarted(browser: Browser, site: ThermostatSite) -> None:
    requested: list[str] = []
    page = await phone(browser, site, requested)
    await page.goto(f"{site.url}/zones/room02#token={site.token('room02')}")
    await expect(page.locator("#mode")).to_have_text(re.compile("^Automatic"))
    await page.locator("#down").tap()
    await expect(page.locator("#mode")).to_have_text("Held until 13:00, then automatic")
    held = await page.locator("#setpoint").text_content()

    await site.stop_agent()
    await site.start_agent()  # listens on a new port; cookies are per host, so the login holds
    await site.advance(2 * 3600)
    await page.goto(f"{site.url}/zones/room02")
    await expect(page.locator("#setpoint")).to_have_text(held or "")
    await expect(page.locator("#mode")).to_have_text("Held until 13:00, then automatic")
    await site.advance(2 * 3600)
    await page.reload()
    await expect(page.locator("#mode")).to_have_text(re.compile("^Automatic"))


@pytest.mark.asyncio
async def test_a_bad_missing_or_foreign_token_shows_a_clear_message(browser: Browser, site: ThermostatSite) -> None:
    cases = [
        ("/zones/room01#token=not-a-real-token", "This link is not valid: it is unknown or was revoked."),
        ("/zones/room01", "Open this page with the link you were given"),
        (f"/zones/room01#token={site.token('room02')}", "This link is for another zone."),
    ]
    for path, message in cases:
        requested: list[str] = []
        page = await phone(browser, site, requested)
        await page.goto(site.url + path)
        await expect(page.locator("#message")).to_contain_text(message)
        await expect(page.locator("#panel")).to_be_hidden()
        await page.context.close()
    assert site.agent.store.audit() == []
    assert site.zigbee.commands_applied == 0
