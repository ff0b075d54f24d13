"""The dashboard in a real browser: Debian's Chromium driven by Playwright (never a browser
Playwright downloads). Set TOKENRANK_SCREENSHOTS=1 to refresh docs/screenshots/."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest
from django.conf import settings

from ingest.services import import_events
from rankings.models import LLMModel
from tests.factories import EventFactory

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
XSS_NAME = "<img src=x onerror=alert(1)>"

pytestmark = [
    pytest.mark.browser,
    pytest.mark.skipif(CHROMIUM is None, reason="Debian's chromium is not installed (make test installs it)"),
]


@pytest.fixture(scope="module")
def browser():
    from playwright.sync_api import sync_playwright

    # Playwright's sync API keeps an event loop in this thread; the test's own database
    # calls are still synchronous, so let Django allow them.
    os.environ["DJANGO_ALLOW_ASYNC_UNSAFE"] = "true"
    try:
        yield from _launch(sync_playwright)
    finally:
        del os.environ["DJANGO_ALLOW_ASYNC_UNSAFE"]


def _launch(sync_playwright):
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path=CHROMIUM,
            args=[
                "--headless",
                "--no-sandbox",
                "--disable-gpu",
                "--disable-background-networking",
                "--disable-component-update",
                "--no-first-run",
            ],
        )
        yield browser
        browser.close()


@pytest.fixture
def site(live_server):
    """A small dataset with several models and weeks, and an app with a hostile name."""
    from datetime import UTC, datetime, timedelta

    now = datetime.now(UTC)
    events = []
    for days_ago in range(0, 60, 3):
        at = (now - timedelta(days=days_ago, hours=1)).isoformat()
        for model in ("anthropic/claude-sonnet-4", "google/gemini-2.5-flash", "deepseek/deepseek-r1"):
            events += EventFactory.build_batch(2, created_at=at, model=model)
        events.append(EventFactory.build(created_at=at, origin="https://evil.example", app_name=XSS_NAME))
    import_events(events)
    return live_server.url


def open_page(browser, url: str, scheme: str = "light"):
    page = browser.new_page(viewport={"width": 1280, "height": 900}, color_scheme=scheme)
    errors: list[str] = []
    dialogs: list[str] = []
    page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
    page.on("pageerror", lambda e: errors.append(str(e)))
    page.on("dialog", lambda d: (dialogs.append(d.message), d.dismiss()))
    page.goto(url)
    page.wait_for_load_state("networkidle")
    return page, errors, dialogs


def test_home_draws_every_chart_and_switches_periods_in_place(browser, site):
    page, errors, dialogs = open_page(browser, site + "/")
    plots = page.locator(".plot")
    assert plots.count() == 3
    for i in range(plots.count()):
        plots.nth(i).locator("svg.main-svg").first.wait_for(timeout=10_000)
    page.evaluate("window.__marker = 'same page'")
    page.locator("#leaderboard a.tab", has_text="This month").click()
    page.locator("#leaderboard a.tab.active", has_text="This month").wait_for()
    assert page.evaluate("window.__marker") == "same page"  # swapped by htmx, not reloaded
    assert page.url.endswith("/?period=month")
    page.locator("#chart a.tab", has_text="Daily").click()
    page.locator("#chart a.tab.active", has_text="Daily").wait_for()
    page.locator("#chart .plot svg.main-svg").first.wait_for(timeout=10_000)  # redrawn after the swap
    assert errors == [] and dialogs == []
    page.close()


def test_hostile_app_name_is_text_and_fires_nothing(browser, site):
    page, errors, dialogs = open_page(browser, site + "/?app_period=month")
    assert page.get_by_text(XSS_NAME, exact=False).count() >= 1
    assert page.locator("img[src=x]").count() == 0
    page.wait_for_timeout(500)
    assert dialogs == [] and errors == []
    page.close()


def test_tabs_work_without_javascript(browser, site):
    context = browser.new_context(java_script_enabled=False)
    page = context.new_page()
    page.goto(site + "/")
    page.locator("#leaderboard a.tab", has_text="This year").click()
    page.wait_for_load_state()
    assert page.url.endswith("/?period=year")
    assert page.locator("#leaderboard a.tab.active").inner_text() == "This year"
    context.close()


@pytest.mark.parametrize("scheme", ["light", "dark"])
def test_model_page_and_screenshots(browser, site, scheme):
    if os.environ.get("TOKENRANK_SCREENSHOTS"):
        from django.core.management import call_command

        # The README pictures show the demo year (here only: with its thousands of apps
        # the other tests' hostile app would drop out of the top apps).
        call_command("simulate", "--quiet")
    model = LLMModel.objects.get(slug="anthropic/claude-sonnet-4")
    page, errors, _ = open_page(browser, site + model.get_absolute_url(), scheme)
    page.locator(".plot svg.main-svg").first.wait_for(timeout=10_000)
    assert errors == []
    if os.environ.get("TOKENRANK_SCREENSHOTS"):
        folder = Path(settings.BASE_DIR) / "docs" / "screenshots"
        folder.mkdir(parents=True, exist_ok=True)
        page.screenshot(path=str(folder / f"model-{scheme}.png"))
        home, _, _ = open_page(browser, site + "/", scheme)
        home.wait_for_timeout(1000)
        home.screenshot(path=str(folder / f"home-{scheme}.png"))
        home.close()
    page.close()
