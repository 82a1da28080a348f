"""The static site: pages, their JSON twins, links, escaping, transcripts, incremental rebuilds.

One fixture corpus (``write_site_corpus``) covers what a transcript can hold — streamed responses,
every tool shape, subagents in both layouts, compaction, slash commands, ``!`` shell input, meta
noise, images — and plants XSS payloads (``PAYLOADS``) in prompts, answers, tool inputs and outputs,
titles and paths. ``site`` builds it once per test session; tests that change the corpus build
their own copy.
"""

from __future__ import annotations

import base64
import json
import re
import shutil
from pathlib import Path

import factories as F
import pytest
from bs4 import BeautifulSoup

from ccsgen.site import build as site_build
from ccsgen.site import forked, transcript
from ccsgen.site.urls import RESERVED, paths, slug

PAYLOADS = [
    "<script>alert(1)</script>",
    "<img src=x onerror=alert(1)>",
    "[x](javascript:alert(1))",
    "<svg onload=alert(1)>",
    '<iframe src="javascript:alert(1)"></iframe>',
]
PAYLOAD_TEXT = " ".join(PAYLOADS)
SESSION, SESSION2 = F.SESSION, F.SESSION2
PROJECT2 = "-home-user-other"
AGENT = "a1b2c3d4"
LEGACY_AGENT = "legacy01"
PNG_1PX = ("iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNk+M9QDwADhgGAWjR9awAAAABJRU5ErkJggg==")
SVG_B64 = base64.b64encode(b'<svg xmlns="http://www.w3.org/2000/svg" onload="alert(1)"></svg>').decode()


def _tool(name: str, inp: dict, result, *, is_error: bool | None = None, tur=None) -> list[dict]:
    use = F.make_tool_use(name, inp)
    res = F.make_tool_result(use, result, is_error=is_error, tool_use_result=tur)
    return [use, res]


def session_one() -> list[dict]:
    """The main transcript of SESSION: one of everything, with payloads."""
    lines: list = [
        F.make_ai_title(f"ZZTITLEZZ {PAYLOADS[0]}"),
        F.make_user(f"ZZPROMPTZZ please fix it {PAYLOAD_TEXT}"),
        *F.make_streamed(3, blocks=[
            F.thinking_block(""),
            F.text_block(f"ZZANSWERZZ Here is **bold** and `code` {PAYLOAD_TEXT}\n\n"
                         "```python\nprint('<b>hi</b>')\n```\n\n[ok link](https://example.com/x) [rel](docs/x.md)"),
            F.tool_use_block("Bash", {"command": "echo ZZCMDZZ", "description": "say it"}, tool_id="toolu_bash1"),
        ], usage=F.usage(input=7, output=4321, cache_creation=100, cache_read=2000)),
        F.make_tool_result("toolu_bash1", f"ZZBASHOUTZZ {PAYLOADS[1]} {PAYLOADS[3]}"),
    ]
    lines += _tool("Edit", {"file_path": "/w/app.py", "old_string": "x = 1\n<script>old</script>\n",
                            "new_string": "x = 2\nZZNEWLINEZZ\n"}, "edited")
    lines += _tool("MultiEdit", {"file_path": "/w/b.py", "edits": [{"old_string": "a", "new_string": "b"}]}, "ok")
    lines += _tool("Write", {"file_path": "/w/new.html", "content": f"<html>{PAYLOADS[0]} ZZWRITEZZ</html>"}, "ok")
    lines += _tool("Read", {"file_path": "/w/app.py"}, "     1→import os\n     2→ZZREADZZ = '<script>'\n")
    lines += _tool("TodoWrite", {"todos": [{"content": "ZZTODO1ZZ", "status": "completed", "activeForm": "x"},
                                           {"content": f"ZZTODO2ZZ {PAYLOADS[1]}", "status": "in_progress",
                                            "activeForm": "y"}]}, "ok")
    lines += _tool("Bash", {"command": "false"}, f"Error: exit 1 {PAYLOADS[4]}", is_error=True)
    lines += _tool("Bash", {"command": "yes | head"}, "y\n" * 5000)
    lines += _tool("WebFetch", {"url": "javascript:alert(1)", "prompt": PAYLOADS[2]}, PAYLOADS[2])
    task = F.make_tool_use("Task", {"description": "look around", "prompt": "Investigate ZZSUBPROMPTZZ",
                                    "subagent_type": "Explore"})
    lines += [task, F.make_tool_result(task, f"ZZTASKRESULTZZ {PAYLOADS[0]}",
                                       tool_use_result={"status": "completed", "agentId": AGENT})]
    lines += [
        F.make_user('<command-message>init is analyzing</command-message>\n<command-name>/init</command-name>\n'
                    '<command-args>--fast ZZARGSZZ</command-args>'),
        F.make_user("<local-command-stdout>ZZCMDOUTZZ</local-command-stdout>"),
        F.make_user("<bash-input>ls ZZSHELLZZ</bash-input>"),
        F.make_user(f"<bash-stdout>ZZSHELLOUTZZ {PAYLOADS[0]}</bash-stdout><bash-stderr></bash-stderr>"),
        F.make_user("<system-reminder>ZZMETAZZ</system-reminder>", isMeta=True),
        F.make_system("", subtype="compact_boundary", logicalParentUuid="x"),
        F.make_user("This session is being continued from a previous conversation. ZZSUMMARYZZ",
                    isCompactSummary=True),
        F.make_user([F.text_block("look at this ZZIMAGEZZ"), F.image_block(PNG_1PX),
                     F.image_block(SVG_B64, "image/svg+xml")]),
        F.make_user("[Request interrupted by user]"),
        F.make_assistant("ZZAFTERZZ done", usage=F.usage(input=3, output=30)),
    ]
    return lines


def subagent_one() -> list[dict]:
    side = {"isSidechain": True, "agentId": AGENT}
    return [
        F.make_user("Investigate ZZSUBPROMPTZZ", **side),
        F.make_assistant(f"ZZSUBANSWERZZ {PAYLOADS[0]}", usage=F.usage(input=5, output=50), **side),
    ]


def session_two() -> list[dict]:
    """SESSION2, another project, a legacy (flat) subagent matched by its prompt; payload in the cwd."""
    cwd = f"/home/user/{PAYLOADS[1]}"
    task = F.make_tool_use("Task", {"description": "legacy", "prompt": "Legacy ZZLEGACYPROMPTZZ"},
                           sessionId=SESSION2, cwd=cwd)
    return [
        F.make_user("ZZSECONDZZ hello ZZSECRETZZ", sessionId=SESSION2, cwd=cwd),
        F.make_assistant("hi there", sessionId=SESSION2, cwd=cwd, model="claude-opus-4-1-20250805"),
        task,
        F.make_tool_result(task, "legacy done", sessionId=SESSION2, cwd=cwd),
    ]


def legacy_agent() -> list[dict]:
    side = {"isSidechain": True, "agentId": LEGACY_AGENT, "sessionId": SESSION2}
    return [F.make_user("Legacy ZZLEGACYPROMPTZZ", **side),
            F.make_assistant("ZZLEGACYANSWERZZ", usage=F.usage(input=1, output=2), **side)]


def write_site_corpus(tmp: Path) -> Path:
    F.reset()
    return F.make_claude_dir(tmp, {
        F.session_path(SESSION): session_one(),
        f"projects/{F.PROJECT}/{SESSION}/subagents/agent-{AGENT}.jsonl": subagent_one(),
        F.session_path(SESSION2, PROJECT2): session_two(),
        f"projects/{PROJECT2}/agent-{LEGACY_AGENT}.jsonl": legacy_agent(),
    })


def build(claude: Path, cache: Path, out: Path, **kw) -> dict:
    cat = F.build_catalog(claude, cache)
    return site_build.build_site(cat, out, **kw)


@pytest.fixture(scope="session")
def site(tmp_path_factory) -> Path:
    """The fixture corpus, built once: (site dir)."""
    base = tmp_path_factory.mktemp("site")
    claude = write_site_corpus(base)
    build(claude, base / "cache", base / "site")
    return base / "site"


def soup(p: Path) -> BeautifulSoup:
    return BeautifulSoup(p.read_text(encoding="utf-8"), "html.parser")


def html_pages(out: Path) -> list[Path]:
    return sorted(out.rglob("*.html"))


def session_page(out: Path, sid: str = SESSION) -> Path:
    return out / paths.session(sid)


# ---------------------------------------------------------------- the pages exist and link up


def test_every_page_is_written_with_its_json_twin(site):
    expected = [paths.overview, paths.projects, paths.sessions, paths.usage, paths.blocks, paths.models,
                paths.tools, paths.find, paths.qa, paths.tags, paths.bookmarks, paths.about,
                paths.project(F.PROJECT), paths.project(PROJECT2), paths.session(SESSION), paths.session(SESSION2),
                paths.tool("Bash"), paths.tool("Task")]
    for rel in expected:
        page = site / rel
        assert page.is_file(), rel
        twin = site / paths.json_twin(rel)
        assert twin.is_file(), twin
        json.loads(twin.read_bytes())
        alt = soup(page).find("link", rel="alternate", type="application/json")
        assert alt is not None and (page.parent / alt["href"]).resolve() == twin.resolve()


def test_no_page_dir_collides_with_an_api_route(site):
    top = {p.name for p in site.iterdir()}
    assert not top & RESERVED


def _local_refs(page: Path) -> list[str]:
    s = soup(page)
    refs = [a["href"] for a in s.find_all(href=True)] + [x["src"] for x in s.find_all(src=True)]
    return [r for r in refs if not re.match(r"^(#|https?:|mailto:|data:)", r)]


def test_every_relative_link_resolves(site):
    checked = 0
    for page in html_pages(site):
        for ref in _local_refs(page):
            target = ref.split("#", 1)[0].split("?", 1)[0]
            assert not target.startswith("/"), f"{page}: absolute link {ref}"
            assert (page.parent / target).is_file(), f"{page.relative_to(site)} -> {ref}"
            checked += 1
    assert checked > 200


def test_links_to_definitions_land_on_a_definition(site):
    about = soup(site / paths.about)
    ids = {t["id"] for t in about.find_all(id=True)}
    seen = 0
    for page in html_pages(site):
        for a in soup(page).select("a.define"):
            assert a["href"].split("#")[1] in ids, (page, a["href"])
            seen += 1
    assert seen > 10


def test_every_page_is_reachable_from_the_overview(site):
    seen, todo = set(), [site / "index.html"]
    while todo:
        p = todo.pop().resolve()
        if p in seen or p.suffix != ".html":
            continue
        seen.add(p)
        todo += [p.parent / r.split("#")[0] for r in _local_refs(p) if r.split("#")[0].endswith(".html")]
    assert {p.resolve() for p in html_pages(site)} <= seen


def test_assets_are_hashed_files_and_nothing_is_inlined(site):
    names = [p.name for p in (site / "assets").iterdir() if p.is_file()]
    assert any(re.fullmatch(r"site\.[0-9a-f]{10}\.css", n) for n in names)
    assert any(re.fullmatch(r"site\.[0-9a-f]{10}\.js", n) for n in names)
    for page in html_pages(site):
        s = soup(page)
        assert not s.find("style"), page
        for sc in s.find_all("script"):
            assert sc.get("src", "").split("/")[-2:-1] == ["assets"] or "assets/" in sc["src"], page
            assert not sc.string, page


# ---------------------------------------------------------------- security: planted payloads stay inert


def _assert_inert(page: Path) -> None:
    s = soup(page)
    for tag in s.find_all(True):
        for attr, val in tag.attrs.items():
            assert not attr.lower().startswith("on"), f"{page}: <{tag.name} {attr}>"
            v = " ".join(val) if isinstance(val, list) else str(val)
            if attr in ("href", "src", "action", "formaction", "xlink:href"):
                assert not re.match(r"\s*(javascript|vbscript|data:text)", v, re.I), f"{page}: {attr}={v}"
    assert not s.find(["iframe", "object", "embed", "frame"]), page
    for sc in s.find_all("script"):
        assert "assets/" in sc.get("src", ""), f"{page}: script {sc}"
    for svg in s.find_all("svg"):
        cls = " ".join(svg.get("class", [])) + " " + " ".join(svg.parent.get("class", []))
        assert any(k in cls for k in ("chart", "heatmap", "brand", "icon", "theme")), f"{page}: stray <svg>"
    for img in s.find_all("img"):
        src = img["src"]
        assert re.match(r"data:image/(png|jpeg|gif|webp);base64,[A-Za-z0-9+/=\s]+$", src), f"{page}: img {src[:60]}"


def test_payloads_are_inert_on_every_page(site):
    for page in html_pages(site):
        _assert_inert(page)


def test_payloads_show_as_text(site):
    text = soup(session_page(site)).get_text()
    for p in PAYLOADS:
        assert p in text
    raw = session_page(site).read_text()
    assert "<script>alert" not in raw and "<img src=x" not in raw and "<svg onload" not in raw
    assert 'href="javascript' not in raw.lower()
    overview = (site / "index.html").read_text()
    assert "<script>alert" not in overview


def test_only_web_links_from_markdown(site):
    s = soup(session_page(site))
    prose_links = [a["href"] for a in s.select(".prose a[href]")]
    assert "https://example.com/x" in prose_links
    assert all(h.startswith(("http:", "https:", "mailto:")) for h in prose_links)
    assert s.find("span", class_="md-ref", string="rel") is not None  # relative link: inert


def test_images_png_inline_svg_never(site):
    s = soup(session_page(site))
    imgs = s.select("figure.image img")
    assert len(imgs) == 1 and imgs[0]["src"].startswith("data:image/png;base64,")
    assert "image/svg+xml" in s.get_text() and "PHN2Zy" not in str(s)


# ---------------------------------------------------------------- transcripts


def test_streamed_response_is_one_message_with_its_final_usage(site):
    s = soup(session_page(site))
    answers = [a for a in s.select("article.msg.assistant") if "ZZANSWERZZ" in a.get_text()]
    assert len(answers) == 1
    a = answers[0]
    assert "4.3k out" in a.select_one(".usage").get_text()  # the last line's usage, once
    assert a.select_one(".thinking.redacted") is not None
    assert a.select_one("details.tool .tool-summary").get_text() == "echo ZZCMDZZ"


def test_tool_calls_carry_their_results(site):
    s = soup(session_page(site))
    tools = {t.select_one(".tool-badge").get_text(): t for t in s.select("details.tool")}
    assert "ZZBASHOUTZZ" in s.find("details", class_="k-bash").get_text()
    edit = tools["Edit"]
    assert edit.select("pre.diff .ddel") and "ZZNEWLINEZZ" in " ".join(x.get_text() for x in edit.select(".dadd"))
    assert "ZZWRITEZZ" in tools["Write"].get_text()
    read = tools["Read"]
    assert read.select_one(".gutter").get_text().split() == ["1", "2"]
    assert "ZZREADZZ" in read.select_one("pre.code").get_text()
    todos = tools["TodoWrite"].select("li.todo")
    assert [t["class"][1] for t in todos] == ["completed", "in_progress"]
    errors = s.select("details.tool.is-error")
    assert len(errors) == 1 and "exit 1" in errors[0].get_text()
    assert any("more characters not shown" in t.get_text() for t in s.select("details.k-bash"))
    assert s.select_one("details.k-generic").select_one("pre.json") is not None


def test_subagent_threads_sit_under_their_task_call(site):
    s = soup(session_page(site))
    task = [t for t in s.select("details.k-agent") if "look around" in t.get_text()][0]
    thread = task.select_one(".thread")
    assert "ZZSUBANSWERZZ" in thread.get_text()
    assert "ZZSUBPROMPTZZ" not in thread.get_text()  # the prompt is the call's own, shown once above
    assert "ZZTASKRESULTZZ" in task.select_one(".agent-answer").get_text()
    assert not s.select(".other-threads")
    legacy = soup(session_page(site, SESSION2)).select_one("details.k-agent .thread")
    assert legacy is not None and "ZZLEGACYANSWERZZ" in legacy.get_text()


def test_special_user_lines(site):
    s = soup(session_page(site))
    cmd = s.select_one("article.command")
    assert cmd.select_one(".slash-name").get_text() == "/init"
    assert "ZZARGSZZ" in cmd.select_one(".slash-args").get_text()
    assert "ZZCMDOUTZZ" in cmd.get_text()
    shell = s.select_one("article.bash")
    assert "ZZSHELLZZ" in shell.select_one("pre.term").get_text() and "ZZSHELLOUTZZ" in shell.get_text()
    meta = [m for m in s.select(".marker.meta") if "ZZMETAZZ" in m.get_text()]
    assert meta and "noise" in meta[0]["class"]
    assert s.select_one(".boundary") is not None
    compact = s.select_one("article.compact")
    assert "ZZSUMMARYZZ" in compact.get_text()
    assert s.select_one(".marker.interrupt") is not None
    assert s.select_one("#show-noise") is not None


def test_messages_in_file_order_with_timestamps(site):
    s = soup(session_page(site))
    text = s.select_one("#transcript").get_text()
    order = ["ZZPROMPTZZ", "ZZANSWERZZ", "ZZBASHOUTZZ", "ZZSUBANSWERZZ", "/init", "ZZSHELLZZ", "ZZSUMMARYZZ",
             "ZZIMAGEZZ", "ZZAFTERZZ"]
    pos = [text.index(t) for t in order]
    assert pos == sorted(pos)
    stamps = s.select("article.msg .stamp time")
    assert stamps and all(re.match(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$", t["datetime"]) for t in stamps)


def test_outline_lists_the_prompts(site):
    s = soup(session_page(site))
    items = [li.get_text(" ", strip=True) for li in s.select(".outline li")]
    assert any("ZZPROMPTZZ" in i for i in items) and any("/init" in i for i in items)


def test_a_session_with_only_a_warm_up_thread_says_where_it_is(tmp_path):
    """A main file that is gone, and a subagent folder holding only Claude Code's warm-up: the page says the
    thread is hidden noise (it used to promise threads that "follow" and showed nothing), and an empty
    outline is a sentence, not a numbered list item."""
    F.reset()
    sid = "5e551011-0000-4000-8000-000000000001"
    side = {"isSidechain": True, "agentId": "w4rm", "sessionId": sid}
    claude = F.make_claude_dir(tmp_path, {
        f"projects/{F.PROJECT}/{sid}/subagents/agent-w4rm.jsonl": [
            F.make_user("Warmup", **side), F.make_assistant("Ready to help.", **side)],
    })
    out = tmp_path / "site"
    build(claude, tmp_path / "cache", out)
    s = soup(session_page(out, sid))
    note = s.select_one("#transcript .empty").get_text(" ", strip=True)
    assert "warm-up" in note and "Show system" in note and "follow" not in note
    assert s.select(".other-threads details.noise") and "ZZ" not in note
    assert not s.select(".outline li") and "No prompts." in s.select_one(".outline").get_text()


def test_a_prompt_sent_with_ide_context_is_a_prompt(tmp_path):
    """The VS Code extension puts the open file or selection in front of what the person typed, in the same
    message: that line counts as a prompt, titles the session with the typed words, and the transcript shows
    the context as chips above the prompt, not as raw tags."""
    F.reset()
    sid = "1de00000-0000-4000-8000-000000000002"
    sel = "<ide_selection>The user selected the lines 1 to 2 from /w/app.py:\nZZSELECTEDZZ</ide_selection>"
    claude = F.make_claude_dir(tmp_path, {F.session_path(sid): [
        F.make_user([{"type": "text", "text": sel}, {"type": "text", "text": "Why does ZZTYPEDZZ fail?"}],
                    sessionId=sid),
        F.make_assistant("Because.", sessionId=sid),
    ]})
    cat = F.build_catalog(claude, tmp_path / "cache")
    row = cat.sessions.row(0, named=True)
    assert row["title"] == "Why does ZZTYPEDZZ fail?" and row["user_messages"] == 1
    out = tmp_path / "site"
    site_build.build_site(cat, out)
    s = soup(session_page(out, sid))
    prompt = s.select_one("#transcript .msg.user") or s.select_one("#transcript [data-kind=user]")
    assert prompt is not None, "the prompt is shown"
    chip = prompt.select_one(".chip").get_text()
    assert chip.startswith("IDE · ") and "ZZSELECTEDZZ" in chip
    assert "ZZTYPEDZZ" in prompt.get_text() and "<ide_selection>" not in prompt.get_text()
    assert [li.get_text(" ", strip=True) for li in s.select(".outline li")] == ["Why does ZZTYPEDZZ fail?"]


def test_session_header_numbers(site):
    data = json.loads((site / paths.json_twin(paths.session(SESSION))).read_text())
    s = data["session"]
    assert s["title"].startswith("ZZTITLEZZ")
    assert s["tool_calls"] == 10
    assert data["pages"] == 1 and data["messages"][0]["kind"] == "user"
    header = soup(session_page(site)).select_one(".stats").get_text(" ", strip=True)
    assert "10" in header


# ---------------------------------------------------------------- other pages


def test_overview_numbers_match_the_catalog(site, tmp_path):
    data = json.loads((site / "index.json").read_text())
    t = data["totals"]
    assert t["sessions"] == 2 and t["projects"] == 2
    s = soup(site / "index.html")
    assert s.select("svg.chart-svg rect"), "daily charts drawn"
    assert s.select(".heatmap rect")
    cards = s.select_one(".stats").get_text(" ", strip=True)
    assert f"{t['tool_calls']:,}" in cards


def test_session_list_has_filters_and_every_session(site):
    s = soup(site / paths.sessions)
    rows = s.select("#sessions-table tbody tr")
    assert len(rows) == 2
    assert {o["value"] for o in s.select('select[data-filter-attr="project"] option')} >= {F.PROJECT, PROJECT2}
    assert s.select('th[data-sort]')


def test_project_path_is_escaped(site):
    raw = (site / paths.project(PROJECT2)).read_text()
    assert "<img src=x" not in raw and "&lt;img src=x onerror=alert(1)&gt;" in raw


def test_tool_pages_list_recent_calls(site):
    s = soup(site / paths.tool("Bash"))
    assert len(s.select("#recent-calls tbody tr")) == 3
    assert len(s.select("#recent-errors tbody tr")) == 1


def test_the_search_page_loads_the_offline_index_when_there_is_one(site):
    s = soup(site / paths.find)
    data = json.loads((site / paths.json_twin(paths.find)).read_text())
    scripts = [x["src"] for x in s.find_all("script")]
    if data["static_index"]:
        assert (site / "assets" / "search" / "manifest.js").is_file()
        assert any("assets/search." in x for x in scripts) == ("search.js" in _asset_names())
        assert "Offline search" in s.get_text()
    else:
        assert "needs the live API" in s.get_text()


def _asset_names() -> set[str]:
    from ccsgen.site.render import templates_dir

    return {p.name for p in (templates_dir() / "static").iterdir()}


def test_live_pages_explain_what_they_need(site):
    for rel in (paths.qa, paths.tags, paths.bookmarks, paths.find):
        text = soup(site / rel).get_text(" ", strip=True)
        assert "ccsgen serve" in text, rel


def test_about_page_renders_the_definitions(site):
    s = soup(site / paths.about)
    assert s.select(".doc h1, .doc h2")
    assert "Session" in s.get_text()


# ---------------------------------------------------------------- incremental builds


def _mtimes(out: Path) -> dict:
    return {p: p.stat().st_mtime_ns for p in out.rglob("*") if p.is_file()}


@pytest.fixture
def built(tmp_path):
    claude = write_site_corpus(tmp_path)
    out = tmp_path / "site"
    first = build(claude, tmp_path / "cache", out)
    return claude, tmp_path / "cache", out, first


def test_nothing_changed_writes_nothing(built):
    claude, cache, out, first = built
    assert first["pages_written"] == first["pages"] > 20
    mtimes = _mtimes(out)
    again = build(claude, cache, out)
    assert again["pages_written"] == 0 and again["sessions_rendered"] == 0
    assert again["pages_unchanged"] == first["pages"]
    assert _mtimes(out) == mtimes


def test_appending_a_message_rewrites_that_session_and_the_pages_showing_it(built):
    claude, cache, out, _ = built
    F.append_jsonl(claude / F.session_path(SESSION2, PROJECT2),
                   [F.make_user("ZZAPPENDEDZZ more", sessionId=SESSION2, timestamp=F.at(600))])
    before = {p: p.stat().st_mtime_ns for p in out.rglob("*.html")}
    r = build(claude, cache, out)
    assert r["sessions_rendered"] == 1
    assert "ZZAPPENDEDZZ" in (out / paths.session(SESSION2)).read_text()
    changed = {p.relative_to(out).as_posix() for p, t in before.items() if p.stat().st_mtime_ns != t}
    assert {paths.session(SESSION2), paths.sessions, paths.overview, paths.project(PROJECT2)} <= changed
    assert paths.session(SESSION) not in changed and paths.project(F.PROJECT) not in changed
    assert r["pages_written"] == len(changed) < r["pages"] / 2


def test_a_removed_session_loses_its_pages(built):
    claude, cache, out, _ = built
    (claude / F.session_path(SESSION2, PROJECT2)).unlink()
    (claude / f"projects/{PROJECT2}/agent-{LEGACY_AGENT}.jsonl").unlink()
    r = build(claude, cache, out)
    assert r["pages_removed"] >= 2
    assert not (out / paths.session(SESSION2)).exists()
    assert not (out / paths.project(PROJECT2)).exists()
    assert (out / paths.session(SESSION)).exists()


def test_files_the_site_did_not_write_are_never_removed(built):
    claude, cache, out, _ = built
    mine = out / "notes.txt"
    mine.write_text("keep me")
    (claude / F.session_path(SESSION2, PROJECT2)).unlink()
    build(claude, cache, out)
    assert mine.read_text() == "keep me"


def test_the_static_search_index_is_kept_when_nothing_changed(built):
    claude, cache, out, first = built
    assert first["search_index"], "the static search index was not written"
    files = sorted((out / "assets" / "search").iterdir())
    before = [f.stat().st_mtime_ns for f in files]
    assert build(claude, cache, out)["search_index"]
    assert [f.stat().st_mtime_ns for f in files] == before
    F.append_jsonl(claude / F.session_path(SESSION2, PROJECT2),
                   [F.make_user("ZZINDEXEDZZ", sessionId=SESSION2, timestamp=F.at(600))])
    build(claude, cache, out)
    assert "zzindexedzz" in "".join(f.read_text() for f in (out / "assets" / "search").glob("t-*.js"))


def test_new_code_rerenders_every_transcript_but_writes_only_what_differs(built, monkeypatch):
    claude, cache, out, _ = built
    monkeypatch.setattr(site_build, "_build_key", lambda *a: "a new ccsgen")
    r = build(claude, cache, out)
    assert r["sessions_rendered"] == 2 and r["pages_written"] == 0


def test_a_page_changed_on_disk_is_rewritten(built):
    claude, cache, out, _ = built
    p = out / paths.session(SESSION)
    p.write_text("tampered")
    r = build(claude, cache, out)
    assert r["files_written"] == 1 and "ZZPROMPTZZ" in p.read_text()


def test_long_sessions_are_paginated(tmp_path, monkeypatch):
    monkeypatch.setattr(transcript, "PAGINATE_ABOVE", 10)
    monkeypatch.setattr(transcript, "PAGE_SIZE", 8)
    F.reset()
    lines = []
    for i in range(12):
        lines += [F.make_user(f"question ZZQ{i}ZZ"), F.make_assistant(f"answer {i}")]
    claude = F.make_claude_dir(tmp_path, {F.session_path(): lines})
    out = tmp_path / "site"
    build(claude, tmp_path / "cache", out)
    pages = sorted(p.name for p in (out / paths.session(SESSION)).parent.glob("*.html"))
    assert pages == ["index.html", "page-2.html", "page-3.html"]
    p2 = soup(out / paths.session(SESSION, 2)).select_one("#transcript").get_text()
    assert "ZZQ4ZZ" in p2 and "ZZQ0ZZ" not in p2
    outline = [a["href"] for a in soup(out / paths.session(SESSION)).select(".outline a")]
    assert any("page-2.html#m-" in h for h in outline)
    for page in html_pages(out):
        for ref in _local_refs(page):
            assert (page.parent / ref.split("#")[0]).is_file()


def test_publish_masks_text_and_leaves_images_out(tmp_path):
    claude = write_site_corpus(tmp_path)
    out = tmp_path / "pub"
    r = build(claude, tmp_path / "cache", out, publish=True,
              redactor=lambda s: s.replace("ZZSECRETZZ", "[masked]").replace("ZZPROMPTZZ", "[masked]"))
    assert r["publish"] and r["pages"] > 10
    for f in out.rglob("*"):
        if f.is_file() and f.suffix in (".html", ".json"):
            body = f.read_text()
            assert "ZZSECRETZZ" not in body and "ZZPROMPTZZ" not in body, f
    s = soup(session_page(out))
    assert not s.select("img") and "left out of the published site" in s.get_text()


def test_an_empty_claude_dir_builds_a_site(tmp_path):
    claude = F.make_claude_dir(tmp_path, {"projects": None})
    out = tmp_path / "site"
    r = build(claude, tmp_path / "cache", out)
    assert r["pages"] >= 10
    assert "No sessions" in soup(out / "index.html").get_text() or "No sessions" in soup(
        out / paths.sessions).get_text()
    for page in html_pages(out):
        for ref in _local_refs(page):
            assert (page.parent / ref.split("#")[0]).is_file(), (page, ref)


def _child_fails_at_once(*_a, **_k):
    import os

    os._exit(3)


@pytest.mark.parametrize("mode", ["fork", "pool", "fork-helper-dies"])
def test_worker_processes_write_the_same_site(built, tmp_path, monkeypatch, mode):
    claude, cache, out, _ = built
    # the static search index (ccsgen.search.static) is not byte-for-byte the same between two fresh builds
    # (its manifest holds the build time): compare the pages only
    shutil.rmtree(out / "assets" / "search", ignore_errors=True)
    monkeypatch.setattr(site_build, "_static_search_index", lambda cat, w, key: None)
    if mode == "pool" or not forked.available():
        monkeypatch.setattr(site_build, "PARALLEL_MIN_LINES", 0)  # spawned workers even for a small site
    if mode == "fork-helper-dies":  # this process renders what the helper left undone
        monkeypatch.setattr(forked, "_child", _child_fails_at_once)
    par = tmp_path / "parallel"
    r = build(claude, cache, par, workers=2)
    assert r["workers"] == 2
    assert r["sessions_rendered"] == 2
    mine = {p.relative_to(out): p.read_bytes() for p in out.rglob("*") if p.is_file() and p.name != ".ccsgen-site.json"
            and "search" not in p.parts and p.parent.name != "find"}
    theirs = {p.relative_to(par): p.read_bytes() for p in par.rglob("*") if p.is_file()
              and p.name != ".ccsgen-site.json" and p.parent.name != "find"}
    assert mine.keys() == theirs.keys()
    assert [k for k in mine if mine[k] != theirs[k]] == []
    again = build(claude, cache, par, workers=2)  # the manifest lists what the helper wrote
    assert again["pages_written"] == 0 and again["sessions_rendered"] == 0


def test_alongside_work_runs_once_while_transcripts_render(built, tmp_path):
    claude, cache, _, _ = built
    calls = []
    r = build(claude, cache, tmp_path / "a", workers=2, alongside=lambda: calls.append(1))
    assert calls == [1] and "alongside" in r["stages"]
    assert r["sessions_rendered"] == 2 and (tmp_path / "a" / paths.session(SESSION)).is_file()

    def fails():
        raise RuntimeError("ZZALONGSIDEZZ")

    with pytest.raises(RuntimeError, match="ZZALONGSIDEZZ"):
        build(claude, cache, tmp_path / "b", workers=2, alongside=fails)


def test_fork_is_chosen_for_mid_sized_work_only(monkeypatch):
    jobs = [site_build.SP.Job({"session_id": str(i)}, "", (None, None), 1000) for i in range(5)]
    monkeypatch.setattr(site_build, "_cpus", lambda: 2)
    monkeypatch.setattr(site_build.forked, "available", lambda: True)
    monkeypatch.setattr(site_build.forked, "spare_cpu", lambda: False)
    assert site_build._mode(jobs, None, None) == "serial"  # the CPUs are busy: a helper would slow it down
    monkeypatch.setattr(site_build.forked, "spare_cpu", lambda: True)
    assert site_build._mode(jobs, None, None) == "fork"
    assert site_build._mode(jobs[:1], None, None) == "serial"  # too little to pay for the helper
    assert site_build._mode(jobs[:1], 2, None) == "fork"  # asked for
    assert site_build._mode(jobs, 1, None) == "serial"
    assert site_build._mode(jobs * 10, None, None) == "pool"  # big: workers read their own rows
    monkeypatch.setattr(site_build, "_cpus", lambda: 1)
    assert site_build._mode(jobs, None, None) == "serial"
    monkeypatch.setattr(site_build.forked, "available", lambda: False)
    assert site_build._mode(jobs, 2, None) == "pool"


def test_spare_cpu_reads_the_pressure_file(monkeypatch, tmp_path):
    psi = tmp_path / "cpu"
    monkeypatch.setattr(forked, "PRESSURE_FILE", str(psi))
    psi.write_text("some avg10=72.10 avg60=40.00 avg300=30.00 total=1\nfull avg10=0.00 avg60=0.00 avg300=0.00 total=0\n")
    assert not forked.spare_cpu()
    psi.write_text("some avg10=3.50 avg60=40.00 avg300=30.00 total=1\n")
    assert forked.spare_cpu()
    psi.unlink()  # no pressure information (older kernels): assume there is some
    assert forked.spare_cpu()


# ---------------------------------------------------------------- units


@pytest.mark.parametrize("value", ["abc-123_X.y", "5e551000-0000-4000-8000-000000000001", "mcp__srv__tool"])
def test_slug_keeps_plain_ids(value):
    assert slug(value) == value


@pytest.mark.parametrize("value", ["", ".", "..", "a/b", "../../etc", "x" * 300, "名前", "a b", "end."])
def test_slug_makes_safe_distinct_segments(value):
    s = slug(value)
    assert re.fullmatch(r"[A-Za-z0-9][A-Za-z0-9._-]*", s) and len(s) <= 100 and s not in (".", "..")
    assert s != slug(value + "!")


def test_markdown_policy():
    from ccsgen.site.markdown import markdown

    for p in PAYLOADS:
        out = str(markdown(p))
        assert "<script" not in out and "<img" not in out and "<svg" not in out and "<iframe" not in out
        assert "javascript:" not in out or 'href="javascript' not in out
    out = str(markdown("[a](https://x.y) [b](mailto:m@x.y) [c](rel/p) ![i](https://x.y/i.png) [d](data:text/html,x)"))
    assert 'href="https://x.y"' in out and 'href="mailto:m@x.y"' in out
    assert "<img" not in out and 'class="md-img"' in out
    assert 'title="rel/p"' in out and 'href="rel/p"' not in out
    assert 'href="data:' not in out
    assert '<pre class="hl"><code>' in str(markdown("```python\nx = 1\n```"))


def test_chart_geometry_stays_in_its_box():
    from ccsgen.site import charts
    from ccsgen.site.filters import usd_axis

    c = charts.stacked_bars(["a", "b", "c"], {"m1": [1, 2, 3], "m2": [0, 5, 1]}, fmt=usd_axis, label="x",
                            width=300, height=200)
    for b in c.bars:
        assert c.left <= b.x and b.x + b.w <= c.left + c.plot_w + 0.01
        for sg in b.segs:
            assert c.top - 0.01 <= sg.y and sg.y + sg.h <= c.top + c.plot_h + 0.01
    assert c.yticks[-1][0] <= c.top + 0.01 and not c.empty
    assert charts.stacked_bars([], {}, fmt=usd_axis, label="x").empty
    assert charts.nice_max(7) == (8, 2) and charts.nice_max(0.3)[0] >= 0.3


def test_templates_never_mark_log_text_safe():
    tdir = Path(__file__).resolve().parents[1] / "templates"
    for p in tdir.rglob("*.html"):
        assert not re.search(r"\|\s*safe", p.read_text()), p


def test_site_dir_can_be_rebuilt_elsewhere(built, tmp_path):
    claude, cache, out, _ = built
    moved = tmp_path / "moved"
    shutil.copytree(out, moved)
    r = build(claude, cache, moved)
    assert r["files_written"] == 0 and r["sessions_rendered"] == 0


def test_the_default_redactor_reaches_worker_processes_by_name():
    from ccsgen.site.build import _NOT_PORTABLE, DEFAULT_REDACTOR, _portable, _redactor

    assert _portable(None) is None
    assert _portable(_redactor(True, None)) == DEFAULT_REDACTOR
    assert _portable(lambda s: s) is _NOT_PORTABLE  # rendered in-process instead
    assert _portable(str.upper) is str.upper
