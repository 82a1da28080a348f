"""The static site's search index (ccsgen/search/static.py) and its reader (templates/static/search.js):
what the index finds, that Python and JavaScript fold and shard terms alike, and the page in Chromium from
file:// (static index) and over http (live API)."""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import threading
from functools import partial
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import parse_qs, urlparse

import pytest
from test_search import ALPHA, BETA, S1, S2, S3, build_corpus

from ccsgen import search
from ccsgen.catalog import Catalog
from ccsgen.search import static

SEARCH_JS = Path(__file__).resolve().parents[1] / "templates" / "static" / "search.js"
_CALL = re.compile(r'^window\.CCS_SEARCH&&CCS_SEARCH\.load\("(\w)",(\d+),(.*)\);\n$', re.DOTALL)


@pytest.fixture(scope="module")
def built(tmp_path_factory):
    root = tmp_path_factory.mktemp("static")
    cat = Catalog.open(build_corpus(root))
    out = root / "site"
    info = static.write_static_index(cat, out)
    return cat, out, info


def read_js(path: Path):
    m = _CALL.match(path.read_text(encoding="utf-8"))
    assert m, path
    return json.loads(m.group(3))


class Reader:
    """The lookups search.js does, in Python."""

    def __init__(self, d: Path):
        self.d = d
        self.m = read_js(d / "manifest.js")

    def docs(self, term: str) -> list[int]:
        shard = read_js(self.d / f"t-{static.shard_of(term, self.m['shards'])}.js")
        ids, prev = [], 0
        for x in (shard.get(term) or "").split(","):
            if x:
                prev += int(x, 36)
                ids.append(prev)
        return ids

    def row(self, doc: int) -> list:
        return read_js(self.d / f"d-{doc // self.m['chunk']}.js")[doc % self.m["chunk"]]

    def sessions(self, term: str) -> set[str]:
        return {self.m["sessions"][self.row(d)[0]][3] for d in self.docs(term)}


@pytest.fixture(scope="module")
def reader(built):
    return Reader(built[1] / "assets" / "search")


def test_files_and_report(built):
    _cat, out, info = built
    d = out / "assets" / "search"
    assert set(info) >= {"bytes", "shards", "docs"}
    files = {p.name for p in d.iterdir()}
    assert {"manifest.js", "meta.js", "d-0.js"} <= files
    assert len([f for f in files if f.startswith("t-")]) == info["shards"]
    assert info["bytes"] == sum(p.stat().st_size for p in d.iterdir())
    assert not (out / "assets" / "search.tmp").exists()


@pytest.mark.parametrize("term,sessions", [
    ("zqxalpha", {S1}), ("zqxstream", {S1}), ("zqxshared", {S2, S3}), ("cafe", {S1}), ("resume", {S1}),
    ("東京", {S1}), ("京", {S1}), ("日本", {S3}), ("zqxxss", {S1}), ("zqxpage", {S3}),
    ("zqxthink", set()), ("zqxtoolin", set()), ("zqxresult", set()), ("zqxbase64payload", set()),
])
def test_index_finds_planted_words(reader, term, sessions):
    assert reader.sessions(term) == sessions


def test_manifest(reader, built):
    m = reader.m
    assert m["docs"] == built[2]["docs"] and m["version"] == static.VERSION
    by_id = {s[3]: s for s in m["sessions"]}
    assert by_id[S1][0] == f"session/{S1}/index.html" and by_id[S1][4] == ALPHA
    assert by_id[S3][2] == "beta" and by_id[S3][4] == BETA


def test_docs_are_newest_first_and_link_to_messages(reader, built):
    rows = [reader.row(i) for i in range(reader.m["docs"])]
    ts = [r[2] for r in rows]
    assert ts == sorted(ts, reverse=True)
    cat = built[0]
    uuids = set(cat.entries(S1).get_column("uuid").to_list())
    s1_rows = [r for r in rows if reader.m["sessions"][r[0]][3] == S1 and r[1] != static.KIND_SESSION]
    assert s1_rows and all(r[3] in uuids for r in s1_rows)
    xss = next(r for r in s1_rows if "zqxxss" in r[4] or "Found it" in r[4])
    assert len(xss[4]) <= static.PREVIEW


def test_common_words_get_their_own_file(tmp_path):
    from factories import make_assistant, make_user, write_jsonl

    from ccsgen.config import Config

    sid = "f0f0f0f0-0000-4000-8000-000000000000"
    lines = []
    for i in range(30):
        lines += [make_user(f"the question {i}", sessionId=sid), make_assistant(f"the answer {i}", sessionId=sid)]
    write_jsonl(tmp_path / "c" / "projects" / "-p" / f"{sid}.jsonl", lines)
    cat = Catalog.open(Config.from_options([tmp_path / "c"], tmp_path / "cache", tmp_path / "data"))
    old = static.COMMON_MIN, static.COMMON_SHARE
    static.COMMON_MIN, static.COMMON_SHARE = 10, 0.6  # "the" is in 60 of 61 docs, "question" in 30
    try:
        static.write_static_index(cat, tmp_path / "site")
    finally:
        static.COMMON_MIN, static.COMMON_SHARE = old
    r = Reader(tmp_path / "site" / "assets" / "search")
    assert r.m["common"] == ["the"] and r.docs("the") == []  # not in the shards: in its own file
    c = read_js(tmp_path / "site" / "assets" / "search" / "c-0.js")
    assert len(static.decode_postings(c)) == 61
    assert len(r.docs("question")) == 31  # 30 prompts and the session (titled by its first prompt)


def test_postings_encoding():
    assert static.encode_postings([0, 1, 37, 1000]) == "0,1,10,qr"


# ---------------------------------------------------------------- Python and JavaScript agree

SAMPLES = ["Café NAÏVE Straße Æsop Øre łódź", "東京タワー abc", "x東京2🚀y", "日本語のテキスト", "résumé_v2-final",
           "ÉCOLE", "한국어 텍스트", "refactor", "a", "Ωmega ß"]


def _node() -> str | None:
    return shutil.which("node") or shutil.which("nodejs")


@pytest.mark.skipif(_node() is None, reason="node not installed")
def test_js_folds_and_shards_like_python(tmp_path):
    import polars as pl

    script = tmp_path / "t.js"
    script.write_text(
        "global.window = {}; global.document = {getElementById: () => null}; global.location = {protocol: 'file:'};\n"
        f"require({json.dumps(str(SEARCH_JS))});\n"
        "const I = window.CCS_SEARCH.internals;\n"
        f"const samples = {json.dumps(SAMPLES, ensure_ascii=False)};\n"
        "console.log(JSON.stringify(samples.map(s => ({fold: I.fold(s), runs: I.runs(I.fold(s)),"
        " shards: I.runs(I.fold(s)).map(r => I.shardOf(r.text, 256))}))));\n", encoding="utf-8")
    got = json.loads(subprocess.run([_node(), str(script)], capture_output=True, text=True, check=True,
                                    encoding="utf-8").stdout)
    folded = pl.DataFrame({"t": SAMPLES}).select(static.fold_expr(pl.col("t")))["t"].to_list()
    for s, f, g in zip(SAMPLES, folded, got, strict=True):
        assert g["fold"] == f, s
        words = pl.Series([f]).str.extract_all(static.WORD_RE)[0].to_list()
        unis = pl.Series([f]).str.extract_all(static.UNI_RE)[0].to_list()
        assert [r["text"] for r in g["runs"] if not r["uni"]] == words, s
        assert [r["text"] for r in g["runs"] if r["uni"]] == unis, s
        assert g["shards"] == [static.shard_of(r["text"], 256) for r in g["runs"]], s


# ---------------------------------------------------------------- the page in Chromium

PAGE = """<!doctype html><html><head><meta charset="utf-8"><title>find</title></head><body>
<form><input id="search-q" name="q"></form>
<div id="search-app" data-base="../" data-api="/api/search"><div id="search-results"></div></div>
<script src="../assets/search.js"></script></body></html>"""


def _chromium() -> str | None:
    return shutil.which("chromium") or shutil.which("chromium-browser") or (
        "/usr/bin/chromium" if Path("/usr/bin/chromium").exists() else None)


@pytest.fixture(scope="module")
def browser():
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        pytest.skip("playwright not installed")
    exe = _chromium()
    if exe is None:
        if os.environ.get("CI") == "true":
            pytest.fail("Chromium missing under CI")
        pytest.skip("Chromium not found")
    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=exe, args=["--no-sandbox", "--disable-gpu"], headless=True)
        yield b
        b.close()


@pytest.fixture(scope="module")
def page_dir(built):
    _cat, out, _info = built
    (out / "find").mkdir(exist_ok=True)
    (out / "find" / "index.html").write_text(PAGE, encoding="utf-8")
    shutil.copy(SEARCH_JS, out / "assets" / "search.js")
    return out


def _run(browser, url: str):
    page = browser.new_page()
    problems: list[str] = []
    page.on("pageerror", lambda e: problems.append(str(e)))
    page.on("dialog", lambda d: (problems.append("dialog " + d.message), d.dismiss()))
    page.goto(url)
    page.wait_for_selector(".search-summary", timeout=15_000)
    return page, problems


@pytest.mark.browser
def test_static_page_from_file(browser, page_dir, built):
    cat = built[0]
    page, problems = _run(browser, (page_dir / "find" / "index.html").as_uri() + "?q=zqxalpha")
    hits = page.query_selector_all(".search-hit")
    assert len(hits) == 2  # the prompt and… the session title (the first prompt)
    hrefs = {h.query_selector("a").get_attribute("href") for h in hits}
    prompt_uuid = cat.entries(S1).filter(cat.entries(S1)["text"].str.contains("zqxalpha"))["uuid"][0]
    assert f"../session/{S1}/index.html#m-{prompt_uuid}" in hrefs
    assert page.eval_on_selector_all(".search-hit mark", "els => els.map(e => e.textContent)")[0] == "zqxalpha"
    # the payload comes back as text, with the match marked
    page.fill("#search-q", "zqxxss")
    page.press("#search-q", "Enter")
    page.wait_for_function("document.querySelectorAll('.search-hit').length === 1")
    hit = page.query_selector(".search-hit")
    assert "<script>alert('zqxxss')</script>" in hit.inner_text()
    assert page.eval_on_selector(".search-hit", "e => e.querySelectorAll('script').length") == 0
    assert page.eval_on_selector(".search-hit mark", "e => e.textContent") == "zqxxss"
    # CJK, accents
    for q, n in (("東京", 1), ("CAFÉ", 1), ("zqxshared -deployment", 1), ("zqxnothing", 0)):
        page.fill("#search-q", q)
        page.press("#search-q", "Enter")
        page.wait_for_function(f"(document.querySelector('.search-summary')||{{}}).textContent.startsWith('{n} result')")
    assert problems == []


class _Handler(SimpleHTTPRequestHandler):
    svc = None

    def log_message(self, *a):  # quiet
        pass

    def do_GET(self):  # noqa: N802
        u = urlparse(self.path)
        if u.path == "/api/search":
            q = parse_qs(u.query)
            body = json.dumps(self.svc.search_messages(q.get("q", [""])[0], page=int(q.get("page", ["1"])[0]),
                                                       per_page=int(q.get("per_page", ["20"])[0]))).encode()
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)
            return
        super().do_GET()


@pytest.mark.browser
def test_page_uses_the_api_over_http(browser, page_dir, built):
    handler = type("H", (_Handler,), {"svc": search.service(built[0])})
    server = ThreadingHTTPServer(("127.0.0.1", 0), partial(handler, directory=str(page_dir)))
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        url = f"http://127.0.0.1:{server.server_port}/find/index.html?q=zqxxss"
        page, problems = _run(browser, url)
        assert "ccsgen serve" in page.inner_text(".search-summary")  # the API answered, not the static index
        hit = page.query_selector(".search-hit")
        assert "<script>alert('zqxxss')</script>" in hit.inner_text()
        assert page.eval_on_selector(".search-hit", "e => e.querySelectorAll('script').length") == 0
        assert page.eval_on_selector(".search-hit mark", "e => e.textContent") == "zqxxss"
        assert hit.query_selector("a").get_attribute("href").startswith(f"../session/{S1}/index.html#m-")
        # the API finds what the static index does not hold (thinking)
        page.fill("#search-q", "zqxthink")
        page.press("#search-q", "Enter")
        page.wait_for_function("document.querySelector('.search-summary').textContent.startsWith('1 result')")
        assert problems == []
    finally:
        server.shutdown()
        server.server_close()
