"""What the dashboard's browser tests share: the machine's Chromium (or a clear skip, or a
failure when the services are required), a real server on a free port, and sign-in."""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest

from steward.api import background_server, create_app
from steward.runtime import Runtime

CHROMIUM = "/usr/bin/chromium"


def require_chromium() -> None:
    """Skip the calling test module without Chromium; fail under STEWARD_REQUIRE_SERVICES=1."""
    if Path(CHROMIUM).exists():
        return
    msg = f"Chromium not found at {CHROMIUM}: install it with 'apt-get install -y chromium'"
    if os.environ.get("STEWARD_REQUIRE_SERVICES") == "1":
        raise RuntimeError(f"STEWARD_REQUIRE_SERVICES=1 but {msg}")
    pytest.skip(msg, allow_module_level=True)


@contextmanager
def live_server(rt: Runtime) -> Iterator[str]:
    """``steward server``'s app over ``rt`` on a free port; yields its URL."""
    with background_server(create_app(rt)) as url:
        yield url


@contextmanager
def chromium() -> Iterator[Any]:
    """Headless Chromium driven by Playwright (the machine's, not a downloaded one)."""
    from playwright.sync_api import sync_playwright

    with sync_playwright() as pw:
        browser = pw.chromium.launch(
            executable_path=CHROMIUM, args=["--no-sandbox", "--headless=new"], headless=True
        )
        try:
            yield browser
        finally:
            browser.close()


def sign_in(browser: Any, url: str, token: str, user: str, **ctx: Any) -> Any:
    """A new browser context signed in through the login page; returns its page."""
    from playwright.sync_api import expect

    page = browser.new_context(**ctx).new_page()
    page.goto(f"{url}/ui/login")
    page.fill("#token", token)
    page.click("button[type=submit]")
    expect(page.locator("#whoami")).to_have_text(user)
    return page
