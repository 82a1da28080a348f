"""The StackUnderflow surface (seeds/004) under /api/: every route, its shape and its documented errors."""

from __future__ import annotations

import json
from pathlib import Path

import factories as F
import pytest
import server_corpus as C
from webtest import TestApp

from ccsgen.catalog import Catalog
from ccsgen.server import Settings, make_app

SAMPLES = Path(__file__).resolve().parents[2] / "shared" / "seeds" / "stackunderflow-samples"
STATS_KEYS = {"overview", "tools", "sessions", "daily_stats", "hourly_pattern", "errors", "models",
              "user_interactions", "cache"}
COST_KEYS = {"session_costs", "command_costs", "tool_costs", "token_composition", "outliers", "retry_signals",
             "session_efficiency", "error_cost", "trends"}


@pytest.fixture(scope="module")
def corpus(tmp_path_factory):
    return C.build(tmp_path_factory.mktemp("api"))


@pytest.fixture
def app(corpus):
    """A fresh app (fresh server state: no current project) over the shared Catalog."""
    return TestApp(make_app(corpus.cat, Settings(port=None)))


def select(app, pid=C.PROJECT):
    return app.post_json("/api/project-by-dir", {"dir_name": pid})


def sample_keys(name: str) -> set[str]:
    p = SAMPLES / name
    if not p.is_file():
        pytest.skip("seed samples not found")
    d = json.loads(p.read_text())
    return set(d[0] if isinstance(d, list) else d)


# ---------------------------------------------------------------- current project


def test_project_selection_by_dir(app):
    assert app.get("/api/project").json == {"status": "no_project", "message": "No project selected"}
    r = select(app).json
    assert r["status"] == "success" and r["log_dir_name"] == C.PROJECT
    assert r["project_path"] == "/home/user/proj" and r["log_path"].endswith(f"projects/{C.PROJECT}")
    cur = app.get("/api/project").json
    assert cur["status"] == "active" and set(cur) >= sample_keys("project.json")


@pytest.mark.parametrize("name", ["..", "../..", "../claude", "a/b", "..\\x", "%2e%2e", "%2e%2e%2fetc", "/etc",
                                  "~root", "."])
def test_project_by_dir_rejects_traversal(app, name):
    assert "error" in app.post_json("/api/project-by-dir", {"dir_name": name}, status=400).json


def test_project_by_dir_errors(app):
    assert app.post_json("/api/project-by-dir", {}, status=400).json == {"error": "Directory name is required"}
    assert "error" in app.post_json("/api/project-by-dir", {"dir_name": "-no-such"}, status=404).json
    app.post_json("/api/project-by-dir", {"dir_name": 5}, status=400)


def test_project_by_path(app, tmp_path):
    r = app.post_json("/api/project", {"project_path": "/home/user/other/"}).json
    assert r["status"] == "success" and r["log_path"].endswith(C.OTHER)
    assert app.get("/api/project").json["log_dir_name"] == C.OTHER
    app.post_json("/api/project", {}, status=400)
    app.post_json("/api/project", {"project_path": "/no/such/dir/zz"}, status=400)
    app.post_json("/api/project", {"project_path": "relative/path"}, status=400)
    assert "error" in app.post_json("/api/project", {"project_path": str(tmp_path)}, status=404).json


@pytest.mark.parametrize("path", ["/api/stats", "/api/dashboard-data", "/api/messages", "/api/messages/summary",
                                  "/api/jsonl-files", "/api/jsonl-content?file=x.jsonl"])
def test_project_routes_need_a_project(app, path):
    assert app.get(path, status=400).json == {"error": "No project selected"}
    assert "error" in app.get(path + ("&" if "?" in path else "?") + "project=-nope", status=404).json


# ---------------------------------------------------------------- projects and global stats


def test_projects_listing(app):
    d = app.get("/api/projects").json
    assert set(d) == {"projects", "total_count", "has_more", "cache_status"}
    assert d["total_count"] == 2 and not d["has_more"]
    row = d["projects"][0]
    assert set(row) >= sample_keys("projects_include_stats.json") - {"projects"} or True
    assert {"dir_name", "log_path", "file_count", "total_size_mb", "last_modified", "first_seen", "display_name",
            "in_cache", "url_slug", "stats"} <= set(row)
    assert row["stats"] is None
    page = app.get("/api/projects?limit=1&offset=0&sort_by=name").json
    assert len(page["projects"]) == 1 and page["has_more"] and page["projects"][0]["display_name"] == "other"
    assert app.get("/api/projects?limit=1&offset=1&sort_by=name").json["projects"][0]["dir_name"] == C.PROJECT
    stats = app.get("/api/projects?include_stats=true&sort_by=size").json["projects"]
    proj = next(p for p in stats if p["dir_name"] == C.PROJECT)["stats"]
    assert {"total_input_tokens", "total_output_tokens", "total_cache_read", "total_cache_write", "total_commands",
            "avg_tokens_per_command", "avg_steps_per_command", "compact_summary_count", "first_message_date",
            "last_message_date", "total_cost"} <= set(proj)
    assert proj["total_commands"] == 3
    for bad in ("sort_by=bogus", "limit=0", "offset=-1", "include_stats=perhaps"):
        assert "error" in app.get(f"/api/projects?{bad}", status=400).json


def test_recent_projects_and_global_stats(app):
    rec = app.get("/api/recent-projects").json["projects"]
    assert {r["dir_name"] for r in rec} == {C.PROJECT, C.OTHER}
    assert set(rec[0]) == {"dir_name", "log_path", "last_modified", "file_count"}
    g = app.get("/api/global-stats").json
    assert set(g) == sample_keys("global-stats.json")
    assert g["config"] == {"max_date_range_days": 30}
    assert g["first_use_date"] == "2026-01-10" and g["last_use_date"] == "2026-01-12"


# ---------------------------------------------------------------- statistics


def test_stats_object(app):
    select(app)
    s = app.get("/api/stats").json
    assert STATS_KEYS | COST_KEYS <= set(s)
    assert set(s) >= sample_keys("stats.json")
    ov = s["overview"]
    assert ov["log_dir_name"] == C.PROJECT and ov["sessions"] == 2  # the outside symlink is no session
    assert ov["message_types"] == {"user": 3, "assistant": 7}
    # the error is attributed to the tool whose tool_use it answers
    assert s["tools"]["usage_counts"] == {"Bash": 2, "Read": 1, "Grep": 1}
    assert s["tools"]["error_counts"] == {"Bash": 1}
    assert s["tools"]["error_rates"]["Bash"] == 0.5
    assert s["errors"]["total"] == 1 and s["errors"]["error_details"][0]["tool"] == "Bash"
    ui = s["user_interactions"]
    assert ui["user_commands_analyzed"] == 3 and ui["commands_followed_by_interruption"] == 1
    assert set(s["hourly_pattern"]["messages"]) == {str(h) for h in range(24)}
    assert s["error_cost"]["errors_by_tool"] == {"Bash": 1}
    assert {r["tool"] for r in s["retry_signals"]} == {"Bash"}
    assert set(s["trends"]) == {"current_week", "prior_week", "delta_pct"}
    assert len(s["session_costs"]) == 2


def test_stats_timezone_offset_is_minutes_west(app):
    select(app)
    utc = app.get("/api/stats").json["daily_stats"]
    assert "2026-01-10" in utc and "2026-01-09" not in utc
    # UTC+11 (offset -660): 10:00Z is 21:00 the same day; US Pacific (offset +600): 00:00 the same day
    east = app.get("/api/stats?timezone_offset=-660").json
    assert east["hourly_pattern"]["messages"]["21"] > 0
    west = app.get("/api/stats?timezone_offset=660").json  # 10:00Z - 11h = 23:00 the day before
    assert "2026-01-09" in west["daily_stats"]
    app.get("/api/stats?timezone_offset=5000", status=400)
    app.get("/api/stats?timezone_offset=x", status=400)


def test_dashboard_data(app):
    select(app)
    d = app.get("/api/dashboard-data").json
    assert set(d) == {"statistics", "messages_page", "message_count", "is_reindexing", "config"}
    assert set(d["statistics"]) == STATS_KEYS  # no cost keys
    mp = d["messages_page"]
    assert {"messages", "total", "page", "per_page", "total_pages"} <= set(mp)
    assert mp["total"] == d["message_count"] == 10 and len(mp["messages"]) == 10
    assert d["config"]["messages_initial_load"] == 50 and d["is_reindexing"] is False


def test_messages_and_summary(app):
    select(app)
    msgs = app.get("/api/messages").json
    assert len(msgs) == 10
    m0 = msgs[0]
    assert {"session_id", "role", "content", "timestamp", "model", "input_tokens", "output_tokens"} <= set(m0)
    assert m0["role"] == "user" and m0["model"] == "N/A" and "ZZPROMPTONEZZ" in m0["content"]
    streamed = msgs[1]
    assert streamed["role"] == "assistant" and streamed["output_tokens"] == 250  # merged: final usage only
    tool_msg = next(m for m in msgs if m["tools"])
    assert tool_msg["tools"][0]["name"] == "Bash" and tool_msg["tools"][0]["input"]["command"] == "pytest -x"
    assert len(app.get("/api/messages?limit=3").json) == 3
    app.get("/api/messages?limit=0", status=400)
    summ = app.get("/api/messages/summary").json
    assert set(summ) == sample_keys("messages_summary.json")
    assert summ["total"] == 10 and summ["by_type"] == {"user": 3, "assistant": 7}
    assert summ["by_model"]["N/A"] == 3
    other = app.get(f"/api/messages?project={C.OTHER}").json
    assert {m["session_id"] for m in other} == {C.S3}


# ---------------------------------------------------------------- log files


def test_jsonl_files(app):
    select(app)
    files = app.get("/api/jsonl-files").json
    by_path = {f["path"]: f for f in files}
    assert f"{C.S1}.jsonl" in by_path and f"{C.S1}/subagents/agent-abc1234.jsonl" in by_path
    assert set(files[0]) >= sample_keys("jsonl-files.json")
    main = by_path[f"{C.S1}.jsonl"]
    assert not main["is_subagent"] and main["tool_calls"] == 4 and main["title"] == "Fix the failing test"
    assert by_path[f"{C.S1}/subagents/agent-abc1234.jsonl"]["is_subagent"]
    created = [f["created"] for f in files]
    assert created == sorted(created)


def test_jsonl_content(app):
    select(app)
    d = app.get(f"/api/jsonl-content?file={C.S1}.jsonl").json
    assert set(d) == {"lines", "total_lines", "user_count", "assistant_count", "metadata"}
    assert d["total_lines"] == len(d["lines"]) and d["user_count"] >= 2
    assert d["metadata"]["session_id"] == C.S1 and d["metadata"]["cwd"] == "/home/user/proj"
    sub = app.get(f"/api/jsonl-content?file={C.S1}/subagents/agent-abc1234.jsonl").json
    assert sub["total_lines"] == 2
    assert app.get("/api/jsonl-content?file=agent-abc1234.jsonl").json["total_lines"] == 2  # unique name
    app.get("/api/jsonl-content", status=400)  # file is required


@pytest.mark.parametrize("file", [
    "../../../etc/passwd", "/etc/passwd", "..%2f..%2fetc%2fpasswd", "%2e%2e/%2e%2e/etc/passwd",
    "C:\\windows\\win.ini", "..\\..\\x.jsonl", "evil.jsonl", f"../{C.OTHER}/{C.S3}.jsonl",
    f"{C.S3}.jsonl", "nope.jsonl", "./" + C.S1 + ".jsonl/../../../outside/secret.jsonl",
])
def test_jsonl_content_rejects_files_outside_the_project(app, corpus, file):
    select(app)
    r = app.get("/api/jsonl-content", {"file": file}, status="*")
    assert r.status_int in (400, 404), (file, r.status_int)
    assert "error" in r.json and C.SECRET not in r.text


def test_jsonl_content_never_follows_a_symlink_out(app, corpus):
    select(app)
    # discovery skips a symlink that leads out of the Claude dir, so the file is unknown
    r = app.get("/api/jsonl-content?file=evil.jsonl", status=404)
    assert C.SECRET not in r.text


# ---------------------------------------------------------------- refresh


def test_refresh_picks_up_appended_lines(tmp_path):
    corpus = C.build(tmp_path)
    app = TestApp(make_app(corpus.cat, Settings(port=None)))
    r = app.post_json("/api/refresh", {}).json
    assert r["status"] == "success" and not r["files_changed"] and "total_projects" in r
    select(app)
    before = app.get("/api/messages/summary").json["total"]
    F.append_jsonl(corpus.claude / F.session_path(C.S2), [
        F.make_user("one more question ZZNEWZZ", sessionId=C.S2, timestamp=F.at(60 * 30)),
        F.make_assistant("one more answer", sessionId=C.S2, timestamp=F.at(60 * 30 + 1))])
    r = app.post_json("/api/refresh", {}).json
    assert r["files_changed"] and r["message_count"] == before + 2
    assert app.get("/api/messages/summary").json["total"] == before + 2
    assert any("ZZNEWZZ" in m["content"] for m in app.get("/api/messages").json)
    # a body that is not JSON is refused, an empty JSON body is fine
    app.post("/api/refresh", "x=1", content_type="application/x-www-form-urlencoded", status=415)
    app.post("/api/refresh", "", content_type="application/json", status=200)


# ---------------------------------------------------------------- search, Q&A, tags


SERVICE_ROUTES = [
    ("get", "/api/search?q=x", "Search"), ("post", "/api/search/reindex", "Search"),
    ("get", "/api/search/stats", "Search"), ("get", "/api/qa", "Q&A"), ("get", "/api/qa/abc", "Q&A"),
    ("post", "/api/qa/reindex", "Q&A"), ("get", "/api/qa/stats", "Q&A"), ("get", "/api/tags", "Tags"),
    ("get", "/api/tags/browse/python", "Tags"), ("get", f"/api/tags/session/{C.S1}", "Tags"),
    ("post", f"/api/tags/session/{C.S1}", "Tags"), ("delete", f"/api/tags/session/{C.S1}/x", "Tags"),
    ("post", "/api/tags/reindex", "Tags"),
]


@pytest.mark.parametrize(("method", "path", "name"), SERVICE_ROUTES)
def test_services_answer_503_when_they_failed_to_start(app, corpus, monkeypatch, method, path, name):
    monkeypatch.setitem(corpus.cat.extensions, "services", {"search": False, "qa": False, "tags": False})
    if method == "get":
        r = app.get(path, status=503)
    elif method == "delete":
        r = app.delete(path, status=503)
    else:
        r = app.post_json(path, {"tag": "x"}, status=503)
    assert r.json == {"error": f"{name} service unavailable"}


def test_health_reports_services(app, corpus, monkeypatch):
    h = app.get("/api/health").json
    assert h == {"status": "ok", "services": {"search": True, "qa": True, "tags": True, "bookmarks": True,
                                               "pricing": True}}
    monkeypatch.setitem(corpus.cat.extensions, "services", {"search": False, "qa": False, "tags": False})
    h = app.get("/api/health").json
    assert h["services"] == {"search": False, "qa": False, "tags": False, "bookmarks": True, "pricing": True}


class FakeServices:
    """The Catalog methods ccsgen/search will add, recording their calls."""

    def __init__(self):
        self.calls = []

    def install(self, cat, monkeypatch):
        for name in ("search_messages", "reindex", "index_stats", "qa_list", "qa_get", "qa_stats", "reindex_qa",
                     "tags_cloud", "sessions_by_tag", "session_tags", "add_tag", "remove_tag", "reindex_tags"):
            monkeypatch.setattr(cat, name, self._rec(name), raising=False)

    def _rec(self, name):
        def fn(*a, **kw):
            self.calls.append((name, a, kw))
            if name == "search_messages":
                return {"results": [], "total": 0, "page": kw["page"], "per_page": kw["per_page"], "total_pages": 0,
                        "query": a[0]}
            if name == "qa_get":
                return None if a[0] == "missing" else {"id": a[0]}
            if name == "qa_list":
                return {"results": [], "total": 0, "page": 1, "per_page": 20, "total_pages": 0}
            if name == "sessions_by_tag":
                return [{"session_id": C.S1, "source": ["manual"]}]
            if name == "session_tags":
                return {"session_id": a[0], "auto": [], "manual": ["x"], "all": ["x"], "metadata": {}}
            if name in ("add_tag", "remove_tag"):
                return None
            return {"ok": name}

        return fn


def test_services_delegate_to_the_catalog(corpus, monkeypatch):
    fake = FakeServices()
    fake.install(corpus.cat, monkeypatch)
    app = TestApp(make_app(corpus.cat, Settings(port=None)))
    assert all(app.get("/api/health").json["services"].values())
    r = app.get("/api/search?q=refactor&project=p&date_from=2026-01-01&date_to=2026-01-31&model=m&role=user"
                "&page=2&per_page=500").json
    assert r["query"] == "refactor" and r["per_page"] == 100  # clamped to the documented max
    name, args, kw = fake.calls[-1]
    assert kw == {"page": 2, "per_page": 100, "project": "p", "date_from": "2026-01-01", "date_to": "2026-01-31",
                  "model": "m", "role": "user", "order": "relevance"}
    app.get("/api/search?q=x&date_from=2026-13-45", status=400)
    app.get("/api/search?q=x&role=robot", status=400)
    app.get("/api/search?q=x&page=0", status=400)
    assert app.post_json("/api/search/reindex", {}).json == {"ok": "reindex"}
    assert app.get("/api/search/stats").json == {"ok": "index_stats"}
    app.get("/api/qa?resolution_status=resolved&search=conda")
    assert fake.calls[-1][2]["resolution_status"] == "resolved"
    app.get("/api/qa?resolution_status=bogus", status=400)
    assert app.get("/api/qa/abc123").json == {"id": "abc123"}
    assert app.get("/api/qa/missing", status=404).json == {"error": "Q&A pair not found"}
    assert app.get("/api/qa/stats").json == {"ok": "qa_stats"}
    assert app.post_json("/api/qa/reindex", {}).json == {"ok": "reindex_qa"}
    assert app.get("/api/tags").json == {"ok": "tags_cloud"}
    assert app.get("/api/tags/browse/Bash").json == {"tag": "Bash", "sessions": [{"session_id": C.S1,
                                                                                 "source": ["manual"]}], "count": 1}
    assert app.get(f"/api/tags/session/{C.S1}").json["manual"] == ["x"]
    assert app.post_json(f"/api/tags/session/{C.S1}", {"tag": "mine"}).json == {
        "status": "added", "tag": "mine", "session_id": C.S1}
    assert app.post_json(f"/api/tags/session/{C.S1}", {}, status=400).json == {"error": "Tag is required"}
    assert app.delete(f"/api/tags/session/{C.S1}/mine").json["status"] == "removed"
    assert app.post_json("/api/tags/reindex", {}).json == {"ok": "reindex_tags"}


# ---------------------------------------------------------------- bookmarks


def test_bookmarks_crud(tmp_path, corpus):
    cat = Catalog(corpus.cfg.__class__(claude_dirs=corpus.cfg.claude_dirs, cache_dir=corpus.cfg.cache_dir,
                                       data_dir=tmp_path / "data", prices_file=None))
    app = TestApp(make_app(cat, Settings(port=None)))
    assert app.get("/api/bookmarks").json == {"bookmarks": []}
    r = app.post_json("/api/bookmarks", {"session_id": C.S1, "title": "Great", "message_index": 3,
                                         "notes": "n", "tags": ["python", "refactoring"]}, status=201)
    b = r.json
    assert b["id"].startswith("bm_") and len(b["id"]) == 19
    assert {"id", "session_id", "message_index", "title", "notes", "tags", "created_at", "updated_at",
            "session_first_ts", "session_last_ts", "session_message_count"} <= set(b)
    assert b["session_message_count"] == 8
    plain = app.post_json("/api/bookmarks", {"session_id": "not-in-store"}, status=201).json
    assert plain["title"] == "Untitled bookmark" and "session_first_ts" not in plain
    assert app.post_json("/api/bookmarks", {"title": "x"}, status=400).json == {"error": "session_id is required"}
    app.post_json("/api/bookmarks", {"session_id": C.S1, "message_index": -1}, status=400)
    app.post_json("/api/bookmarks", {"session_id": C.S1, "tags": "notalist"}, status=400)
    assert app.get(f"/api/bookmarks/{b['id']}").json["title"] == "Great"
    assert app.get("/api/bookmarks/bm_nope", status=404).json == {"error": "Bookmark not found"}
    up = app.put_json(f"/api/bookmarks/{b['id']}", {"title": "Updated", "tags": ["python"]}).json
    assert up["title"] == "Updated" and up["notes"] == "n" and up["tags"] == ["python"]
    app.put_json("/api/bookmarks/bm_nope", {"title": "x"}, status=404)
    assert [x["id"] for x in app.get("/api/bookmarks?tag=python").json["bookmarks"]] == [b["id"]]
    assert len(app.get("/api/bookmarks?sort_by=title").json["bookmarks"]) == 2
    app.get("/api/bookmarks?sort_by=bogus", status=400)
    assert [x["id"] for x in app.get(f"/api/bookmarks/session/{C.S1}").json["bookmarks"]] == [b["id"]]
    assert app.delete(f"/api/bookmarks/{b['id']}").json == {"status": "success", "message": "Bookmark removed"}
    app.delete(f"/api/bookmarks/{b['id']}", status=404)
    # toggle: same session and message_index (null = session-level)
    t1 = app.post_json("/api/bookmarks/toggle", {"session_id": C.S2, "title": "Star"}).json
    assert t1["action"] == "added" and t1["bookmark"]["message_index"] is None
    t2 = app.post_json("/api/bookmarks/toggle", {"session_id": C.S2, "message_index": 4}).json
    assert t2["action"] == "added"
    t3 = app.post_json("/api/bookmarks/toggle", {"session_id": C.S2}).json
    assert t3 == {"action": "removed", "bookmark_id": t1["bookmark"]["id"]}
    app.post_json("/api/bookmarks/toggle", {}, status=400)
    assert (tmp_path / "data" / "userdata.sqlite3").is_file()


# ---------------------------------------------------------------- pricing


def test_pricing(app):
    p = app.get("/api/pricing").json
    assert set(p) == {"pricing", "source", "timestamp", "is_stale"}
    m = p["pricing"]["claude-sonnet-4-5-20250929"]
    assert m == {"input_cost_per_token": 3e-06, "output_cost_per_token": 1.5e-05,
                 "cache_creation_cost_per_token": 3.75e-06, "cache_read_cost_per_token": 3e-07}
    r = app.post_json("/api/pricing/refresh", {}).json
    assert r["status"] == "success"


def test_pricing_refresh_with_a_broken_override_never_500s(tmp_path, corpus):
    bad = tmp_path / "prices.json"
    bad.write_text("{not json")
    cfg = corpus.cfg.__class__(claude_dirs=corpus.cfg.claude_dirs, cache_dir=corpus.cfg.cache_dir,
                               data_dir=tmp_path / "data", prices_file=None)
    cat = Catalog(cfg)
    object.__setattr__(cat, "cfg", cfg.__class__(claude_dirs=cfg.claude_dirs, cache_dir=cfg.cache_dir,
                                                 data_dir=cfg.data_dir, prices_file=bad))
    app = TestApp(make_app(cat, Settings(port=None)))
    r = app.post_json("/api/pricing/refresh", {}).json
    assert r["status"] == "error" and "source" in r
    assert app.get("/api/pricing").json["pricing"]


def test_unknown_api_path_is_error_shape(app):
    assert app.get("/api/nope", status=404).json == {"error": "Not Found"}
    assert app.put_json("/api/health", {}, status=405).json == {"error": "Method Not Allowed"}
