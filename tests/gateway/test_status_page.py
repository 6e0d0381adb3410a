"""The admins' live status page in a real headless browser (Debian's chromium driven by Playwright),
through the edge: it shows a breaker opening when the stand-in's Plant.id goes down."""

from __future__ import annotations

import shutil
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

CHROMIUM = "/usr/bin/chromium"
ARTIFACTS = Path(__file__).resolve().parents[2] / "test-artifacts"
IDENTIFY = "/api/v1/plant-identification/identify/"
STATUS = "/api/v1/plant-identification/status/"


@pytest.fixture
def browser() -> Iterator[Any]:
    if not Path(CHROMIUM).exists() and not shutil.which("chromium"):
        pytest.skip("Debian's chromium is not installed (apt-get install chromium)")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        launched = playwright.chromium.launch(
            executable_path=CHROMIUM,
            args=["--no-sandbox", "--headless", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
                  "--disable-sync", "--no-first-run"],
        )  # fmt: skip
        try:
            yield launched
        finally:
            launched.close()


def test_the_status_page_shows_the_breaker_opening_when_the_engine_goes_down(
    browser: Any, edge: httpx.Client, edge_url: str, standin: Any, admin_token: str, fresh_token: str,
    new_photo: Callable[..., bytes], files: Callable[..., Any],
) -> None:  # fmt: skip
    member = {"Authorization": f"Bearer {fresh_token}"}
    page = browser.new_page(viewport={"width": 1100, "height": 800})
    problems: list[str] = []
    page.on("console", lambda message: problems.append(message.text) if message.type == "error" else None)
    page.on("pageerror", lambda error: problems.append(str(error)))

    page.goto(f"{edge_url}{STATUS}#access_token={admin_token}")
    page.wait_for_selector('#connection[data-state="live"]', timeout=15_000)
    page.wait_for_selector('#engine-plant_id[data-state="closed"]', timeout=15_000)
    assert "access_token" not in page.url  # the token left the address bar
    assert not page.is_visible("#login")

    standin.set("plant_id", "down")
    for _ in range(3):  # Plant.id's breaker opens after 3 consecutive failures
        assert edge.post(IDENTIFY, files=files(new_photo()), headers=member).status_code == 200

    page.wait_for_selector('#engine-plant_id[data-state="open"]', timeout=15_000)
    assert page.inner_text("#engine-plant_id .state").lower().startswith("open")
    assert page.inner_text("#engine-plantnet .state").lower() == "closed"
    assert page.locator("#queues tbody tr").count() == 4
    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / "status-page-breaker-open.png"), full_page=True)
    assert not [p for p in problems if "Content Security Policy" in p or "Refused" in p], problems


def test_the_status_page_refuses_a_members_token(browser: Any, edge_url: str, fresh_token: str) -> None:
    token = fresh_token
    page = browser.new_page()

    page.goto(f"{edge_url}{STATUS}#access_token={token}")

    page.wait_for_selector("#message:not([hidden])", timeout=15_000)
    assert "not an administrator" in page.inner_text("#message")
    assert page.is_visible("#login")
