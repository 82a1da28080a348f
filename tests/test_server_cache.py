"""The server's response cache (ccsgen/server/respcache.py): cached answers equal computed ones, and no cached
answer outlives what it was computed from (a refresh, a reindex, a project selection, a tag or bookmark write,
a write by another process)."""

from __future__ import annotations

import gzip
import io
import os
import time

import factories as F
import pytest
import server_corpus as C
from webtest import TestApp

from ccsgen.server import Settings, make_app
from ccsgen.server.app import context_of
from ccsgen.server.respcache import (
    LRU,
    Entry,
    IndexFingerprint,
    accepts_gzip,
    userdata_fingerprint,
    wants_fresh,
)
from ccsgen.tags import ManualTags

FRESH = {"Cache-Control": "no-cache"}
GZ = {"Accept-Encoding": "gzip"}
P = C.PROJECT
#: GET routes the server caches, one request each (project routes name their project)
CACHED = [
    f"/api/stats?project={P}", f"/api/dashboard-data?project={P}", f"/api/messages?project={P}",
    f"/api/messages?project={P}&limit=2", f"/api/messages/summary?project={P}", f"/api/jsonl-files?project={P}",
    "/api/projects?include_stats=true", "/api/recent-projects", "/api/global-stats",
    "/api/search?q=test", "/api/search?q=fix&order=recency", "/api/search/stats", "/api/qa", "/api/qa/stats",
    "/api/tags", "/api/tags/browse/python", f"/api/tags/session/{C.S1}",
    "/search?q=fix", "/search/messages?q=test", "/search/history?q=fix", "/sessions?limit=50", "/stats",
    f"/sessions/{C.S1}/messages", "/stats/trends",
]


@pytest.fixture(scope="module")
def corpus(tmp_path_factory):
    c = C.build(tmp_path_factory.mktemp("cache"))
    # the first search builds the index, which moves its fingerprint (a part of search answers' cache keys):
    # done here, so that no test's counted searches depend on which test of the module runs first
    c.cat.search_messages("warm")
    return c


@pytest.fixture
def app(corpus):
    return TestApp(make_app(corpus.cat, Settings(port=None)))


def raw_get(app: TestApp, path: str, headers: dict | None = None, **environ) -> tuple[str, dict, bytes]:
    """(status, headers, body) straight from the WSGI app (WebTest decodes gzip bodies on its own)."""
    p, _, qs = path.partition("?")
    env = {"REQUEST_METHOD": "GET", "PATH_INFO": p, "QUERY_STRING": qs, "HTTP_HOST": "127.0.0.1",
           "SERVER_NAME": "127.0.0.1", "SERVER_PORT": "80", "wsgi.url_scheme": "http", "wsgi.input": io.BytesIO(),
           **{"HTTP_" + k.upper().replace("-", "_"): v for k, v in (headers or {}).items()}, **environ}
    got = {}

    def start_response(status, hdrs, exc_info=None):
        got["status"], got["headers"] = status, dict(hdrs)

    body = b"".join(app.app(env, start_response))
    return got["status"], got["headers"], body


def fresh_corpus_app(tmp_path):
    corpus = C.build(tmp_path)
    return corpus, TestApp(make_app(corpus.cat, Settings(port=None)))


# ---------------------------------------------------------------- cached answers are the computed answers


@pytest.mark.parametrize("path", CACHED)
def test_cached_body_equals_computed_body(app, corpus, path):
    first = app.get(path)  # computed, then cached
    hit = app.get(path)
    fresh = app.get(path, headers=FRESH)  # computed again
    other = TestApp(make_app(corpus.cat, Settings(port=None))).get(path)  # another app: an empty cache
    assert first.status_int == 200
    assert hit.body == first.body == fresh.body == other.body
    assert hit.headers["Content-Type"] == "application/json"
    assert int(hit.headers["Content-Length"]) == len(hit.body)


@pytest.mark.parametrize("path", [f"/api/stats?project={P}", f"/api/dashboard-data?project={P}", "/api/search?q=test",
                                  f"/sessions/{C.S1}/messages"])
def test_gzip_answer_decodes_to_the_identity_answer(app, path):
    status, plain_h, plain = raw_get(app, path)
    zstatus, zipped_h, zipped = raw_get(app, path, GZ)
    assert status == zstatus == "200 OK"
    assert zipped_h["Content-Encoding"] == "gzip" and "Accept-Encoding" in zipped_h["Vary"]
    assert gzip.decompress(zipped) == plain and len(zipped) < len(plain)
    assert int(zipped_h["Content-Length"]) == len(zipped) and int(plain_h["Content-Length"]) == len(plain)
    assert "Content-Encoding" not in plain_h and "Accept-Encoding" in plain_h["Vary"]
    assert raw_get(app, path, {"Accept-Encoding": "gzip;q=0, identity"})[2] == plain
    assert app.get(path, headers=GZ).body == plain  # what a client that decodes gets


def test_small_answers_are_not_compressed(app):
    _status, headers, body = raw_get(app, "/info", GZ)
    assert "Content-Encoding" not in headers and b'"total_sessions":3' in body


def test_a_hit_does_not_call_the_handler_and_no_cache_does(app, corpus, monkeypatch):
    calls = counting(corpus.cat, monkeypatch)
    app.get("/api/search?q=ZZHITZZ")
    app.get("/api/search?q=ZZHITZZ")
    assert calls == [("ZZHITZZ",)]
    app.get("/api/search?q=ZZHITZZ", headers=FRESH)
    assert calls == [("ZZHITZZ",), ("ZZHITZZ",)]
    app.get("/api/search?q=ZZHITZZ&page=1")  # another query string: another answer
    assert len(calls) == 3


def test_errors_are_not_cached(app):
    app.get("/api/stats", status=400)  # no project selected
    app.post_json("/api/project-by-dir", {"dir_name": P})
    assert app.get("/api/stats").json["overview"]["log_dir_name"] == P


# ---------------------------------------------------------------- nothing stale after a change


def test_project_selection_changes_the_answers_without_a_project_parameter(app):
    for pid in (P, C.OTHER, P):
        app.post_json("/api/project-by-dir", {"dir_name": pid})
        assert app.get("/api/stats").json["overview"]["log_dir_name"] == pid
        assert app.get("/api/dashboard-data").json["statistics"]["overview"]["log_dir_name"] == pid
        total = app.get("/api/messages/summary").json["total"]
        assert total == (2 if pid == C.OTHER else len(app.get("/api/messages").json))
    app.post_json("/api/project", {"project_path": C.OTHER_CWD})
    assert app.get("/api/stats").json["overview"]["log_dir_name"] == C.OTHER


def test_dashboard_reports_a_refresh_in_progress(app, corpus):
    assert app.get(f"/api/dashboard-data?project={P}").json["is_reindexing"] is False
    state = context_of(app.app).state
    state.begin_refresh()
    try:
        assert app.get(f"/api/dashboard-data?project={P}").json["is_reindexing"] is True
    finally:
        state.end_refresh()
    assert app.get(f"/api/dashboard-data?project={P}").json["is_reindexing"] is False


def test_refresh_invalidates_stats_messages_and_search(tmp_path):
    corpus, app = fresh_corpus_app(tmp_path)
    before = {path: app.get(path).json for path in (
        f"/api/dashboard-data?project={P}", f"/api/messages/summary?project={P}", "/api/search?q=ZZLATEZZ",
        "/search/messages?q=ZZLATEZZ", "/stats")}
    assert before["/api/search?q=ZZLATEZZ"]["total"] == 0
    F.append_jsonl(corpus.claude / F.session_path(C.S2), [
        F.make_user("a late question ZZLATEZZ", sessionId=C.S2, timestamp=F.at(60 * 30)),
        F.make_assistant("a late answer", sessionId=C.S2, timestamp=F.at(60 * 30 + 1))])
    assert app.post_json("/api/refresh", {}).json["files_changed"]
    dash = app.get(f"/api/dashboard-data?project={P}").json
    assert dash["message_count"] == before[f"/api/dashboard-data?project={P}"]["message_count"] + 2
    assert app.get(f"/api/messages/summary?project={P}").json["total"] == \
        before[f"/api/messages/summary?project={P}"]["total"] + 2
    assert app.get("/api/search?q=ZZLATEZZ").json["total"] == 1
    assert len(app.get("/search/messages?q=ZZLATEZZ").json) == 1
    assert app.get("/stats").json["total_messages"] == before["/stats"]["total_messages"] + 2


def test_a_refresh_of_the_catalog_alone_shows(tmp_path):
    corpus, app = fresh_corpus_app(tmp_path)
    before = app.get(f"/api/messages/summary?project={P}").json["total"]
    F.append_jsonl(corpus.claude / F.session_path(C.S2), [
        F.make_user("another question", sessionId=C.S2, timestamp=F.at(60 * 31))])
    corpus.cat.refresh()  # not through the server: only the snapshot changes
    assert app.get(f"/api/messages/summary?project={P}").json["total"] == before + 1


def counting(cat, monkeypatch, method: str = "search_messages", answer=None) -> list:
    """Replace ``cat.<method>`` by one that records its calls (and answers ``answer(*a)`` if given)."""
    calls = []
    real = getattr(cat, method)

    def wrapped(*a, **kw):
        calls.append(a)
        return answer(*a) if answer else real(*a, **kw)

    monkeypatch.setattr(cat, method, wrapped)
    return calls


@pytest.mark.parametrize(("path", "method"), [
    ("/api/search?q=ZZREINDEXZZ", "search_messages"), ("/search/messages?q=ZZREINDEXZZ", "search_messages_ccsinfo"),
    ("/search?q=ZZREINDEXZZ", "search_sessions"), ("/search/history?q=ZZREINDEXZZ", "search_prompts"),
    ("/api/search/stats", "index_stats"), ("/api/qa", "qa_list"), ("/api/qa/stats", "qa_stats"),
    ("/api/tags", "tags_cloud"), (f"/api/tags/session/{C.S1}", "session_tags"),
])
def test_a_reindex_by_another_process_is_seen(app, corpus, monkeypatch, path, method):
    from ccsgen import search

    calls = counting(corpus.cat, monkeypatch, method)
    app.get(path)
    app.get(path)
    assert len(calls) == 1
    search.service(corpus.cat).reindex(full=True)  # not through the server: only the index on disk changes
    app.get(path)
    assert len(calls) == 2


def test_any_write_through_the_server_invalidates_every_answer(app, corpus, monkeypatch):
    value = {"total": 1}
    calls = counting(corpus.cat, monkeypatch, answer=lambda q: {
        "results": [], "total": value["total"], "page": 1, "per_page": 20, "total_pages": 1, "query": q})
    assert app.get("/api/search?q=ZZEPOCHZZ").json["total"] == 1
    value["total"] = 2  # a change the cache cannot see …
    assert app.get("/api/search?q=ZZEPOCHZZ").json["total"] == 1 and len(calls) == 1
    app.post_json("/api/bookmarks", {"session_id": C.S1, "title": "any write"})  # … then any write
    assert app.get("/api/search?q=ZZEPOCHZZ").json["total"] == 2


def test_a_refresh_by_the_watch_loop_bumps_the_epoch(app):
    ctx = context_of(app.app)
    e = ctx.state.epoch
    ctx.refresh()  # what serve.Watcher calls
    assert ctx.state.epoch > e


def test_reindex_and_every_write_bump_the_epoch(app):
    ctx = context_of(app.app)
    for method, path, body in [
        ("post", "/api/search/reindex", {}), ("post", "/api/bookmarks", {"session_id": C.S1, "title": "t"}),
        ("post", "/api/project-by-dir", {"dir_name": P}), ("post", "/api/refresh", {}),
        ("post", "/api/project-by-dir", {"dir_name": "-no-such"}),  # failed writes too
    ]:
        e = ctx.state.epoch
        getattr(app, f"{method}_json")(path, body, expect_errors=True)
        assert ctx.state.epoch > e, path


def test_tag_writes_show_at_once(app):
    tag = "zzcachetag"
    sess, browse, cloud = f"/api/tags/session/{C.S1}", f"/api/tags/browse/{tag}", "/api/tags"
    assert tag not in app.get(sess).json["manual"]
    assert app.get(browse, expect_errors=True).status_int in (200, 404)
    assert tag not in {t["name"] for t in app.get(cloud).json["tags"]}
    app.post_json(sess, {"tag": tag})
    assert tag in app.get(sess).json["manual"]
    assert tag in {t["name"] for t in app.get(cloud).json["tags"]}
    assert C.S1 in {s["session_id"] for s in app.get(browse).json["sessions"]}
    app.delete(f"{sess}/{tag}")
    assert tag not in app.get(sess).json["manual"]
    assert tag not in {t["name"] for t in app.get(cloud).json["tags"]}


def test_a_tag_written_by_another_process_shows(app, corpus):
    tag = "zzothertag"
    sess = f"/api/tags/session/{C.S2}"
    assert tag not in app.get(sess).json["manual"]
    other = ManualTags(corpus.data)  # its own connection, as another process would have
    other.add(C.S2, tag)
    assert tag in app.get(sess).json["manual"]
    other.remove(C.S2, tag)
    assert tag not in app.get(sess).json["manual"]


def test_bookmark_writes_show_at_once(app):
    n = len(app.get("/api/bookmarks").json["bookmarks"])
    b = app.post_json("/api/bookmarks", {"session_id": C.S1, "title": "ZZBMZZ"}).json
    assert len(app.get("/api/bookmarks").json["bookmarks"]) == n + 1
    app.put_json(f"/api/bookmarks/{b['id']}", {"title": "ZZBM2ZZ"})
    assert app.get(f"/api/bookmarks/{b['id']}").json["title"] == "ZZBM2ZZ"
    app.delete(f"/api/bookmarks/{b['id']}")
    assert len(app.get("/api/bookmarks").json["bookmarks"]) == n


# ---------------------------------------------------------------- fingerprints of state on disk


def _replace(path, text: str) -> None:
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(text)
    os.replace(tmp, path)


def test_index_fingerprint_follows_generations_and_commits(tmp_path):
    fp = IndexFingerprint(tmp_path)
    none = fp()
    for gen in ("gen-1", "gen-2"):
        (tmp_path / gen / "tantivy").mkdir(parents=True)
        (tmp_path / gen / "state.json").write_text("{}")
        (tmp_path / gen / "tantivy" / "meta.json").write_text("{}")
    _replace(tmp_path / "CURRENT", "gen-1")
    one = fp()
    assert one != none and fp() == one
    _replace(tmp_path / "gen-1" / "tantivy" / "meta.json", '{"commit": 2}')  # a commit
    two = fp()
    assert two != one
    _replace(tmp_path / "gen-1" / "state.json", '{"qa": 1}')
    three = fp()
    assert three != two
    _replace(tmp_path / "CURRENT", "gen-2")  # a new generation
    assert fp() not in (none, one, two, three)


def test_userdata_fingerprint_follows_writes(tmp_path):
    tags = ManualTags(tmp_path)
    tags.add(C.S1, "a")
    a = userdata_fingerprint(tmp_path)
    tags.add(C.S1, "b")
    b = userdata_fingerprint(tmp_path)
    assert a != b and userdata_fingerprint(tmp_path) == b


# ---------------------------------------------------------------- pieces


def test_lru_bounds_entries_and_bytes():
    lru = LRU(size=3, max_bytes=10, max_total=25)
    lru.put("big", b"x" * 11)  # over max_bytes: not kept
    assert lru.get("big") is None
    for k in "abc":
        lru.put(k, b"x" * 10)
    assert lru.get("a") is None and lru.total == 20  # 30 bytes > 25: the oldest went
    lru.get("b")  # now c is the oldest
    lru.put("d", Entry(b"y" * 5))
    assert lru.total == 25 and len(lru) == 3
    lru.put("e", b"e")  # 4 entries > 3: c goes
    assert lru.get("c") is None and lru.total == 16
    e = lru.get("d")
    e.gz = b"z" * 20
    lru.grew("d")  # d is 25 bytes now: b and e (the oldest) go
    assert lru.get("b") is None and lru.get("e") is None and lru.total == 25 and len(lru) == 1
    lru.put("d", b"q")  # replacing counts the new size only
    assert lru.total == 1
    lru.clear()
    assert lru.total == 0 and len(lru) == 0


def test_lru_drops_older_generations():
    lru = LRU(size=10, max_bytes=100)
    lru.put("a", b"1", generation=(1.0, 5, 0))
    lru.put("b", b"2", generation=(1.0, 5, 0))
    lru.put("x", b"x")  # no generation: kept until evicted
    assert len(lru) == 3
    lru.put("c", b"3", generation=(1.0, 5, 1))  # a write happened: a and b can never be asked for again
    assert lru.get("a") is None and lru.get("b") is None and lru.get("c") == b"3" and lru.get("x") == b"x"
    lru.put("late", b"4", generation=(1.0, 5, 0))  # computed before the write, stored after: not kept
    assert lru.get("late") is None and lru.total == 2
    lru.put("d", b"5", generation=(2.0, 4, 0))  # a newer snapshot
    assert lru.get("c") is None and lru.get("d") == b"5"


def test_a_refresh_frees_the_answers_of_the_old_snapshot(tmp_path):
    corpus, app = fresh_corpus_app(tmp_path)
    ctx = context_of(app.app)
    app.get(f"/api/stats?project={P}")
    assert len(ctx._caches["json"]) == 1 and len(ctx._caches["frames"]) == 1
    F.append_jsonl(corpus.claude / F.session_path(C.S2), [F.make_user("more", sessionId=C.S2, timestamp=F.at(99))])
    app.post_json("/api/refresh", {})
    app.get(f"/api/stats?project={P}")
    assert len(ctx._caches["json"]) == 1 and len(ctx._caches["frames"]) == 1


def test_entry_gzip_is_made_once():
    e = Entry(b'{"a": 1}' * 200)
    gz = e.gzipped()
    assert e.gzipped() is gz and gzip.decompress(gz) == e.body and e.nbytes == len(e.body) + len(gz)


@pytest.mark.parametrize(("header", "ok"), [
    ("gzip", True), ("gzip, deflate, br", True), ("br;q=1.0, gzip;q=0.8, *;q=0.1", True), ("GZIP", True),
    ("x-gzip", True), ("*", True), ("", False), ("identity", False), ("gzip;q=0", False), ("gzip;q=0.0", False),
    ("deflate, br", False), ("gzip;q=bad", False), ("gzipx", False),
])
def test_accepts_gzip(header, ok):
    assert accepts_gzip({"HTTP_ACCEPT_ENCODING": header} if header else {}) is ok


def test_wants_fresh():
    assert wants_fresh({"HTTP_CACHE_CONTROL": "no-cache"}) and wants_fresh({"HTTP_PRAGMA": "no-cache"})
    assert wants_fresh({"HTTP_CACHE_CONTROL": "max-age=0, No-Cache"})
    assert not wants_fresh({}) and not wants_fresh({"HTTP_CACHE_CONTROL": "max-age=60"})


def test_big_answers_go_out_through_the_file_wrapper(app, monkeypatch):
    wrapped = []

    def wrapper(f, block_size=8192):
        wrapped.append(f)
        return iter(lambda: f.read(block_size), b"")

    env = {"wsgi.file_wrapper": wrapper}
    path = f"/api/stats?project={P}"
    _s, _h, small = raw_get(app, path, **env)
    assert not wrapped  # under STREAM_MIN: sent as bytes
    monkeypatch.setattr("ccsgen.server.respcache.STREAM_MIN", 100)
    _s, headers, big = raw_get(app, path, **env)
    assert len(wrapped) == 1 and big == small and int(headers["Content-Length"]) == len(big)
    _s, headers, gz = raw_get(app, path, GZ, **env)
    assert len(wrapped) == 2 and gzip.decompress(gz) == small and int(headers["Content-Length"]) == len(gz)


def test_time_bucket_recomputes(app, corpus, monkeypatch):
    calls = counting(corpus.cat, monkeypatch)
    now = time.time()
    monkeypatch.setattr("ccsgen.server.respcache.time.time", lambda: now)
    app.get("/api/search?q=ZZBUCKETZZ")
    app.get("/api/search?q=ZZBUCKETZZ")
    monkeypatch.setattr("ccsgen.server.respcache.time.time", lambda: now + 16)
    app.get("/api/search?q=ZZBUCKETZZ")
    assert len(calls) == 2
