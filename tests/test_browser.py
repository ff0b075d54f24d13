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
from rankings.views import HOME_FIRST, HOME_TITLES
from tests.conftest import wait_for
from tests.factories import EventFactory

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
XSS_NAME = "<img src=x onerror=alert(1)>"
XSS_NAME_2 = '"><svg onload=alert(2)>'

pytestmark = [
    pytest.mark.browser,
    pytest.mark.usefixtures("known_clock"),  # pages read "so far" at one known moment
    # Never skipped silently: only an explicit opt-out skips them on a machine without Chromium.
    pytest.mark.skipif(
        CHROMIUM is None and os.environ.get("TOKENRANK_SKIP_BROWSER_TESTS") == "1",
        reason="TOKENRANK_SKIP_BROWSER_TESTS=1 and no chromium on this machine",
    ),
]


@pytest.fixture(scope="module")
def browser():
    from playwright.sync_api import sync_playwright

    if CHROMIUM is None:
        pytest.fail("Debian's chromium is not installed (make test installs it; TOKENRANK_SKIP_BROWSER_TESTS=1 opts out)")

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
        events.append(EventFactory.build(created_at=at, origin="https://evil2.example", app_name=XSS_NAME_2))
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


@pytest.fixture
def scriptless_page(browser):
    """A page of a browser context that runs no scripts."""
    context = browser.new_context(java_script_enabled=False)
    yield context.new_page()
    context.close()


def reveal(page, sections) -> None:
    """Scroll each home section into view and wait until its fragment replaced the placeholder."""
    for section in sections:
        # Scrolled from the page's own script: the placeholder may be swapped for its fragment
        # while it scrolls (it loads once revealed), which detaches a handle Playwright holds.
        page.evaluate("id => document.getElementById(id).scrollIntoView()", section)
        page.locator(f"#{section}:not(.deferred)").wait_for(timeout=10_000)


def test_home_draws_every_chart_and_switches_periods_in_place(browser, site):
    page, errors, dialogs = open_page(browser, site + "/")
    assert page.locator(".plot").count() == 1  # the first sections come with the page
    assert page.locator("section.deferred").count() == len(HOME_TITLES) - len(HOME_FIRST)
    reveal(page, [name for name in HOME_TITLES if name not in HOME_FIRST])
    plots = page.locator(".plot")
    # top models, author share, category; languages, context length, a tag, sessions per turns
    assert plots.count() == 7
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


def test_sections_loaded_later_follow_a_tab_switched_in_place(browser, site):
    page, errors, _ = open_page(browser, site + "/")
    page.locator("#leaderboard a.tab", has_text="This month").click()
    page.locator("#leaderboard a.tab.active", has_text="This month").wait_for()
    reveal(page, ["authors", "categories", "apps", "tools"])
    assert page.locator("#tools a.tab.active").first.inner_text() == "This month"
    assert errors == []
    page.close()


def test_a_section_that_fails_to_load_says_so_and_retries(browser, site):
    page, errors, _ = open_page(browser, site + "/")
    page.route("**/*section=tools*", lambda route: route.fulfill(status=500, body="boom"))
    reveal(page, ["authors", "categories", "apps"])
    page.locator("#tools").scroll_into_view_if_needed()
    page.get_by_text("This section could not be loaded.").wait_for(timeout=10_000)
    assert page.locator("#tools").get_attribute("aria-busy") == "false"
    page.unroute("**/*section=tools*")
    page.locator("#tools button.retry").click()
    page.locator("#tools:not(.deferred)").wait_for(timeout=10_000)
    assert "Top models by tool calls" in page.locator("#tools").inner_text()
    assert [e for e in errors if "500" not in e] == []  # the browser logs the failed fetch
    page.close()


def test_hostile_app_name_is_text_and_fires_nothing(browser, site):
    page, errors, dialogs = open_page(browser, site + "/?app_period=month")
    reveal(page, ["authors", "categories", "apps"])
    assert page.get_by_text(XSS_NAME, exact=False).count() >= 1
    assert page.locator("img[src=x]").count() == 0
    page.wait_for_timeout(500)
    assert dialogs == [] and errors == []
    page.close()


def test_tabs_work_without_javascript(scriptless_page, site):
    page = scriptless_page
    page.goto(site + "/")
    page.locator("#leaderboard a.tab", has_text="This year").click()
    page.wait_for_load_state()
    assert page.url.endswith("/?period=year")
    assert page.locator("#leaderboard a.tab.active").inner_text() == "This year"


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
        home, _, _ = open_page(browser, site + "/?sections=all", scheme)
        home.wait_for_timeout(1000)
        home.screenshot(path=str(folder / f"home-{scheme}.png"))
        home.close()
    page.close()


NARROW_SECTIONS = ("tools", "languages", "context", "tags", "sessions")


def test_the_2026_sections_draw_and_their_tabs_swap_in_place(browser, site):
    page, errors, dialogs = open_page(browser, site + "/?period=month")
    reveal(page, ["authors", "categories", "apps", *NARROW_SECTIONS])
    for section in ("languages", "context", "tags", "sessions"):
        page.locator(f"#{section} .plot svg.main-svg").first.wait_for(timeout=10_000)
    page.evaluate("window.__marker = 'same page'")
    page.locator("#languages a.tab", has_text="Natural").click()
    page.locator("#languages a.tab.active", has_text="Natural").wait_for()
    page.locator("#languages .plot svg.main-svg").first.wait_for(timeout=10_000)
    assert "zh-hans" in page.locator("#languages").inner_text()
    page.locator("#sessions a.tab", has_text="2–9 turns").click()
    page.locator("#sessions a.tab.active", has_text="2–9 turns").wait_for()
    assert page.evaluate("window.__marker") == "same page"
    assert "turns=2" in page.url  # pushed: the switched page is a link
    assert errors == [] and dialogs == []
    page.close()


SCREENSHOTS = pytest.mark.skipif(not os.environ.get("TOKENRANK_SCREENSHOTS"), reason="set TOKENRANK_SCREENSHOTS=1")


def in_each_scheme(browser, url: str):
    """The page at ``url`` in the light, then the dark color scheme (with the scheme's name),
    checked for script errors and closed once used."""
    for scheme in ("light", "dark"):
        page, errors, _ = open_page(browser, url, scheme)
        yield page, scheme
        assert errors == []
        page.close()


def demo_screenshots() -> Path:
    """The simulated demo year loaded (what the README pictures show); their folder."""
    from django.core.management import call_command

    call_command("simulate", "--quiet")
    return Path(settings.BASE_DIR) / "docs" / "screenshots"


@SCREENSHOTS
def test_screenshots_of_the_2026_sections(browser, site):
    folder = demo_screenshots()
    for page, scheme in in_each_scheme(browser, site + "/?period=month"):
        reveal(page, ["authors", "categories", "apps", *NARROW_SECTIONS])
        for section in NARROW_SECTIONS:
            element = page.locator(f"#{section}")
            if section != "tools":
                element.locator(".plot svg.main-svg").first.wait_for(timeout=10_000)
            page.wait_for_timeout(300)
            element.screenshot(path=str(folder / f"section-{section}-{scheme}.png"))
        model, errors, _ = open_page(browser, site + "/models/anthropic/claude-sonnet-4/?period=month", scheme)
        model.locator("#context .plot svg.main-svg").first.wait_for(timeout=10_000)
        model.wait_for_timeout(300)
        for section in ("tools", "context", "tags", "sessions"):
            model.locator(f"#{section}").screenshot(path=str(folder / f"model-{section}-{scheme}.png"))
        assert errors == []
        model.close()


@pytest.mark.parametrize("url", ["/growth/", "/embed/growth/seven/?theme=dark"])
def test_growth_page_and_its_embed_draw_the_seven_drivers_without_a_toolbar(browser, site, url):
    page, errors, dialogs = open_page(browser, site + url)
    drivers = page.locator("#growth-seven li.driver")
    assert drivers.count() == 7
    for i in range(7):
        drivers.nth(i).locator(".plot svg.main-svg").first.wait_for(timeout=10_000)
    page.locator("#growth-seven .plot").first.hover()
    assert page.locator(".modebar").count() == 0  # no toolbar over any plot
    # Labelled values on the bars and titled axes.
    assert drivers.first.locator("text.bartext").count() == 2
    assert drivers.first.locator("text.ytitle").text_content() == "Models per app"
    if url == "/growth/":
        assert page.locator("#growth-waterfall text.ytitle").count() == 1
    assert errors == [] and dialogs == []
    page.close()


def test_the_zone_selector_loads_the_page_in_that_zone(browser, site):
    page, errors, dialogs = open_page(browser, site + "/?metric=requests")
    page.locator("#chart .plot svg.main-svg").first.wait_for(timeout=10_000)
    page.select_option("select#tz", "Asia/Kathmandu")
    page.wait_for_url("**tz=Asia%2FKathmandu**")
    assert "metric=requests" in page.url  # the other switches are kept
    assert page.locator("select#tz").input_value() == "Asia/Kathmandu"
    page.locator("#chart .plot svg.main-svg").first.wait_for(timeout=10_000)
    assert page.locator("#chart .annotation-text", has_text="so far").count() == 1  # the current week
    page.locator("#leaderboard a.tab", has_text="Today").click()
    page.locator("#leaderboard a.tab.active", has_text="Today").wait_for()
    assert "tz=Asia%2FKathmandu" in page.url  # and the zone stays as the tabs switch
    assert errors == [] and dialogs == []
    page.close()


def test_a_zone_picked_follows_the_visitor_and_the_sites_zone_leaves_the_url(browser, site):
    """Picked on the home page, the zone stays through an entity link, the header's navigation
    and its search suggestions (an htmx request); picking the site's zone gives a clean URL."""
    page, errors, dialogs = open_page(browser, site + "/")
    page.select_option("select#tz", "Asia/Kolkata")
    page.wait_for_url("**tz=Asia%2FKolkata**")
    page.locator("#leaderboard-rows a", has_text="Claude").first.click()
    page.wait_for_url("**/models/anthropic/**")
    assert "tz=Asia%2FKolkata" in page.url
    assert page.locator("select#tz").input_value() == "Asia/Kolkata"
    page.locator("nav[aria-label=Main] a", has_text="Models").click()
    page.wait_for_url("**/models/?tz=Asia%2FKolkata")
    page.locator("#site-q").fill("gemini")
    suggestion = page.locator("#site-suggest a", has_text="Gemini").first
    suggestion.wait_for(timeout=10_000)
    assert "tz=Asia%2FKolkata" in suggestion.get_attribute("href")
    page.locator("a.brand").click()
    page.wait_for_url("**/?tz=Asia%2FKolkata")
    page.select_option("select#tz", label="UTC")
    page.wait_for_url(lambda url: url.rstrip("/") == site)
    assert page.locator("select#tz").input_value() == ""  # the site's zone
    assert errors == [] and dialogs == []
    page.close()


@SCREENSHOTS
def test_screenshots_of_the_seven_drivers(browser, site):
    folder = demo_screenshots()
    for page, scheme in in_each_scheme(browser, site + "/growth/?period=month"):
        panel = page.locator("#growth-seven")
        panel.locator("li.driver").last.locator(".plot svg.main-svg").first.wait_for(timeout=10_000)
        page.wait_for_timeout(300)
        panel.screenshot(path=str(folder / f"growth-drivers-{scheme}.png"))


@SCREENSHOTS
def test_screenshots_of_the_partial_bucket_and_the_zone_selector(browser, site):
    folder = demo_screenshots()
    for page, scheme in in_each_scheme(browser, site + "/?tz=Asia/Kolkata&interval=day"):
        page.locator("#chart .plot svg.main-svg").first.wait_for(timeout=10_000)
        page.wait_for_timeout(500)
        page.locator("#chart").screenshot(path=str(folder / f"time-partial-bucket-{scheme}.png"))
        page.locator(".page-head").screenshot(path=str(folder / f"time-zone-selector-{scheme}.png"))


# --- Index pages, search, share, embeds, phones and accessibility ------------------------

INDEX_PAGES = ["/models/", "/apps/", "/authors/", "/providers/", "/categories/"]


def index_rows(page) -> list[str]:
    return page.locator("#index-results tbody tr").all_inner_texts()


def test_index_search_and_filters_swap_results_in_place(browser, site):
    page, errors, dialogs = open_page(browser, site + "/models/")
    page.evaluate("window.__marker = 'same page'")
    page.fill("#index-q", "gemini 2.5")
    wait_for(lambda: 0 < len(index_rows(page)) < 10, 10)
    rows = index_rows(page)
    assert rows and all("Gemini 2.5" in r for r in rows)
    assert page.url.endswith("/models/?q=gemini%202.5")  # only what differs from the defaults
    page.fill("#index-q", "")
    page.select_option("#f-author", "deepseek")
    page.wait_for_url("**author=deepseek**")
    wait_for(lambda: all("DeepSeek" in r for r in index_rows(page)), 10)
    page.locator("label.tab", has_text="Requests").click()
    page.wait_for_url("**metric=requests**")
    page.locator("#index-results th", has_text="Requests").first.wait_for()
    page.check("#f-reasoning")
    page.wait_for_url("**reasoning=1**")
    assert page.evaluate("window.__marker") == "same page"  # every change was an htmx swap
    assert errors == [] and dialogs == []
    page.close()


def test_index_form_works_without_javascript(scriptless_page, site):
    page = scriptless_page
    page.goto(site + "/apps/")
    page.fill("#index-q", "evil")
    page.press("#index-q", "Enter")
    page.wait_for_url("**q=evil**")
    rows = page.locator("#index-results tbody tr").all_inner_texts()
    assert len(rows) == 2 and any(XSS_NAME in r for r in rows)


def test_header_search_suggests_and_hostile_names_stay_text(browser, site):
    page, errors, dialogs = open_page(browser, site + "/")
    page.fill("#site-q", "evil")
    page.locator("#site-suggest a", has_text=XSS_NAME_2).wait_for()
    assert page.locator("#site-suggest svg").count() == 0
    page.press("#site-q", "Enter")
    page.wait_for_url("**/search/?q=evil")
    assert page.get_by_text(XSS_NAME).count() >= 1 and page.get_by_text(XSS_NAME_2).count() >= 1
    for url in ("/apps/", "/apps/?q=evil", "/search/?q=svg"):
        other, more_errors, more_dialogs = open_page(browser, site + url)
        assert other.locator("img[src=x]").count() == 0 and other.locator("svg[onload]").count() == 0
        other.wait_for_timeout(300)
        assert more_errors == [] and more_dialogs == []
        other.close()
    page.wait_for_timeout(300)
    assert errors == [] and dialogs == []
    page.close()


def test_copy_link_and_embed_code(browser, site):
    context = browser.new_context(viewport={"width": 1280, "height": 900})
    context.grant_permissions(["clipboard-read", "clipboard-write"], origin=site)
    page = context.new_page()
    page.goto(site + "/?period=month")
    page.wait_for_load_state("networkidle")
    page.locator("#leaderboard [data-copy-link]").click()
    page.locator("#leaderboard [data-copy-link][data-copied]").wait_for()
    assert page.evaluate("navigator.clipboard.readText()") == site + "/?period=month#leaderboard"
    reveal(page, ["authors"])
    page.locator("#authors [data-embed]").click()
    dialog = page.locator("#embed-dialog")
    dialog.wait_for(state="visible")
    code = page.input_value("#embed-code")
    assert code.startswith(f'<iframe src="{site}/embed/authors/?period=month"') and "title=" in code
    dialog.locator("label.tab", has_text="Dark").click()
    dialog.locator("label.tab", has_text="Compact").click()
    code = page.input_value("#embed-code")
    assert "theme=dark" in code and "compact=1" in code
    dialog.locator("[data-copy-target]").click()
    wait_for(lambda: page.evaluate("navigator.clipboard.readText()").startswith("<iframe"), 10)
    dialog.locator("button", has_text="Close").click()
    dialog.wait_for(state="hidden")
    context.close()


@pytest.fixture
def other_origin(site):
    """A page on a second local port (another origin) that frames an embed and a normal page."""
    import http.server
    import threading

    html = (
        f"<!doctype html><title>Wiki</title><h1>Our wiki</h1>"
        f'<iframe id="embed" src="{site}/embed/leaderboard/?theme=dark" width="900" height="600"></iframe>'
        f'<iframe id="page" src="{site}/" width="900" height="300"></iframe>'
    ).encode()

    class Handler(http.server.BaseHTTPRequestHandler):
        def do_GET(self):  # noqa: N802 (the http.server API)
            self.send_response(200)
            self.send_header("Content-Type", "text/html; charset=utf-8")
            self.end_headers()
            self.wfile.write(html)

        def log_message(self, *args):
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_port}/"
    server.shutdown()
    server.server_close()


def test_embed_inside_an_iframe_on_another_origin(browser, site, other_origin):
    page, errors, dialogs = open_page(browser, other_origin)
    embed = page.frame_locator("#embed")
    embed.locator("#leaderboard tbody tr").first.wait_for()
    assert "Claude Sonnet 4" in embed.locator("#leaderboard").inner_text()
    assert embed.locator("html[data-theme=dark]").count() == 1
    embed.locator("#leaderboard a.tab", has_text="This month").click()
    embed.locator("#leaderboard a.tab.active", has_text="This month").wait_for()
    assert page.url == other_origin  # the swap stayed inside the frame
    # Every other page refuses to be framed (frame-ancestors 'none').
    page.wait_for_timeout(500)
    framed = next(f for f in page.frames if f.name == "" and f != page.main_frame and "embed" not in f.url)
    assert framed.locator("#leaderboard").count() == 0
    assert any("frame-ancestors" in e or "Refused" in e for e in errors)
    assert dialogs == []
    page.close()


PHONE_PAGES = ["/", "/growth/", "/models/anthropic/claude-sonnet-4/", "/search/?q=a", "/nowhere/", *INDEX_PAGES]


@pytest.mark.parametrize("url", PHONE_PAGES)
def test_every_page_fits_a_phone(browser, site, url):
    page = browser.new_page(viewport={"width": 390, "height": 844}, is_mobile=True, has_touch=True)
    page.goto(site + url)
    page.wait_for_load_state("networkidle")
    page.wait_for_timeout(300)
    width = page.evaluate("document.documentElement.scrollWidth")
    assert width <= 390, f"{url} is {width}px wide on a 390px phone"
    page.close()


A11Y_PAGES = [
    "/",
    "/growth/",
    "/models/anthropic/claude-sonnet-4/",
    "/search/?q=gemini",
    "/nowhere/",
    "/embed/chart/",
    "/embed/models/google/gemini-2.5-flash/?theme=dark",
    "/embed/growth/seven/",
    *INDEX_PAGES,
]
A11Y_DARK = ["/", "/models/", "/nowhere/"]


@pytest.mark.parametrize(
    ("url", "scheme"), [(u, "light") for u in A11Y_PAGES] + [(u, "dark") for u in A11Y_DARK]
)
def test_pages_pass_axe_core_without_serious_violations(browser, site, url, scheme):
    """axe-core from the axe-playwright-python package (installed with the test
    dependencies; nothing downloaded at run time)."""
    from axe_playwright_python.base import AXE_FILE_PATH

    context = browser.new_context(bypass_csp=True, color_scheme=scheme)  # bypass: to inject axe
    page = context.new_page()
    page.goto(site + url)
    page.wait_for_load_state("networkidle")
    page.add_script_tag(path=str(AXE_FILE_PATH))
    results = page.evaluate("axe.run(document, {resultTypes: ['violations']})")
    serious = [
        f"{v['id']} ({v['impact']}): {v['help']} — {[n['target'] for n in v['nodes']][:3]}"
        for v in results["violations"]
        if v["impact"] in ("serious", "critical")
    ]
    assert serious == [], "\n".join(serious)
    context.close()


@SCREENSHOTS
def test_screenshots_of_index_error_and_embed_pages(browser, site, other_origin):
    from django.core.management import call_command

    call_command("simulate", "--quiet")
    folder = Path(settings.BASE_DIR) / "docs" / "screenshots"
    shots = [(f"index-{u.strip('/')}", u, 1280) for u in INDEX_PAGES]
    shots += [("error-404", "/nowhere/", 1280), ("models-phone", "/models/", 390), ("home-phone", "/", 390)]
    for name, url, width in shots:
        page = browser.new_page(viewport={"width": width, "height": 900 if width > 390 else 1400})
        page.goto(site + url)
        page.wait_for_load_state("networkidle")
        page.wait_for_timeout(500)
        page.screenshot(path=str(folder / f"{name}.png"))
        page.close()
    page = browser.new_page(viewport={"width": 1000, "height": 950})
    page.goto(other_origin)
    page.frame_locator("#embed").locator(".plot, #leaderboard tbody tr").first.wait_for()
    page.wait_for_timeout(800)
    page.screenshot(path=str(folder / "embed-iframe.png"))
    page.close()


def test_multi_series_growth_charts_name_their_series_on_desktop_cards(browser, site):
    page, errors, _ = open_page(browser, site + "/growth/")
    for chart in ("mix", "shares", "price"):
        card = page.locator(f"#growth-{chart}")
        card.scroll_into_view_if_needed()
        card.locator(".plot svg.main-svg").first.wait_for(timeout=10_000)
        assert card.locator(".plot").bounding_box()["width"] < 480  # a card of the 3-column layout
        assert card.locator("g.legend g.traces").count() >= 2, chart
    assert errors == []
    page.close()
    phone = browser.new_page(viewport={"width": 390, "height": 844}, is_mobile=True, has_touch=True)
    phone.goto(site + "/growth/")
    phone.wait_for_load_state("networkidle")
    phone.locator("#growth-shares .plot svg.main-svg").first.wait_for(timeout=10_000)
    assert phone.locator("#growth-shares g.legend").count() == 0  # the data table names them
    phone.close()
