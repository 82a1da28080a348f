"""The ccsinfo surface (seeds/000) on the Bottle app: every route, its shape and its documented errors."""

from __future__ import annotations

import pytest
import server_corpus as C
from webtest import TestApp

from ccsgen.server import Settings, make_app

# field lists of the seed's models (seeds/ccsinfo-openapi.json)
SESSION_SUMMARY = {"id", "project_path", "project_name", "created_at", "updated_at", "message_count", "is_active"}
SESSION = SESSION_SUMMARY | {"file_path"}
PROJECT = {"id", "name", "path", "session_count", "last_activity"}
TASK = {"id", "subject", "description", "status", "owner", "blockedBy", "blocks", "activeForm", "metadata",
        "created_at", "session_id"}
GLOBAL = {"total_sessions", "total_projects", "total_messages", "total_tool_calls"}
DAILY = {"date", "session_count", "message_count"}
PROJECT_STATS = {"project_id", "project_name", "session_count", "message_count", "last_activity"}
TRENDS = {"sessions_last_7_days", "sessions_last_30_days", "messages_last_7_days", "messages_last_30_days",
          "most_active_projects", "most_used_tools", "average_session_length"}


@pytest.fixture(scope="module")
def corpus(tmp_path_factory):
    return C.build(tmp_path_factory.mktemp("ccsinfo"))


@pytest.fixture(scope="module")
def app(corpus):
    return TestApp(make_app(corpus.cat, Settings(port=None)))


def test_health_and_info(app):
    assert app.get("/health").json == {"status": "healthy"}
    info = app.get("/info").json
    assert set(info) == {"version", "total_sessions", "total_projects"}
    assert info["total_projects"] == 2


def test_sessions_list_sorted_and_limited(app):
    rows = app.get("/sessions").json
    assert all(SESSION_SUMMARY <= set(r) for r in rows)
    updated = [r["updated_at"] for r in rows if r["updated_at"]]
    assert updated == sorted(updated, reverse=True)
    assert len(app.get("/sessions?limit=1").json) == 1
    only = app.get(f"/sessions?project_id={C.OTHER}").json
    assert [r["id"] for r in only] == [C.S3]
    assert app.get("/sessions?active_only=true").json == []
    assert all(r["updated_at"].endswith("Z") for r in rows if r["updated_at"])


@pytest.mark.parametrize("query", ["limit=0", "limit=501", "limit=abc", "active_only=maybe", "limit=1.5"])
def test_sessions_validation_is_422_fastapi_shape(app, query):
    r = app.get(f"/sessions?{query}", status=422)
    detail = r.json["detail"]
    assert isinstance(detail, list) and detail
    assert {"type", "loc", "msg", "input"} <= set(detail[0])
    assert detail[0]["loc"][0] == "query"


def test_sessions_active(app):
    assert app.get("/sessions/active").json == []


def test_session_detail_prefix_and_404(app):
    d = app.get(f"/sessions/{C.S1}").json
    assert SESSION <= set(d)
    assert d["file_path"].endswith(f"{C.S1}.jsonl")
    assert d["message_count"] == 8
    # the symlink that leads out of the Claude dir is never read, so it is no session
    app.get("/sessions/evil", status=404)
    assert app.get("/sessions/nope-nope", status=404).json == {"detail": "Session not found"}
    amb = app.get("/sessions/5e551000", status=404).json  # ambiguous prefix: 404 with a message
    assert isinstance(amb["detail"], str)


def test_session_messages(app):
    msgs = app.get(f"/sessions/{C.S1}/messages").json
    assert len(msgs) == 8
    first = msgs[0]
    assert set(first) >= {"uuid", "parent_message_uuid", "timestamp", "type", "message"}
    assert first["message"]["role"] == "user"
    assert "ZZPROMPTONEZZ" in first["message"]["content"][0]["text"]
    assert all(m["type"] == "assistant" for m in app.get(f"/sessions/{C.S1}/messages?role=assistant").json)
    assert len(app.get(f"/sessions/{C.S1}/messages?limit=2").json) == 2
    app.get(f"/sessions/{C.S1}/messages?role=robot", status=422)
    app.get(f"/sessions/{C.S1}/messages?limit=0", status=422)
    assert app.get("/sessions/nope/messages", status=404).json == {"detail": "Session not found"}


def test_session_tools_tasks_progress_summary(app):
    tools = app.get(f"/sessions/{C.S1}/tools").json
    assert {t["name"] for t in tools} == {"Bash", "Read", "Grep"}
    assert all({"id", "name", "input"} <= set(t) for t in tools)
    tasks = app.get(f"/sessions/{C.S1}/tasks").json
    assert [t["id"] for t in tasks] == ["1", "2"] and all(TASK <= set(t) for t in tasks)
    prog = app.get(f"/sessions/{C.S1}/progress").json
    assert set(prog) >= {"session_id", "is_active", "last_activity", "message_count", "active_tasks"}
    assert [t["id"] for t in prog["active_tasks"]] == ["1"]
    summ = app.get(f"/sessions/{C.S1}/summary").json
    assert SESSION_SUMMARY <= set(summ)
    for sub in ("tools", "tasks", "progress", "summary"):
        assert app.get(f"/sessions/nope/{sub}", status=404).json == {"detail": "Session not found"}


def test_projects(app):
    rows = app.get("/projects").json
    assert all(PROJECT <= set(r) for r in rows)
    assert [r["id"] for r in rows] == [C.OTHER, C.PROJECT]  # most recent activity first
    p = app.get(f"/projects/{C.PROJECT}").json
    assert p["path"] == "/home/user/proj" and p["name"] == "proj"
    assert app.get("/projects/nope", status=404).json == {"detail": "Project not found"}
    ss = app.get(f"/projects/{C.PROJECT}/sessions").json
    assert C.S1 in {s["id"] for s in ss} and C.S3 not in {s["id"] for s in ss}
    assert len(app.get(f"/projects/{C.PROJECT}/sessions?limit=1").json) == 1
    app.get(f"/projects/{C.PROJECT}/sessions?limit=600", status=422)
    assert app.get(f"/projects/{C.PROJECT}/sessions/active").json == []
    st = app.get(f"/projects/{C.PROJECT}/stats").json
    assert PROJECT_STATS <= set(st) and st["project_id"] == C.PROJECT
    for sub in ("sessions", "sessions/active", "stats"):
        assert app.get(f"/projects/nope/{sub}", status=404).json == {"detail": "Project not found"}


def test_tasks(app):
    all_ = app.get("/tasks").json
    assert len(all_) == 2 and all(TASK <= set(t) for t in all_)
    assert [t["id"] for t in app.get("/tasks?status=completed").json] == ["2"]
    assert [t["id"] for t in app.get("/tasks/pending").json] == ["1"]
    assert len(app.get(f"/tasks?session_id={C.S1}").json) == 2
    bad = app.get("/tasks?status=bogus", status=400).json
    assert bad == {"detail": "Invalid status: bogus. Valid values: pending, in_progress, completed"}
    t = app.get(f"/tasks/1?session_id={C.S1}").json
    assert t["subject"] == "Write tests" and t["blockedBy"] == []
    assert app.get(f"/tasks/99?session_id={C.S1}", status=404).json == {"detail": "Task not found"}
    assert app.get("/tasks/1?session_id=nope", status=404).json == {"detail": "Session not found"}
    missing = app.get("/tasks/1", status=422).json["detail"][0]
    assert missing["type"] == "missing" and missing["loc"] == ["query", "session_id"]


def test_stats(app):
    g = app.get("/stats").json
    assert set(g) >= GLOBAL and g["total_tool_calls"] == 4
    daily = app.get("/stats/daily?days=365").json
    assert all(DAILY <= set(d) for d in daily)
    for bad in ("days=0", "days=366", "days=x"):
        app.get(f"/stats/daily?{bad}", status=422)
    tr = app.get("/stats/trends").json
    assert TRENDS <= set(tr)
    assert all({"tool", "count"} <= set(x) for x in tr["most_used_tools"])


def test_search_routes_are_503_without_the_search_service(app, corpus, monkeypatch):
    monkeypatch.setitem(corpus.cat.extensions, "services", {"search": False, "qa": False, "tags": False})
    for path in ("/search?q=x", "/search/messages?q=x", "/search/history?q=x"):
        assert app.get(path, status=503).json == {"detail": "Search service unavailable"}


def test_search_routes_validate_before_the_service(app):
    for path in ("/search", "/search/messages", "/search/history"):
        d = app.get(path, status=422).json["detail"][0]
        assert d["type"] == "missing" and d["loc"] == ["query", "q"]
        app.get(path + "?q=x&limit=0", status=422)


def test_search_routes_delegate_to_the_catalog(corpus, monkeypatch):
    cat = corpus.cat
    monkeypatch.setattr(cat, "search_sessions", lambda q, limit=50: [C.S1], raising=False)
    monkeypatch.setattr(cat, "search_messages_ccsinfo", lambda q, limit=50: [
        {"session_id": C.S1, "project_path": "/home/user/proj", "message_uuid": "u", "message_type": "user",
         "timestamp": "2026-01-10T10:00:00.000Z", "snippet": f"<mark>{q}</mark>"}], raising=False)
    monkeypatch.setattr(cat, "search_prompts", lambda q, limit=50: [
        {"project_path": "/home/user/proj", "prompt": q, "session_id": C.S1, "timestamp": None}], raising=False)
    app = TestApp(make_app(cat, Settings(port=None)))
    assert [r["id"] for r in app.get("/search?q=fix").json] == [C.S1]
    assert app.get("/search/messages?q=fix").json[0]["snippet"] == "<mark>fix</mark>"
    assert app.get("/search/history?q=fix").json[0]["prompt"] == "fix"


def test_unknown_root_path_is_json_404(app):
    assert app.get("/no/such/route", status=404).json == {"detail": "Not Found"}
    assert app.post("/sessions", status="*").status_int in (405, 415)
