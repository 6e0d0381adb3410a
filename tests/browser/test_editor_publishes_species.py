"""Issue 6, "Done when": an editor publishes a species page in the Wagtail admin, in a real browser.

Debian's `chromium` (apt package `chromium`; `/usr/bin/chromium`) driven by Playwright's Python
package, no browser download. Everything goes through the edge: the editor signs in at `/cms/` with
the platform account (the CMS checks the password with the auth service), creates a `PlantSpecies`
record (snippet), then a `SpeciesPage` bound to it with an overview and a care guide (watering and
light blocks), publishes it, and the page then shows in `/api/v2/pages/?type=species.SpeciesPage`
and in `/api/v1/search/`. A screenshot of every step is kept in `test-artifacts/` (repository root).

Run: `.venv/bin/python -m devstack run --profile e2e -- .venv/bin/python -m pytest tests/browser -q`
"""

from __future__ import annotations

import random
import re
import string
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--no-sandbox", "--headless=new", "--disable-gpu", "--disable-background-networking",
    "--disable-component-update", "--disable-sync", "--no-first-run",
]
ARTIFACTS = Path(__file__).resolve().parents[2] / "test-artifacts"
TIMEOUT_MS = 20_000

sync_api = pytest.importorskip("playwright.sync_api", reason="the `playwright` Python package is not installed (dev dependency group)")
expect = sync_api.expect

pytestmark = pytest.mark.skipif(
    not CHROMIUM.exists(),
    reason=f"{CHROMIUM} not found: install Debian's browser (`apt-get install -y --no-install-recommends chromium`); "
    "Playwright's own browser download is not used",
)


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    with sync_api.sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS, headless=True)
        try:
            yield browser
        finally:
            browser.close()


@pytest.fixture
def page(browser: Any, edge_url: str) -> Iterator[Any]:
    context = browser.new_context(base_url=edge_url, viewport={"width": 1400, "height": 1000}, locale="en-GB")
    context.set_default_timeout(TIMEOUT_MS)
    page = context.new_page()
    try:
        yield page
    finally:
        context.close()


@pytest.fixture
def shot(page: Any) -> Callable[[str], Path]:
    """`shot("login")` saves test-artifacts/species-NN-login.png (numbered in step order)."""
    ARTIFACTS.mkdir(exist_ok=True)
    counter = iter(range(1, 100))

    def take(step: str) -> Path:
        path = ARTIFACTS / f"species-{next(counter):02d}-{step}.png"
        page.screenshot(path=str(path), full_page=True)
        return path

    return take


def unique_name() -> tuple[str, str]:
    """A scientific name no other run or demo record has (genus first, as the model requires)."""
    epithet = "".join(random.choices(string.ascii_lowercase, k=8))
    return "Playwrightia", f"Playwrightia {epithet}"


def wait_for_json(edge: httpx.Client, url: str, found: Callable[[dict[str, Any]], Any], what: str) -> Any:
    """Poll `url` through the edge until `found(body)` is truthy (the API cache is purged on publish;
    a short poll only absorbs the purge racing the response)."""
    deadline = time.monotonic() + 15
    while True:
        response = edge.get(url)
        assert response.status_code == 200, f"{url}: {response.status_code} {response.text[:300]}"
        result = found(response.json())
        if result:
            return result
        if time.monotonic() > deadline:
            pytest.fail(f"{what} not found in {url}: {response.text[:1000]}")
        time.sleep(0.5)


def catalogue_parent(edge: httpx.Client) -> dict[str, Any]:
    """Where the new page goes: the first category page of the demo catalogue, else the catalogue."""
    for page_type in ("species.PlantCategoryPage", "species.PlantCatalogueIndexPage"):
        response = edge.get("/api/v2/pages/", params={"type": page_type, "limit": 1})
        assert response.status_code == 200, response.text[:300]
        if response.json()["items"]:
            return response.json()["items"][0]
    pytest.fail("no plant catalogue in the stack: is the demo content loaded?")


def test_editor_publishes_species_page(page: Any, shot: Callable[[str], Path], edge: httpx.Client, stack_env: Callable[[str], str]) -> None:
    email, password = stack_env("PLATFORM_DEMO_EDITOR_EMAIL"), stack_env("PLATFORM_DEMO_EDITOR_PASSWORD")
    genus, scientific_name = unique_name()
    common_name = f"Browser test {scientific_name.split()[1]}"
    title = f"{scientific_name} care"
    parent = catalogue_parent(edge)

    # 1. Sign in with the platform account (the form asks for the email).
    page.goto("/cms/login/")
    page.locator('input[name="username"]').fill(email)
    page.locator('input[name="password"]').fill(password)
    shot("login-form")
    page.locator('form button[type="submit"]').click()
    page.wait_for_url(re.compile(r"/cms/$"))
    expect(page.locator("#wagtail-sidebar, [data-side-panel], .sidebar").first).to_be_attached()
    expect(page.locator('input[name="password"]')).to_have_count(0)
    shot("dashboard")

    # 2. The species record (a snippet): a SpeciesPage is bound one-to-one to one.
    page.goto("/cms/snippets/species/plantspecies/add/")
    page.locator("#id_scientific_name").fill(scientific_name)
    page.locator("#id_family").fill("Testaceae")
    page.locator("#id_genus").fill(genus)
    page.locator("#id_common_names-ADD").click()
    page.locator("#id_common_names-0-name").fill(common_name)
    page.locator("#id_toxicity_pets").select_option("non_toxic")
    shot("species-record-form")
    page.get_by_role("button", name="Save", exact=True).click()
    page.wait_for_url(re.compile(r"/cms/snippets/species/plantspecies/(\?.*)?$"))
    saved = page.locator(".messages .success, .messages [class*=success]").first
    expect(saved).to_be_visible()
    expect(saved).to_contain_text(scientific_name)
    shot("species-record-saved")

    # 3. The species page under the catalogue: species chosen in the chooser modal, an overview, a care guide.
    page.goto(f"/cms/pages/add/species/speciespage/{parent['id']}/")
    page.locator("#id_title").fill(title)

    chooser = page.locator("#id_species-chooser")
    chooser.locator(".chooser__choose-button").click()
    modal = page.locator(".modal.fade.show, .modal[aria-hidden=false], .modal:visible").first
    search = modal.locator('input[name="q"]')
    expect(search).to_be_visible()
    search.fill(scientific_name)
    choice = modal.locator("a[data-chooser-modal-choice]", has_text=scientific_name)
    expect(choice).to_have_count(1)
    shot("species-chooser")
    choice.click()
    expect(chooser.locator("[data-chooser-title]")).to_have_text(scientific_name)
    expect(chooser).not_to_have_class(re.compile(r"\bblank\b"))

    overview = page.locator('[data-contentpath="overview"] [contenteditable="true"]')
    overview.click()
    overview.press_sequentially("A fictional aroid written by the browser test: bright light, little water.")
    expect(overview).to_contain_text("fictional aroid")

    care_guide = page.locator('[data-contentpath="care_guide"]')
    care_guide.locator("button.c-sf-add-button").last.click()
    page.get_by_role("option", name="Watering").click()
    page.locator('input[name="care_guide-0-value-summary"]').fill("Water when the top 3 cm of the mix are dry.")
    page.locator('input[name="care_guide-0-value-interval_days_growing"]').fill("7")
    page.locator('input[name="care_guide-0-value-interval_days_dormant"]').fill("14")
    care_guide.locator("button.c-sf-add-button").last.click()
    page.get_by_role("option", name="Light").click()
    page.locator('input[name="care_guide-1-value-summary"]').fill("Bright, indirect light; no midday sun.")
    page.locator('select[name="care_guide-1-value-level"]').select_option("bright_indirect")
    shot("species-page-form")

    # 4. Publish (the footer's "More actions" dropdown holds the Publish button).
    footer = page.locator("footer")
    publish = footer.locator('button[name="action-publish"]')
    if not publish.is_visible():
        footer.locator(".w-dropdown-button [data-w-dropdown-target='toggle'], .w-dropdown-button button[aria-haspopup], .w-dropdown-button .w-dropdown__toggle").first.click()
    expect(publish).to_be_visible()
    publish.click()
    page.wait_for_url(re.compile(rf"/cms/pages/{parent['id']}/(\?.*)?$"))
    success = page.locator(".messages .success, .messages [class*=success]").first
    expect(success).to_be_visible()
    expect(success).to_contain_text("published")
    shot("published")

    # 5. Through the edge: the pages API lists it with its species and care guide …
    def listed(body: dict[str, Any]) -> dict[str, Any] | None:
        return next((item for item in body["items"] if item["title"] == title), None)

    item = wait_for_json(edge, "/api/v2/pages/?type=species.SpeciesPage&fields=species,care_summary&limit=20&order=-id", listed, f"page {title!r}")
    assert item["species"]["scientific_name"] == scientific_name
    assert item["species"]["common_names"] == {"en": [common_name]}
    assert item["care_summary"]["watering"]["interval_days_growing"] == 7
    assert item["care_summary"]["light"]["level"] == "bright_indirect"
    detail = edge.get(f"/api/v2/pages/{item['id']}/")
    assert detail.status_code == 200 and detail.json()["meta"]["type"] == "species.SpeciesPage"

    # … and search finds it by its scientific name, by a typo of it and by its common name, with its page.
    for query in (scientific_name, scientific_name[:-1], common_name):
        def hit(body: dict[str, Any]) -> dict[str, Any] | None:
            return next((r for r in body["results"] if r["type"] == "species" and r["title"] == scientific_name), None)

        result = wait_for_json(edge, "/api/v1/search/?" + str(httpx.QueryParams({"q": query})), hit, f"species {scientific_name!r} for q={query!r}")
        assert result["page"] is not None and result["page"]["id"] == item["id"], result

    # The published page in the admin's explorer, for the record.
    page.goto(f"/cms/pages/{parent['id']}/")
    expect(page.get_by_role("link", name=title).first).to_be_visible()
    shot("in-explorer")
