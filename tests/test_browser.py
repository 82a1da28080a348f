"""The built site in a real browser: Debian's Chromium driven by Playwright, pages opened from file://.

Every page is checked for console errors, failed or network requests and dialogs (a planted payload
that ran would open one); the overview's charts must draw; navigation, search, keyboard shortcuts,
theme and filters must work. Screenshots of the key pages go to ``test-artifacts/``.

Without Chromium the tests skip, except under CI (``CI=true``), where a missing browser is a failure.
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest
from test_site import SESSION, site  # noqa: F401 - the session-scoped built site fixture

from ccsgen.site.urls import paths

pytestmark = pytest.mark.browser

ARTIFACTS = Path(__file__).resolve().parents[1] / "test-artifacts"
ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
        "--no-first-run", "--disable-sync", "--disable-extensions", "--disable-default-apps"]


def _chromium() -> str | None:
    found = shutil.which("chromium") or shutil.which("chromium-browser")
    if found:
        return found
    return "/usr/bin/chromium" if Path("/usr/bin/chromium").exists() else None


def _unavailable(reason: str):
    if os.environ.get("CI") == "true":
        pytest.fail(f"browser tests need Chromium under CI: {reason}")
    pytest.skip(reason)


@pytest.fixture(scope="module")
def browser():
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        _unavailable("python playwright is not installed (pip install -e '.[dev]')")
    exe = _chromium()
    if exe is None:
        _unavailable("Chromium not found: install Debian's `chromium` package")
    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=exe, args=ARGS, headless=True)
        yield b
        b.close()


class Watch:
    """What a page did that it should not: console errors, page errors, requests off file://, dialogs."""

    def __init__(self, page):
        self.problems: list[str] = []
        page.on("console", lambda m: self.problems.append(f"console {m.type}: {m.text}")
                if m.type in ("error", "warning") else None)
        page.on("pageerror", lambda e: self.problems.append(f"page error: {e}"))
        # ERR_ABORTED: a load cut short by the next navigation (the favicon, when pages follow each other fast)
        page.on("requestfailed", lambda r: None if r.failure == "net::ERR_ABORTED"
                else self.problems.append(f"request failed: {r.url} {r.failure}"))
        page.on("request", lambda r: None if r.url.startswith(("file://", "data:", "about:"))
                else self.problems.append(f"network request: {r.url}"))
        page.on("dialog", self._dialog)

    def _dialog(self, d) -> None:
        self.problems.append(f"dialog opened: {d.type} {d.message!r}")
        d.dismiss()

    def check(self) -> None:
        assert self.problems == []


@pytest.fixture
def page(browser):
    ctx = browser.new_context(viewport={"width": 1280, "height": 900}, color_scheme="light")
    pg = ctx.new_page()
    pg.watch = Watch(pg)
    yield pg
    ctx.close()


def url(site_dir: Path, rel: str, suffix: str = "") -> str:
    return (site_dir / rel).resolve().as_uri() + suffix


def shot(pg, name: str, full: bool = True) -> None:
    ARTIFACTS.mkdir(exist_ok=True)
    pg.screenshot(path=str(ARTIFACTS / f"{name}.png"), full_page=full)


def test_every_page_opens_cleanly(site, page):  # noqa: F811
    pages = sorted(site.rglob("*.html"))
    assert len(pages) > 15
    for p in pages:
        page.goto(p.resolve().as_uri())
        assert page.locator("main").count() == 1, p
    page.watch.check()


def test_overview_draws_its_charts(site, page):  # noqa: F811
    page.goto(url(site, paths.overview))
    charts = page.locator("svg.chart-svg")
    assert charts.count() >= 2
    for i in range(charts.count()):
        box = charts.nth(i).bounding_box()
        assert box and box["width"] > 200 and box["height"] > 80
        assert charts.nth(i).locator("rect").count() > 0
    assert page.locator(".heatmap rect").count() >= 7 * 24
    shot(page, "overview-light")
    page.watch.check()


def test_navigate_overview_to_a_session_and_back(site, page):  # noqa: F811
    page.goto(url(site, paths.overview))
    link = page.locator("#recent-sessions tbody a", has_text="ZZTITLEZZ").first
    link.click()
    page.wait_for_load_state()
    assert page.url.endswith(paths.session(SESSION))
    assert page.locator("#transcript article.msg").count() > 5
    assert page.locator("#transcript").get_by_text("ZZANSWERZZ", exact=False).count() == 1
    shot(page, "session-light")
    page.go_back()
    page.wait_for_load_state()
    assert page.url.endswith("/index.html") and page.locator("#recent-sessions").count() == 1
    page.watch.check()


def test_search_page_loads(site, page):  # noqa: F811
    page.goto(url(site, paths.find, "?q=ZZANSWERZZ"))
    assert page.locator("#search-q").count() == 1
    assert page.locator("#search-q").input_value() == "ZZANSWERZZ"
    page.wait_for_timeout(300)
    shot(page, "search")
    page.watch.check()


def test_topbar_search_goes_to_the_search_page(site, page):  # noqa: F811
    page.goto(url(site, paths.usage))
    page.keyboard.press("/")
    assert page.evaluate("document.activeElement.id") == "topsearch-q"
    page.keyboard.type("hello")
    with page.expect_navigation():
        page.keyboard.press("Enter")
    assert "/find/index.html" in page.url and "q=hello" in page.url
    page.watch.check()


def test_keyboard_help_is_an_overlay_not_a_dialog(site, page):  # noqa: F811
    page.goto(url(site, paths.session(SESSION)))
    help_ = page.locator("#help")
    assert help_.is_hidden()
    page.keyboard.press("?")
    assert help_.is_visible()
    page.keyboard.press("Escape")
    assert help_.is_hidden()
    page.keyboard.press("j")
    page.keyboard.press("j")
    current = page.locator("#transcript > .kb-current")
    assert current.count() == 1
    first_id = current.get_attribute("id")
    page.keyboard.press("k")
    assert page.locator("#transcript > .kb-current").get_attribute("id") != first_id
    page.watch.check()


def test_noise_toggle_and_tool_expansion(site, page):  # noqa: F811
    page.goto(url(site, paths.session(SESSION)))
    meta = page.locator(".marker.meta", has_text="ZZMETAZZ")
    assert meta.is_hidden()
    page.locator("#show-noise").check()
    assert meta.is_visible()
    page.locator("#show-noise").uncheck()
    assert meta.is_hidden()
    bash_out = page.locator("details.k-bash", has_text="ZZCMDZZ").locator(".tool-body")
    assert bash_out.is_hidden()
    page.locator("[data-expand-tools]").click()
    assert bash_out.is_visible() and "ZZBASHOUTZZ" in bash_out.inner_text()
    page.watch.check()


def test_deep_link_opens_the_message(site, page):  # noqa: F811
    page.goto(url(site, paths.session(SESSION)))
    anchor = page.locator(".marker.meta", has_text="ZZMETAZZ").get_attribute("id")
    page.goto(url(site, paths.session(SESSION), f"#{anchor}"))
    assert page.locator(f"[id='{anchor}']").is_visible()  # noise revealed for a link that points at it
    page.watch.check()


def test_theme_toggle_works_from_file_urls(site, browser):  # noqa: F811
    ctx = browser.new_context(viewport={"width": 1280, "height": 900}, color_scheme="dark")
    pg = ctx.new_page()
    watch = Watch(pg)
    pg.goto(url(site, paths.overview))
    bg_dark = pg.evaluate("getComputedStyle(document.body).backgroundColor")
    shot(pg, "overview-dark")
    pg.locator("[data-theme-toggle]").click()
    assert pg.evaluate("document.documentElement.getAttribute('data-theme')") == "light"
    assert pg.evaluate("getComputedStyle(document.body).backgroundColor") != bg_dark
    pg.goto(url(site, paths.usage))
    shot(pg, "usage-light")
    pg.locator("[data-theme-toggle]").click()
    pg.goto(url(site, paths.session(SESSION)))
    shot(pg, "session-dark", full=False)
    watch.check()
    ctx.close()


def test_tables_sort_and_filter(site, page):  # noqa: F811
    page.goto(url(site, paths.sessions))
    rows = page.locator("#sessions-table tbody tr")
    assert rows.count() == 2
    page.locator("#sessions-table th", has_text="Cost").locator("button").click()
    costs = [float(v) for v in rows.evaluate_all("rs => rs.map(r => r.cells[7].dataset.v)")]
    assert costs == sorted(costs, reverse=True)
    page.locator("#sessions-table th", has_text="Cost").locator("button").click()
    costs = [float(v) for v in rows.evaluate_all("rs => rs.map(r => r.cells[7].dataset.v)")]
    assert costs == sorted(costs)
    page.locator("input[data-filter='#sessions-table']").fill("ZZTITLEZZ")
    assert page.locator("#sessions-table tbody tr:visible").count() == 1
    page.locator("input[data-filter='#sessions-table']").fill("")
    page.locator("select[data-filter-attr='project']").select_option("-home-user-other")
    assert page.locator("#sessions-table tbody tr:visible").count() == 1
    page.watch.check()


def test_usage_tabs(site, page):  # noqa: F811
    page.goto(url(site, paths.usage))
    assert page.locator("#daily").is_visible() and page.locator("#monthly").is_hidden()
    page.locator("a[data-tab='monthly']").click()
    assert page.locator("#monthly").is_visible() and page.locator("#daily").is_hidden()
    page.watch.check()


def test_phone_layout_does_not_scroll_sideways(site, browser):  # noqa: F811
    ctx = browser.new_context(viewport={"width": 390, "height": 844}, device_scale_factor=2, is_mobile=True,
                              has_touch=True)
    pg = ctx.new_page()
    watch = Watch(pg)
    for rel in (paths.overview, paths.session(SESSION), paths.sessions):
        pg.goto(url(site, rel))
        overflow = pg.evaluate("document.documentElement.scrollWidth - window.innerWidth")
        assert overflow <= 1, f"{rel} is {overflow}px too wide"
    pg.goto(url(site, paths.overview))
    shot(pg, "overview-phone", full=False)
    watch.check()
    ctx.close()
