"""The site served by ``ccsgen serve``, in a real browser: the live pages (Q&A, tags, bookmarks, a session's
star and tags) call the API of the same origin and show what it answers.

Same rules as test_browser.py (Debian's Chromium through Playwright; a skip locally without it, a failure
under CI): no console errors, no dialogs, and no request that leaves the server's own origin.
"""

from __future__ import annotations

import json
import threading
import urllib.request

import pytest
from test_browser import ARTIFACTS, browser  # noqa: F401 - the module-scoped Chromium fixture
from test_site import SESSION, write_site_corpus

from ccsgen.catalog import Catalog
from ccsgen.config import Config
from ccsgen.server import Settings
from ccsgen.server.serve import Server
from ccsgen.site import build as site_build
from ccsgen.site.urls import paths

pytestmark = pytest.mark.browser


@pytest.fixture(scope="module")
def served(tmp_path_factory):
    """The fixture corpus, indexed, built into a site and served with the API: (base url, site dir)."""
    base = tmp_path_factory.mktemp("served")
    claude = write_site_corpus(base)
    cat = Catalog.open(Config(claude_dirs=(claude,), cache_dir=base / "cache", data_dir=base / "data",
                              prices_file=None))
    cat.reindex(full=True)
    out = base / "site"
    site_build.build_site(cat, out)
    srv = Server(cat, Settings(host="127.0.0.1", port=0, out_dir=out))
    t = threading.Thread(target=srv.run, daemon=True)
    t.start()
    yield f"http://127.0.0.1:{srv.port}", out
    srv.close()
    t.join(timeout=5)


def api(base: str, path: str):
    with urllib.request.urlopen(base + path, timeout=10) as r:
        return json.loads(r.read())


class Watch:
    """Console errors, page errors, dialogs, and any request off the server's origin."""

    def __init__(self, page, origin: str):
        self.problems: list[str] = []
        page.on("console", lambda m: self.problems.append(f"console {m.type}: {m.text}")
                if m.type in ("error", "warning") else None)
        page.on("pageerror", lambda e: self.problems.append(f"page error: {e}"))
        page.on("request", lambda r: None if r.url.startswith((origin + "/", "data:", "about:"))
                else self.problems.append(f"request off the origin: {r.url}"))
        page.on("dialog", self._dialog)

    def _dialog(self, d) -> None:
        self.problems.append(f"dialog opened: {d.type} {d.message!r}")
        d.dismiss()


@pytest.fixture
def page(browser, served):  # noqa: F811
    ctx = browser.new_context(viewport={"width": 1280, "height": 900})
    pg = ctx.new_page()
    pg.watch = Watch(pg, served[0])
    yield pg
    assert pg.watch.problems == []
    ctx.close()


def test_qa_page_lists_what_the_api_answers(served, page):
    base, _ = served
    want = api(base, "/api/qa?per_page=20")
    assert want["results"], "the fixture corpus has questions"
    page.goto(f"{base}/{paths.qa}")
    page.wait_for_selector("#live-root .live-list")
    assert page.inner_text("#live-root p.muted") == f"{want['total']} questions"
    shown = page.locator("#live-root .qa-q").all_inner_texts()
    assert shown == [q["question_text"] for q in want["results"]]
    assert page.locator("[data-live-notice]").is_hidden()


def test_tags_page_draws_the_cloud_and_browses_a_tag(served, page):
    base, _ = served
    want = api(base, "/api/tags")
    assert want["tags"], "the fixture corpus has auto tags"
    page.goto(f"{base}/{paths.tags}")
    page.wait_for_selector("#live-root .tag-cloud")
    assert page.locator("#live-root .tag-cloud .tag").count() == len(want["tags"])
    first = want["tags"][0]["name"]
    sessions = api(base, "/api/tags/browse/" + urllib.request.quote(first, safe=""))["sessions"]
    page.locator("#live-root .tag-cloud .tag").first.click()
    page.wait_for_selector("#live-root .tag-sessions h2")
    assert page.locator("#live-root .tag-sessions li").count() == len(sessions)


def test_star_a_session_then_find_it_on_the_bookmarks_page(served, page):
    base, _ = served
    page.goto(f"{base}/{paths.session(SESSION)}")
    star = page.locator("[data-bookmark] button.star")
    star.wait_for()
    assert star.get_attribute("aria-pressed") == "false"
    star.click()
    page.wait_for_function("document.querySelector('[data-bookmark] button.star').textContent.includes('★')")
    saved = api(base, f"/api/bookmarks/session/{SESSION}")["bookmarks"]
    assert len(saved) == 1 and saved[0]["message_index"] is None

    page.goto(f"{base}/{paths.bookmarks}")
    page.wait_for_selector("#live-root .bookmark")
    card = page.locator("#live-root .bookmark a.bm-title")
    assert card.inner_text() == saved[0]["title"] and card.inner_text()
    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / "live-bookmarks.png"), full_page=True)

    card.click()  # back on the session: the star remembers, and a second click takes the bookmark away
    star = page.locator("[data-bookmark] button.star")
    page.wait_for_function("document.querySelector('[data-bookmark] button.star')"
                           "&& document.querySelector('[data-bookmark] button.star').getAttribute('aria-pressed') === 'true'")
    star.click()
    page.wait_for_function("document.querySelector('[data-bookmark] button.star').getAttribute('aria-pressed') === 'false'")
    assert api(base, f"/api/bookmarks/session/{SESSION}")["bookmarks"] == []


def test_a_session_page_shows_its_tags_from_the_api(served, page):
    base, _ = served
    want = api(base, f"/api/tags/session/{SESSION}")
    names = [t if isinstance(t, str) else t["name"] for t in (want.get("all") or want.get("tags") or [])]
    page.goto(f"{base}/{paths.session(SESSION)}")
    page.locator("[data-bookmark] button.star").wait_for()
    if names:
        page.wait_for_selector("[data-bookmark] .tags .tag")
    assert page.locator("[data-bookmark] .tags .tag").all_inner_texts() == names
