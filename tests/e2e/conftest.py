"""Headless Chromium (Debian's package, driven by Playwright) for the hosted page tests.

The browser may not reach the internet: requests to the test server go through, everything else is refused
(so the tests point successUrl and cancelUrl at the test server, see `pagekit.shop_urls`).
Screenshots go to test-artifacts/ (gitignored) at phone size.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

import pytest
from playwright.sync_api import Browser, ConsoleMessage, Dialog, Page, Request, Route, ViewportSize, sync_playwright

from support import LiveServer

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
    "--disable-quic",
]
ARTIFACTS = Path(__file__).resolve().parents[2] / "test-artifacts"
PHONE: ViewportSize = {"width": 390, "height": 844}


@pytest.fixture(scope="session")
def chromium() -> Iterator[Browser]:
    if not Path(CHROMIUM).exists():
        pytest.fail("Chromium is not installed: run scripts/ensure-test-services (`make test` does)")
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        try:
            yield browser
        finally:
            browser.close()


@dataclass
class Buyer:
    """A phone-sized browser tab with what it saw: dialogs, form posts, CSP refusals and script errors."""

    page: Page
    live: LiveServer
    dialogs: list[str] = field(default_factory=list)
    posts: list[str] = field(default_factory=list)
    console_errors: list[str] = field(default_factory=list)
    page_errors: list[str] = field(default_factory=list)

    def open(self, path: str) -> None:
        self.page.goto(self.live.base_url + path)

    def shot(self, name: str) -> None:
        ARTIFACTS.mkdir(exist_ok=True)
        self.page.screenshot(path=str(ARTIFACTS / f"{name}.png"), full_page=True)

    def assert_clean(self) -> None:
        """No alert fired, no script failed, nothing was refused by the Content-Security-Policy."""
        assert self.dialogs == []
        assert self.page_errors == []
        assert [e for e in self.console_errors if "Content Security Policy" in e or "Refused" in e] == []


@contextmanager
def open_buyer(chromium: Browser, live: LiveServer, *, javascript: bool = True) -> Iterator[Buyer]:
    context = chromium.new_context(viewport=PHONE, java_script_enabled=javascript, device_scale_factor=1)
    context.set_default_timeout(15_000)

    def route(route: Route) -> None:
        url = route.request.url
        if url.startswith(live.base_url):
            route.continue_()
        else:
            route.abort()

    context.route("**/*", route)
    page = context.new_page()
    buyer = Buyer(page=page, live=live)

    def on_dialog(dialog: Dialog) -> None:
        buyer.dialogs.append(dialog.message)
        dialog.dismiss()

    def on_console(message: ConsoleMessage) -> None:
        if message.type == "error":
            buyer.console_errors.append(message.text)

    def on_request(request: Request) -> None:
        if request.method == "POST":
            buyer.posts.append(request.url)

    page.on("dialog", on_dialog)
    page.on("console", on_console)
    page.on("request", on_request)
    page.on("pageerror", lambda error: buyer.page_errors.append(str(error)))
    try:
        yield buyer
    finally:
        context.close()


@pytest.fixture
def buyer(chromium: Browser, live: LiveServer) -> Iterator[Buyer]:
    with open_buyer(chromium, live) as b:
        yield b
        b.assert_clean()


@pytest.fixture
def buyer_without_js(chromium: Browser, live: LiveServer) -> Iterator[Buyer]:
    with open_buyer(chromium, live, javascript=False) as b:
        yield b
        b.assert_clean()
